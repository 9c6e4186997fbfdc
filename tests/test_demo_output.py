"""The demo's output, as a newcomer reads it: no traceback and no failed telemetry call (marked slow: the demo
runs for minutes on a loaded machine; `make reliability` runs it).

The environment leaves Prefect's analytics settings unset, so the project's own settings must turn them off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_demo_prints_no_traceback_and_sends_no_telemetry(tmp_path: Path) -> None:
    unset = ("PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK", "PREFECT_API_URL", "HYGIENE_DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("HYGIENE_KEY_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "chain verified" in done.stdout
    assert "Traceback" not in output, output[output.index("Traceback") - 2000 :][:6000]
    assert "telemetry" not in output.lower()
