"""A real run never plans past now, takes no approval through the API, fails in one line and leaves no server.

`--as-of` later than now is for dry runs: `hygiene run` refuses it in one line before Prefect starts, and the
flows refuse it themselves (a run created through the API never passes the CLI). A failed run prints one
`error:` line and no traceback, and Prefect's log of it keeps one line too. SIGTERM of `hygiene run` stops the
temporary Prefect server it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hygiene.guards import CLOCK_SKEW, GuardWeakened, refuse_weakened_guards
from hygiene.ledger import Ledger
from reliability.served_api import alive, descendants
from sandbox.seed_files import FolderManifest, calmo_folder
from tests.cli_runner import run_cli

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FUTURE = "2099-01-01T00:00:00+00:00"


@pytest.fixture
def drive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FolderManifest:
    """Calmo's drive seeded as of today, so that some logbooks are still inside their one-year minimum."""
    manifest = calmo_folder(tmp_path / "drive", seed=5, now=datetime.now(UTC), invoices=6, logbooks=10)
    monkeypatch.setenv("HYGIENE_CALMO_INVOICES", str(manifest.root / "fakturaer"))
    monkeypatch.setenv("HYGIENE_CALMO_LOGBOOKS", str(manifest.root / "klientlogboeger"))
    return manifest


def left(drive: FolderManifest) -> set[str]:
    return {f.relative for f in drive.files if (drive.root / f.relative).exists()}


def test_a_deleting_run_may_plan_a_clock_skew_ahead_of_now_and_no_further() -> None:
    refuse_weakened_guards(as_of=NOW + CLOCK_SKEW, now=NOW, dry_run=False, approved=False, through_api=False)
    with pytest.raises(GuardWeakened, match=r"later than now.*dry runs only"):
        refuse_weakened_guards(
            as_of=NOW + CLOCK_SKEW + timedelta(seconds=1), now=NOW, dry_run=False, approved=False, through_api=False
        )
    refuse_weakened_guards(as_of=NOW + timedelta(days=9999), now=NOW, dry_run=True, approved=True, through_api=True)


def test_an_approval_is_taken_from_the_command_line_never_through_the_api() -> None:
    refuse_weakened_guards(as_of=None, now=NOW, dry_run=False, approved=True, through_api=False)
    with pytest.raises(GuardWeakened, match="approved=true is refused"):
        refuse_weakened_guards(as_of=None, now=NOW, dry_run=False, approved=True, through_api=True)


@pytest.mark.parametrize("as_of", [FUTURE, "2099-01-01"])
def test_run_with_a_future_as_of_is_one_line_and_deletes_nothing(
    as_of: str,
    drive: FolderManifest,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = left(drive)
    result = run_cli(capsys, monkeypatch, "run", "calmo", "K2", "--as-of", as_of, "--approve")
    [line] = result.err.splitlines()
    assert result.code == 1 and line.startswith("error: --as-of")
    assert "Traceback" not in result.err
    assert left(drive) == before
    assert Ledger(database_url).last_seq() == 0, "refused before any run was recorded"


@pytest.mark.usefixtures("prefect_server")
def test_a_dry_run_may_plan_as_of_a_future_moment(
    drive: FolderManifest, database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = left(drive)
    result = run_cli(capsys, monkeypatch, "run", "calmo", "K2", "--as-of", FUTURE, "--dry-run", "--json")
    assert result.code == 0, result.err
    [planned] = result.json()
    assert planned["counts"]["due"] + planned["counts"]["overdue"] == len(drive.of_kind("logbook"))
    assert left(drive) == before


@pytest.mark.usefixtures("prefect_server")
def test_the_flows_refuse_a_future_as_of_themselves(drive: FolderManifest, database_url: str) -> None:
    from flows.enforce import enforce_rule
    from flows.review import review_rule

    before = left(drive)
    with pytest.raises(GuardWeakened):
        enforce_rule("calmo", "K2", as_of=datetime.fromisoformat(FUTURE), approved=True, pause_for_approval=False)
    with pytest.raises(GuardWeakened):
        review_rule("clienti", "C2", as_of=datetime.fromisoformat(FUTURE))
    assert left(drive) == before


def hygiene(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    inherited = ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING")
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO",
        "COLUMNS": "200",
    }
    return env


def test_a_failed_run_prints_one_error_line_and_logs_one_line_in_prefect(
    prefect_server: str, drive: FolderManifest, database_url: str, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL

    env = subprocess_env(tmp_path) | {"PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env.pop("HYGIENE_KEY_CALMO")
    run = hygiene("run", "calmo", "K2", env=env, cwd=tmp_path)
    out, err = run.communicate(timeout=240)
    assert run.returncode == 1
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        "error: no pseudonym key for controller 'calmo': set HYGIENE_KEY_CALMO (or add it to HYGIENE_CONTROLLER_KEYS)"
    ]
    assert "Traceback" not in out + err
    name = next(line for line in err.splitlines() if "Beginning flow run" in line).split("'")[1]
    with get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
    failure = [log.message for log in logs if "MissingSecretKey" in log.message]
    assert failure and all("\n" not in message for message in failure)
    assert not [log for log in logs if "Traceback" in log.message]


def test_sigterm_of_a_run_stops_its_temporary_prefect_server(
    prefect_server: str, drive: FolderManifest, database_url: str, tmp_path: Path
) -> None:
    env = subprocess_env(tmp_path) | {"PREFECT_API_DATABASE_CONNECTION_URL": prefect_server}
    run = hygiene("run", "calmo", "K2", "--dry-run", env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not (servers := descendants(run.pid)) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert servers, "hygiene run started Prefect's temporary server"
    time.sleep(1)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in out + err
    deadline = time.monotonic() + 10
    while [pid for pid in servers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in servers if alive(pid)], "the temporary server outlived hygiene run"
