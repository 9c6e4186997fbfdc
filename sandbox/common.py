"""Helpers the emulators share, kept vendor-neutral: a vendor error, the guard every served call passes
(call stats, staged faults, auth, rate limits), rate limiters read from the sandbox clock, and an in-process
ASGI call for vendors whose batch endpoints replay operations against their own API.

Each vendor supplies a `VendorPolicy` that knows its auth scheme, its limits and its error shape; the guard
only sequences them, so adding a vendor never means copying the plumbing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Scope

from sandbox.state import Answer, Fault, SandboxState

#: An ASGI scope key set only by `call_in_process`: a vendor replaying its own batch operations is not a new
#: API call (no stats, faults, auth or limits), just as the vendor's batch workers are not API clients.
INTERNAL_SCOPE_KEY = "sandbox.internal"


class VendorError(Exception):
    """An error answer in vendor-neutral form; the vendor's policy renders it in the vendor's own shape."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class VendorPolicy(Protocol):
    """What the guard asks a vendor: who is calling, may they call now, and how errors look."""

    vendor: str

    def authenticate(self, request: Request) -> None:
        """Raise a 401 `VendorError` unless the request carries the accepted credential."""

    def admit(self, request: Request) -> AbstractContextManager[dict[str, str]]:
        """Hold the call's share of the rate limits while it is served; yield headers to add to the answer.

        Raises a 429 `VendorError` when a limit is exhausted. Only entered when the sandbox enforces limits.
        """

    def fault_error(self, status: int) -> VendorError:
        """The error the vendor would send with this status (for staged faults)."""

    def render(self, error: VendorError, request: Request) -> Response:
        """The vendor's error response."""


def route_template(app: FastAPI, scope: Scope) -> str:
    """The path template the call matches (e.g. `/lists/{list_id}/members`), or its raw path if none."""
    partial: str | None = None
    for route in app.router.routes:
        match, _ = route.matches(scope)
        path = getattr(route, "path", None)
        if match is Match.FULL and path:
            return str(path)
        if match is Match.PARTIAL and path and partial is None:
            partial = str(path)
    return partial or str(scope["path"])


def install_guard(app: FastAPI, policy: VendorPolicy, state: SandboxState) -> None:
    """Route every call through: stats, auth, limits (when enforced), staged faults, then the handler.

    Faults are taken while the call holds its connection slot, so a staged delay behaves like a slow vendor
    that keeps the connection open.
    """

    async def handle_vendor_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VendorError)
        return policy.render(exc, request)

    app.add_exception_handler(VendorError, handle_vendor_error)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.scope.get(INTERNAL_SCOPE_KEY):
            batch_fault = await run_in_threadpool(state.faults.take, f"{policy.vendor}/batch", request.url.path)
            if batch_fault is not None:
                return policy.render(policy.fault_error(batch_fault.status or 500), request)
            return await call_next(request)
        endpoint = f"{request.method} {route_template(app, request.scope)}"
        arrived = state.clock.now()
        state.stats.count(policy.vendor, endpoint)
        try:
            policy.authenticate(request)
            limits = policy.admit(request) if state.enforce_rate_limits else nullcontext({})
            with limits as headers:
                fault = await run_in_threadpool(state.faults.take, policy.vendor, request.url.path)
                if fault is not None and fault.replaces_answer:
                    return staged_answer(fault)
                if fault is not None:
                    raise policy.fault_error(fault.status)
                response = await call_next(request)
        except VendorError as error:
            response = policy.render(error, request)
        else:
            response.headers.update(headers)
        state.stats.answered(Answer(policy.vendor, endpoint, arrived, response.status_code))
        return response


def staged_answer(fault: Fault) -> Response:
    """What a fault sends instead of the vendor's answer: a dropped connection, or its bytes exactly as staged."""
    if fault.drop:
        return DroppedConnection()
    return Response(fault.body, status_code=fault.status or 200, media_type=fault.content_type)


class DroppedConnection(Response):
    """Sends the status line and headers, then stops: the server closes a connection whose answer never came."""

    def __init__(self) -> None:
        super().__init__(content=b"{}", status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})


class SlidingWindow:
    """At most `limit` calls in any rolling `window` of sandbox-clock time."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._hits: deque[datetime] = deque()
        self._lock = threading.Lock()

    def acquire(self, now: datetime) -> int | None:
        """Record a call and return how many remain in the window, or None (recording nothing) when full."""
        with self._lock:
            # keep only hits inside the window; hits "after" now are dropped too, as the clock may be set back
            self._hits = deque(hit for hit in self._hits if now - self.window < hit <= now)
            if len(self._hits) >= self.limit:
                return None
            self._hits.append(now)
            return self.limit - len(self._hits)


class DailyCounter:
    """At most `limit` calls per calendar day (UTC) of the sandbox clock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._day: date | None = None
        self._used = 0
        self._lock = threading.Lock()

    def acquire(self, now: datetime) -> int | None:
        with self._lock:
            if self._day != now.date():
                self._day, self._used = now.date(), 0
            if self._used >= self.limit:
                return None
            self._used += 1
            return self.limit - self._used


class ConcurrencyGate:
    """At most `limit` calls in flight per key (Mailchimp counts simultaneous connections per API key)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def try_enter(self, key: str) -> bool:
        with self._lock:
            if self._in_flight.get(key, 0) >= self.limit:
                return False
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            return True

    def leave(self, key: str) -> None:
        with self._lock:
            self._in_flight[key] -= 1


def call_in_process(app: FastAPI, method: str, path: str, params: Mapping[str, Any], body: bytes) -> tuple[int, bytes]:
    """Serve one call through `app` without HTTP, marked internal so the guard lets it straight through.

    Runs its own event loop, so call it from a worker thread, never from a running loop.
    """
    return asyncio.run(_asgi_call(app, method, path, params, body))


async def _asgi_call(app: FastAPI, method: str, path: str, params: Mapping[str, Any], body: bytes) -> tuple[int, bytes]:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": urlencode({k: _query_value(v) for k, v in params.items()}).encode(),
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        INTERNAL_SCOPE_KEY: True,
    }
    request_messages: Iterator[Message] = iter([{"type": "http.request", "body": body, "more_body": False}])
    status = 500
    chunks: list[bytes] = []

    async def receive() -> Message:
        return next(request_messages, {"type": "http.disconnect"})

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when it is missing, malformed or not an object."""
    raw = await request.body()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
