"""Shared state of the sandbox: one settable clock, per-endpoint call counts, and injected faults.

Every emulator reads time from the clock (so "5 days after the unsubscribe" is testable), counts each call it
serves, and asks the fault plan before serving, so a test can stage a 429 storm or a 5xx burst for a vendor.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
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


class CallStats:
    """Counts calls per vendor and endpoint template (e.g. `POST /lists/{list_id}/members`)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._units: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, vendor: str, endpoint: str, units: int = 0) -> None:
        with self._lock:
            self._counts[(vendor, endpoint)] += 1
            if units:
                self._units[vendor] += units

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (vendor, endpoint), n in sorted(self._counts.items()):
                out.setdefault(vendor, {})[endpoint] = n
            for vendor, units in self._units.items():
                out.setdefault(vendor, {})["quota_units"] = units
            return out

    def total(self, vendor: str) -> int:
        with self._lock:
            return sum(n for (v, _), n in self._counts.items() if v == vendor)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._units.clear()


@dataclass
class Fault:
    """A fault staged for a vendor: answer `status` to the next `remaining` calls, or delay them."""

    status: int = 0
    remaining: int = 0
    delay_seconds: float = 0.0
    path_contains: str = ""


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
        return chosen if chosen.status else None


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
