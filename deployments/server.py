"""A Prefect server for the UI: reach the configured one, or start one on SQLite with its home under `.demo/`.

Every failure a user meets here is one line that says what to do: a configured API that does not answer, a port
another program holds, a server that did not come up (with the log that says why).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hygiene.errors import HygieneError

HEALTH_TIMEOUT_SECONDS = 3.0
#: the first start runs the database migrations, which can take tens of seconds
STARTUP_TIMEOUT_SECONDS = 120.0


class ServerError(HygieneError):
    """The Prefect server cannot be reached or started."""


def configured_api_url() -> str | None:
    """`PREFECT_API_URL` from the environment or the active Prefect profile; None when neither sets one."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def require_reachable(api_url: str) -> None:
    """Fail with one line unless the API answers its health check; checked before anything is registered."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_SECONDS)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ServerError(
            f"the Prefect API at PREFECT_API_URL={api_url} cannot be reached ({exc.__class__.__name__}): "
            "start the server (`make ui`) or point PREFECT_API_URL at a running one"
        ) from None


def require_free_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise ServerError(
                f"port {port} on {host} is already taken: stop the program using it or pass --port"
            ) from None


def start_server(home: Path, host: str, port: int) -> subprocess.Popen[bytes]:
    """`prefect server start` in the background, its database and log under `home`; returns once it is healthy."""
    require_free_port(host, port)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home.resolve()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # the UI's pages call the API from the browser: without this they call the default port, not ours
        "PREFECT_UI_API_URL": api_url(host, port),
    }
    env.pop("PREFECT_API_URL", None)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_until_healthy(api_url(host, port), process, log)
    return process


def api_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/api"


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"the Prefect server stopped during start-up (exit {process.returncode}): see {log}")
        try:
            if httpx.get(f"{url}/health", timeout=HEALTH_TIMEOUT_SECONDS).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise ServerError(f"the Prefect server did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s: see {log}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
