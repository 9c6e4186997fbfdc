"""The served Prefect API as an attacker on the machine meets it, and runs that must not delete early.

A real `hygiene serve` subprocess (its own Prefect server, every policy's deployments) on a free port, over plain
HTTP as anyone who found the port would call it: unauthenticated or wrongly authenticated calls, and browser
preflights from a foreign origin, must all be refused. Then runs that ask to delete early: through the API (a
deployment's run with `as_of` in 2099 and `approved: true`, each alone and both) and through the CLI (`--as-of`
later than now, with `--approve`). Every one must be refused and delete nothing, not even what is due.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from deployments.generate import specs_from
from deployments.serve import ready
from deployments.server import AUTH_FILE
from hygiene.locations import policies_dir
from sandbox.runner import free_port
from sandbox.seed_files import FolderManifest, calmo_folder

FUTURE = "2099-01-01T00:00:00+00:00"
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
STARTUP_SECONDS = 240.0
RUN_SECONDS = 240.0
#: what an attacker tries without the auth string: reads, a run of a deployment, and the admin surface
UNAUTHENTICATED_CALLS: tuple[tuple[str, str, dict[str, str] | None], ...] = (
    ("POST", "/flow_runs/filter", {}),
    ("POST", "/deployments/filter", {}),
    ("POST", "/logs/filter", {}),
    ("POST", "/artifacts/filter", {}),
    ("GET", "/admin/settings", None),
    ("POST", "/variables/", {"name": "x", "value": "y"}),
)


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`, from /proc (children first found by their parent's pid)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Served:
    """A running `hygiene serve`: its process, API, auth string and the Calmo drive it enforces on."""

    process: subprocess.Popen[str]
    workdir: Path
    port: int
    drive: FolderManifest

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_file(self) -> Path:
        return self.workdir / ".demo" / "prefect" / AUTH_FILE

    def client(self) -> httpx.Client:
        user, _, password = self.auth_file.read_text(encoding="utf-8").strip().partition(":")
        return httpx.Client(base_url=self.api, auth=(user, password), timeout=30)

    def run_deployment(self, ref: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Create a run of Calmo's `ref` deployment through the API and wait for its final state."""
        [spec] = [s for s in specs_from(policies_dir()) if s.controller == "calmo" and s.rule_ref == ref]
        with self.client() as api:
            deployment = api.get(f"/deployments/name/enforce-rule/{spec.name}").raise_for_status().json()
            run = api.post(f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": parameters})
            run_id = run.raise_for_status().json()["id"]
            deadline = time.monotonic() + RUN_SECONDS
            while time.monotonic() < deadline:
                state = api.get(f"/flow_runs/{run_id}").raise_for_status().json()["state"]
                if state and state["type"] in FINAL_STATES:
                    return dict(state)
                time.sleep(1)
        raise TimeoutError(f"flow run {run_id} did not finish within {RUN_SECONDS:.0f} s")

    def output(self) -> str:
        return (self.workdir / "serve.log").read_text(encoding="utf-8", errors="replace")

    def stop(self, signum: int = signal.SIGINT, within: float = 60.0) -> int:
        """Send `signum` and wait; returns the exit code (or raises after `within` seconds, killing it)."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def serve_env(workdir: Path, drive: FolderManifest, prefect_database: str | None) -> dict[str, str]:
    """The environment of a `hygiene serve` on its own: no configured API, its ledger and Calmo's drive."""
    inherited = ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING")
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env.update(
        {
            "PREFECT_HOME": str(workdir / "prefect-client"),
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO",
            "HYGIENE_DATABASE_URL": f"sqlite:///{workdir}/hygiene.db",
            "HYGIENE_CALMO_INVOICES": str(drive.root / "fakturaer"),
            "HYGIENE_CALMO_LOGBOOKS": str(drive.root / "klientlogboeger"),
            "COLUMNS": "200",
        }
    )
    if prefect_database is not None:  # an already migrated database: the server starts in seconds, not a minute
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database
    return env


@contextmanager
def served(workdir: Path, prefect_database: str | None = None) -> Iterator[Served]:
    """`hygiene serve` on a free port in `workdir`, once every deployment is registered; killed if left running."""
    workdir.mkdir(parents=True, exist_ok=True)
    drive = calmo_folder(workdir / "drive", seed=11, now=datetime.now(UTC), invoices=8, logbooks=12)
    port = free_port()
    started = datetime.now(UTC)
    env = serve_env(workdir, drive, prefect_database)
    # only what this environment configures is served (Calmo's drive): the rest is refused, one line each
    servable, _ = ready(specs_from(policies_dir()), policies_dir(), env)
    with (workdir / "serve.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=hear_ctrl_c,
        )
    server = Served(process, workdir, port, drive)
    try:
        wait_for_deployments(server, len(servable), started)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def hear_ctrl_c() -> None:
    """A process started in the background inherits SIGINT ignored; Ctrl-C is what the campaign sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_deployments(server: Served, count: int, since: datetime) -> None:
    """Until this process registered every deployment (the database may hold them from an earlier one)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"hygiene serve exited {server.process.returncode}: {server.output()[-2000:]}")
        if server.auth_file.exists():
            try:
                with server.client() as api:
                    deployments = api.post("/deployments/filter", json={}).json()
                if sum(datetime.fromisoformat(d["updated"]) >= since for d in deployments) >= count:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(1)
    raise TimeoutError(f"hygiene serve did not register {count} deployments: {server.output()[-2000:]}")


