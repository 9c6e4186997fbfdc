"""Shared state of the sandbox: one settable clock, per-endpoint call counts, and injected faults.

Every emulator reads time from the clock (so "5 days after the unsubscribe" is testable), counts each call it
serves, and asks the fault plan before serving, so a test can stage a 429 storm or a 5xx burst for a vendor.
Each answer is also logged with its arrival time and status, so a benchmark can show that calls per window
stayed within a vendor's limit and that no 429 was answered.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class SandboxClock:
    """A clock that starts at the real time and can be set or advanced by tests and by `/_sandbox/clock`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        if start is not None:
            self.set(start)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("sandbox clock: the time must carry a UTC offset")
        with self._lock:
            self._offset = moment - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


#: answers kept in the call log; older ones drop off, so a long benchmark cannot exhaust memory
CALL_LOG_SIZE = 200_000


@dataclass(frozen=True, slots=True)
class Answer:
    """One call as the vendor saw it: when it arrived (sandbox clock), where, and the status it got."""

    vendor: str
    endpoint: str
    arrived: datetime
    status: int


class CallStats:
    """Counts calls per vendor and endpoint template (e.g. `POST /lists/{list_id}/members`) and error statuses
    per vendor (`answered 429`), and logs every answer."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._units: Counter[str] = Counter()
        self._errors: Counter[tuple[str, int]] = Counter()
        self._answers: deque[Answer] = deque(maxlen=CALL_LOG_SIZE)
        self._lock = threading.Lock()

    def count(self, vendor: str, endpoint: str, units: int = 0) -> None:
        with self._lock:
            self._counts[(vendor, endpoint)] += 1
            if units:
                self._units[vendor] += units

    def answered(self, answer: Answer) -> None:
        with self._lock:
            self._answers.append(answer)
            if answer.status >= 400:
                self._errors[(answer.vendor, answer.status)] += 1

    def answers(self, vendor: str) -> list[Answer]:
        with self._lock:
            return [answer for answer in self._answers if answer.vendor == vendor]

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (vendor, endpoint), n in sorted(self._counts.items()):
                out.setdefault(vendor, {})[endpoint] = n
            for vendor, units in self._units.items():
                out.setdefault(vendor, {})["quota_units"] = units
            for (vendor, status), n in sorted(self._errors.items()):
                out.setdefault(vendor, {})[f"answered {status}"] = n
            return out

    def total(self, vendor: str) -> int:
        with self._lock:
            return sum(n for (v, _), n in self._counts.items() if v == vendor)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._units.clear()
            self._errors.clear()
            self._answers.clear()


@dataclass
class Fault:
    """A fault staged for a vendor: answer `status` to the next `remaining` calls, delay them, or drop them.

    `drop` cuts the connection after the status line, as a vendor's load balancer does when it resets: the
    client sees a truncated answer, not an HTTP error. `body` replaces the vendor's answer with these bytes,
    sent with `status` (200 when unset) and `content_type`, as a proxy or a broken vendor release answers:
    a truncated page, an HTML error page, JSON of the wrong shape. Staged under `<vendor>/batch` (e.g.
    `mailchimp/batch`), a fault hits the operations a vendor's batch runs in the background instead of the
    API calls.
    """

    status: int = 0
    remaining: int = 0
    delay_seconds: float = 0.0
    path_contains: str = ""
    drop: bool = False
    body: bytes | None = None
    content_type: str = "application/json"

    @property
    def replaces_answer(self) -> bool:
        """Whether the client gets something other than the vendor's own error shape for `status`."""
        return self.drop or self.body is not None


@dataclass
class FaultPlan:
    """Faults staged per vendor; consumed call by call so a burst ends by itself."""

    faults: dict[str, list[Fault]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stage(self, vendor: str, fault: Fault) -> None:
        with self._lock:
            self.faults.setdefault(vendor, []).append(fault)

    def clear(self, vendor: str | None = None) -> None:
        with self._lock:
            if vendor is None:
                self.faults.clear()
            else:
                self.faults.pop(vendor, None)

    def take(self, vendor: str, path: str) -> Fault | None:
        """The fault that applies to this call, if any; delays are slept here so every emulator gets them."""
        with self._lock:
            for fault in self.faults.get(vendor, []):
                if fault.remaining > 0 and fault.path_contains in path:
                    fault.remaining -= 1
                    chosen = fault
                    break
            else:
                return None
            self.faults[vendor] = [f for f in self.faults[vendor] if f.remaining > 0]
        if chosen.delay_seconds:
            time.sleep(chosen.delay_seconds)
        return chosen if chosen.status or chosen.replaces_answer else None


@dataclass
class SandboxState:
    """Everything the emulators share; one instance per served sandbox."""

    clock: SandboxClock = field(default_factory=SandboxClock)
    stats: CallStats = field(default_factory=CallStats)
    faults: FaultPlan = field(default_factory=FaultPlan)
    #: when False the emulators do not enforce rate limits (fast functional tests); benchmarks turn it on
    enforce_rate_limits: bool = True
    #: a vendor's plan tier where its documented limits depend on it, e.g. {"hubspot": "professional"}
    limit_tiers: dict[str, str] = field(default_factory=dict)
    #: each emulator's in-memory data by vendor, for in-process inspection of effects no API shows
    #: (e.g. HubSpot's GDPR blocklist)
    stores: dict[str, Any] = field(default_factory=dict)
