"""Serve the sandbox over real HTTP on loopback, in a background thread (tests, bench, demo) or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from sandbox.server import create_app
from sandbox.state import SandboxState


@dataclass
class RunningSandbox:
    base_url: str
    state: SandboxState

    @property
    def mailchimp_host(self) -> str:
        return f"{self.base_url}/mailchimp/3.0"

    @property
    def hubspot_host(self) -> str:
        return f"{self.base_url}/hubspot"

    @property
    def gmail_endpoint(self) -> str:
        return f"{self.base_url}/gmail/"


class StagedDropFilter(logging.Filter):
    """A staged dropped connection is an answer cut short on purpose; uvicorn would log each one as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("ASGI callable returned without completing response")


logging.getLogger("uvicorn.error").addFilter(StagedDropFilter())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_sandbox(state: SandboxState | None = None, port: int | None = None) -> Iterator[RunningSandbox]:
    state = state or SandboxState()
    port = port or free_port()
    config = uvicorn.Config(
        create_app(state),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        limit_concurrency=200,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sandbox", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base_url}/_sandbox/info", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        server.should_exit = True
        raise RuntimeError(f"sandbox did not start on port {port}")
    try:
        yield RunningSandbox(base_url=base_url, state=state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
