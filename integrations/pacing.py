"""Keeping within a vendor's limits: exponential backoff on transient answers, and a client-side throttle.

Both vendors answer 429 when a limit is hit and 5xx when they are unwell; both are worth waiting out, within
bounds, and nothing else is. After the last attempt the caller turns the failure into one ConnectorError
line. HubSpot also states its limit per rolling ten seconds (100 on Free/Starter, 190 on Professional and
Enterprise): pacing calls to it beforehand costs less time than provoking and sleeping off 429s.

A throttle paces one process. When several workers call the same account, the enforcement path sets
`shared_pacer` for the duration of its vendor calls, and every throttle also waits its turn there (a Prefect
global rate limit, see tasks/limits.py), so the account's limit holds across processes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from pydantic_settings import BaseSettings
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

T = TypeVar("T")

#: statuses a vendor uses for "not now": rate limits and server trouble
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Backoff:
    """How long to keep trying a transient failure: `attempts` calls, waits doubling from `first_wait`."""

    attempts: int = 6
    first_wait: float = 0.5
    max_wait: float = 30.0

    def run(self, call: Callable[[], T], transient: Callable[[BaseException], bool]) -> T:
        """`call()`, retried while it raises a transient error; the last error is re-raised as is."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.first_wait, max=self.max_wait),
            retry=retry_if_exception(transient),
            reraise=True,
        )
        return retrying(call)


class RetrySettings(BaseSettings):
    """How long a vendor's transient failures are waited out; each vendor's settings set the env prefix."""

    retry_attempts: int = 6
    retry_first_wait: float = 0.5

    def backoff(self) -> Backoff:
        return Backoff(attempts=self.retry_attempts, first_wait=self.retry_first_wait)


class Throttle:
    """At most `calls` in any rolling `per_seconds`, shared by the threads of one connector."""

    def __init__(
        self,
        calls: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.calls = calls
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until one more call fits in the window, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.per_seconds:
                    self._sent.popleft()
                if len(self._sent) < self.calls:
                    self._sent.append(now)
                    break
                pause = self._sent[0] + self.per_seconds - now
            self._sleep(max(pause, 0.001))
        shared = shared_pacer.get()
        if shared is not None:
            shared(self)


#: while set, every throttle's call also waits here: the account's limit as all processes share it
shared_pacer: ContextVar[Callable[[Throttle], None] | None] = ContextVar("shared_pacer", default=None)


def parse_rate(text: str) -> tuple[int, float]:
    """`"100/10"` as (100 calls, 10 seconds): how a policy or the environment states a vendor's limit."""
    calls, _, seconds = text.partition("/")
    try:
        parsed = int(calls), float(seconds or "1")
    except ValueError:
        raise ValueError(f"a rate is written calls/seconds, e.g. 100/10, not {text!r}") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise ValueError(f"a rate needs at least one call per positive number of seconds, not {text!r}")
    return parsed
