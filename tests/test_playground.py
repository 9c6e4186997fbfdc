"""`hygiene playground`: the demo's world kept running, and `.demo/env` making the CLI work on it from a shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HYGIENE = str(Path(sys.executable).with_name("hygiene"))


def started(output: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The playground's JSON document, once it is written (the world is seeded and .demo/env is in place)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the playground stopped (exit {process.returncode})"
        try:
            document: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
            return document
        except json.JSONDecodeError:
            time.sleep(0.5)
    raise AssertionError("the playground did not start within 180 s")


def in_shell(cwd: Path, environ: dict[str, str], command: str) -> Any:
    """`source .demo/env`, then one hygiene command with --json, in a shell as a person would run it."""
    done = subprocess.run(
        ["bash", "-c", f". .demo/env && {HYGIENE} {command} --json"],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_source_demo_env_makes_the_cli_work_on_the_playground_and_sigint_stops_it(
    prefect_server: str, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    # nothing of the test session's own configuration: only what .demo/env sets, and the session's Prefect server
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HYGIENE_", "PREFECT_"))}
    environ |= {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "80"}
    output = tmp_path / "playground.json"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [HYGIENE, "playground", "--json"], cwd=tmp_path, env=environ, stdout=out, stderr=subprocess.PIPE
        )
    try:
        document = started(output, process)
        people = document["people"]
        assert len(people) == 3 and all("@" in p["email"] and p["systems"] for p in people)
        erasure = people[0]
        assert in_shell(tmp_path, environ, "requests") == []
        opened = in_shell(
            tmp_path,
            environ,
            f"request open --controller {erasure['controller']} --kind erasure --email {erasure['email']}",
        )
        assert [r["request"] for r in in_shell(tmp_path, environ, "requests")] == [opened["request"]]
        plan = {r["system"]: r for r in in_shell(tmp_path, environ, "run clienti C1 --dry-run")}
        assert plan["mailchimp"]["dry_run"] and sum(plan["mailchimp"]["counts"].values()) == 15
        assert plan["mailchimp"]["deleted"] == 0 and sum(plan["hubspot"]["counts"].values()) > 0
        assert (tmp_path / ".demo" / "playground" / "hygiene.db").is_file(), "the playground's own ledger"
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0 and not (tmp_path / ".demo" / "env").exists(), process.stderr.read() if process.stderr else ""