def refused(server: Served) -> tuple[int, int]:
    """(refused, tried): calls without the auth string, with a wrong one, and preflights from a foreign origin."""
    outcomes: list[bool] = []
    with httpx.Client(base_url=server.api, timeout=30) as anonymous:
        for method, path, body in UNAUTHENTICATED_CALLS:
            outcomes.append(anonymous.request(method, path, json=body).status_code == 401)
            wrong = anonymous.request(method, path, json=body, auth=("hygiene", "guessed"))
            outcomes.append(wrong.status_code == 401)
            preflight = anonymous.options(
                path, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": method}
            )
            outcomes.append("access-control-allow-origin" not in preflight.headers)
    return sum(outcomes), len(outcomes)


def files_left(drive: FolderManifest) -> set[str]:
    return {f.relative for f in drive.files if (drive.root / f.relative).exists()}


def hygiene_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli.main", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_SECONDS)


@dataclass
class ServedApiResult:
    refused: int
    tried: int
    early_runs: int
    early_deletions: int
    traceback_on_stop: bool


def served_api_campaign(scratch: Path) -> ServedApiResult:
    """Attack a fresh `hygiene serve` and try every early deletion through the API and the CLI."""
    workdir = scratch / "served-api"
    with served(workdir) as server:
        done, tried = refused(server)
        before = files_left(server.drive)
        soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        api_runs: list[dict[str, Any]] = [
            {"as_of": FUTURE, "approved": True},
            {"as_of": FUTURE},
            {"approved": True},
            {"as_of": soon},
        ]
        states = [server.run_deployment(ref, params) for ref in ("K1", "K2") for params in api_runs]
        env = serve_env(workdir, server.drive, None) | {"PREFECT_API_URL": server.api}
        env["PREFECT_API_AUTH_STRING"] = server.auth_file.read_text(encoding="utf-8").strip()
        cli_runs = [
            hygiene_cli("run", "calmo", ref, "--as-of", as_of, *approve, env=env, cwd=workdir)
            for ref in ("K1", "K2")
            for as_of in (FUTURE, soon)
            for approve in ((), ("--approve",))
        ]
        early = sum(state["type"] != "FAILED" for state in states) + sum(run.returncode != 1 for run in cli_runs)
        deleted = len(before - files_left(server.drive))
        server.stop(signal.SIGINT)
        traceback = "Traceback" in server.output()
    return ServedApiResult(done, tried, early, deleted, traceback)
