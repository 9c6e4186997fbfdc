"""A Prefect server for the UI: reach the configured one, or start one on SQLite with its home under `.demo/`.

Whoever can call a Prefect API can start any deployment with any parameters, so the server this module starts
answers only its owner: it requires an API auth string (the user's `PREFECT_SERVER_API_AUTH_STRING`, or one made
once and kept 0600 in the server home), allows cross-origin calls from the UI's own origin only, and listens on
127.0.0.1 unless told otherwise. It is a child that ends with its parent: in a session of its own (a Ctrl-C in
the terminal reaches `hygiene serve`, which stops the server after its deployments are paused) and, on Linux,
sent SIGTERM by the kernel when the parent dies, however it dies.

Every failure a user meets here is one line that says what to do: a configured API that does not answer, a port
another program holds, a server that did not come up (with the log that says why).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
from pydantic import SecretStr

from hygiene.errors import HygieneError

HEALTH_TIMEOUT_SECONDS = 3.0
#: the first start runs the database migrations, which can take tens of seconds
STARTUP_TIMEOUT_SECONDS = 120.0
#: the server's auth string in its home, made once when the user configures none
AUTH_FILE = "api-auth-string"
#: prctl(2) option: the signal the kernel sends this process when its parent dies
PR_SET_PDEATHSIG = 1


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


def auth_string(home: Path) -> tuple[SecretStr, str]:
    """The API auth string of the server started in `home` and where it is kept: the user's, or a file in `home`.

    Prefect reads it as `user:password`; the UI asks for the whole string once per browser.
    """
    from prefect.settings import PREFECT_SERVER_API_AUTH_STRING

    configured = PREFECT_SERVER_API_AUTH_STRING.value()
    if configured:
        return SecretStr(str(configured)), "PREFECT_SERVER_API_AUTH_STRING"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home / AUTH_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(f"hygiene:{secrets.token_urlsafe(32)}\n")
    mode = path.lstat().st_mode
    if not stat.S_ISREG(mode) or mode & 0o077:
        raise ServerError(f"{path} must be a file only its owner can read: `chmod 600 {path}`, or delete it")
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ServerError(f"{path} is empty: delete it and a new auth string is made")
    return SecretStr(value), str(path)


def ui_origin(host: str, port: int) -> str:
    """The origin the UI's pages are served from: the only one whose pages may call the API from a browser."""
    return f"http://{host}:{port}"


def start_server(home: Path, host: str, port: int, auth: SecretStr) -> subprocess.Popen[bytes]:
    """`prefect server start` in the background, its database and log under `home`; returns once it is healthy."""
    require_free_port(host, port)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = home / "server.log"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home.resolve()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_API_AUTH_STRING": auth.get_secret_value(),
        "PREFECT_API_AUTH_STRING": auth.get_secret_value(),
        "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": ui_origin(host, port),
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
            start_new_session=True,
            preexec_fn=end_with(os.getpid()),
        )
    try:
        wait_until_healthy(api_url(host, port), process, log)
    except BaseException:  # a Ctrl-C or a server that never answered: leave no server behind
        stop_server(process)
        raise
    return process


def end_with(parent: int) -> Callable[[], None] | None:
    """What the child runs before exec so that the kernel ends it when `parent` dies (Linux), even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


@contextmanager
def client_of(url: str, auth: SecretStr) -> Iterator[None]:
    """Point this process's Prefect client, and every flow run process it starts, at `url` with `auth`."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_API_AUTH_STRING: auth.get_secret_value()}):
        yield


@contextmanager
def authenticated_temporary_server() -> Iterator[None]:
    """Without a configured server, Prefect starts a temporary one for this process: make it require a fresh
    auth string, known to this process's client only, so nothing else on the machine can drive it meanwhile."""
    if configured_api_url() is not None:
        yield
        return
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_SERVER_API_AUTH_STRING, temporary_settings

    secret = f"hygiene:{secrets.token_urlsafe(32)}"
    with temporary_settings(updates={PREFECT_SERVER_API_AUTH_STRING: secret, PREFECT_API_AUTH_STRING: secret}):
        yield


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
    raise ServerError(f"the Prefect server did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s: see {log}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """End the server and anything it started (its session's process group), waiting for it to exit."""
    signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait()


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
