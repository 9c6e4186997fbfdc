"""A scale-out Prefect setup on this machine, for the benchmark and its test: a Prefect server on PostgreSQL and
process workers on one work pool, each a subprocess in a session of its own (a worker starts a process per
flow run), all ended when the block exits, whatever happened inside it.

It is the setup the README's "Scaling out" describes, run with the same commands a user types.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from hygiene.errors import HygieneError
from sandbox.runner import free_port

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "hygiene-scale"
#: quiet, quick to poll, no telemetry: what every Prefect process of the cluster shares
PREFECT_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


class ClusterError(HygieneError):
    """The cluster could not be set up; one line saying what to do."""


@dataclass(frozen=True)
class Cluster:
    api_url: str
    pool: str
    #: the environment a client of this cluster needs (PREFECT_API_URL and the quiet settings)
    env: Mapping[str, str]


def wait_for_api(api_url: str, timeout: float) -> None:
    """Return once the Prefect API answers its health check, or say in one line that it does not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{api_url}/health", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the Prefect API at {api_url} is not answering: start it with `prefect server start` "
                    "or set PREFECT_API_URL to a running server"
                ) from None
            time.sleep(0.25)


@contextmanager
def prefect_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the Prefect server (asyncpg URL), dropped afterwards."""
    name = f"hygiene_prefect_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextmanager
def process(args: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess in its own session, its output in `log`; the whole session is ended on exit."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield child
        finally:
            stop(child)


def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's session (its flow-run processes too), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def running_cluster(workers: int = 2, worker_env: Mapping[str, str] | None = None) -> Iterator[Cluster]:
    """Server on a fresh PostgreSQL database, a process work pool, and `workers` workers polling it."""
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hygiene-prefect-")))
        database = stack.enter_context(prefect_database())
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        server_env = {**PREFECT_ENV, "PREFECT_HOME": str(home), "PREFECT_API_DATABASE_CONNECTION_URL": database}
        serve = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        stack.enter_context(process(serve, server_env, home / "server.log"))
        wait_for_api(api_url, timeout=120)
        client_env = {**PREFECT_ENV, "PREFECT_HOME": str(home), "PREFECT_API_URL": api_url}
        create = [PREFECT, "work-pool", "create", POOL, "--type", "process", "--overwrite"]
        subprocess.run(create, env={**os.environ, **client_env}, check=True, capture_output=True)
        for number in range(workers):
            start = [PREFECT, "worker", "start", "--pool", POOL, "--name", f"worker-{number + 1}"]
            stack.enter_context(process(start, {**client_env, **(worker_env or {})}, home / f"worker-{number}.log"))
        yield Cluster(api_url, POOL, client_env)
