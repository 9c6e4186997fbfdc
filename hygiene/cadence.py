"""When a rule runs: cron and RRule cadences in the controller's zone, and compound ones.

A compound cadence ("every third month or on the 1st of each quarter, whichever comes last", Stressfri S2) is
the latest of its parts: a fixed calendar part (a cron or an RRule) and an interval counted from the last run.
Its next run is the first fixed occurrence that is also at least one interval after the previous run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Literal
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from dateutil import rrule as recurrence
from pydantic import BaseModel, ConfigDict, field_validator

from hygiene.errors import HygieneError
from hygiene.periods import Period, PeriodError, require_aware

#: RRules are phased from a fixed local anchor, so "every third month" means the same months in every year
_RRULE_ANCHOR = datetime(2000, 1, 1)


class CadenceError(HygieneError):
    """A cadence that cannot be read or cannot keep its rule's deadline."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CronCadence(_Strict):
    kind: Literal["cron"] = "cron"
    cron: str

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            CronSim(value, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"'{value}' is not a cron expression ({exc})") from exc
        return value

    def occurrences(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        return iter(CronSim(self.cron, after.astimezone(zone)))

    def describe(self) -> str:
        return f"cron '{self.cron}'"


class RRuleCadence(_Strict):
    kind: Literal["rrule"] = "rrule"
    rrule: str

    @field_validator("rrule")
    @classmethod
    def _valid_rrule(cls, value: str) -> str:
        try:
            recurrence.rrulestr(value, dtstart=_RRULE_ANCHOR)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"'{value}' is not an RRULE ({exc})") from exc
        return value

    def _rule(self, zone: ZoneInfo) -> recurrence.rrule:
        rule = recurrence.rrulestr(self.rrule, dtstart=_RRULE_ANCHOR.replace(tzinfo=zone))
        assert isinstance(rule, recurrence.rrule)
        return rule

    def occurrences(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        return iter(self._rule(zone).xafter(after.astimezone(zone), inc=False))

    def describe(self) -> str:
        return f"rrule '{self.rrule}'"


class EveryCadence(_Strict):
    """An interval from the previous run; only meaningful inside a compound cadence."""

    kind: Literal["every"] = "every"
    every: str

    @field_validator("every")
    @classmethod
    def _valid_period(cls, value: str) -> str:
        try:
            period = Period.parse(value)
        except PeriodError as exc:
            raise ValueError(str(exc)) from exc
        if period.elapsed is not None:
            raise ValueError(f"'{value}': an interval between runs is counted in days, weeks, months or years")
        return value

    @property
    def period(self) -> Period:
        return Period.parse(self.every)

    def earliest_after(self, last_run: datetime | None, zone: ZoneInfo) -> datetime | None:
        if last_run is None:
            return None
        local = last_run.astimezone(zone)
        day = self.period.add_to_date(local.date())
        return datetime.combine(day, local.time(), tzinfo=zone)

    def describe(self) -> str:
        return f"every {self.every} after the last run"


class LatestOfCadence(_Strict):
    kind: Literal["latest_of"] = "latest_of"
    latest_of: tuple[CronCadence | RRuleCadence | EveryCadence, ...]

    @field_validator("latest_of")
    @classmethod
    def _one_fixed_part(
        cls, parts: tuple[CronCadence | RRuleCadence | EveryCadence, ...]
    ) -> tuple[CronCadence | RRuleCadence | EveryCadence, ...]:
        fixed = [p for p in parts if not isinstance(p, EveryCadence)]
        if len(fixed) != 1:
            raise ValueError("latest_of needs exactly one cron or rrule part, and any number of 'every' parts")
        return parts

    @property
    def fixed(self) -> CronCadence | RRuleCadence:
        return next(p for p in self.latest_of if not isinstance(p, EveryCadence))

    @property
    def intervals(self) -> list[EveryCadence]:
        return [p for p in self.latest_of if isinstance(p, EveryCadence)]

    def earliest_after(self, last_run: datetime | None, zone: ZoneInfo) -> datetime | None:
        """The first moment every interval part allows after `last_run`; None when nothing ran before."""
        floors = [f for f in (p.earliest_after(last_run, zone) for p in self.intervals) if f is not None]
        return max(floors, default=None)

    def next_run(self, after: datetime, last_run: datetime | None, zone: ZoneInfo) -> datetime:
        floor = max(after, self.earliest_after(last_run, zone) or after)
        # the fixed part's first occurrence at or after the interval floor ("whichever comes last")
        return next(self.fixed.occurrences(floor - timedelta(microseconds=1), zone))

    def describe(self) -> str:
        return " or ".join(p.describe() for p in self.latest_of) + ", whichever comes last"


Cadence = CronCadence | RRuleCadence | LatestOfCadence


def next_runs(cadence: Cadence, after: datetime, count: int, zone: ZoneInfo) -> list[datetime]:
    """The next `count` runs strictly after `after`, assuming each run happens when scheduled."""
    return list(islice(iterate_runs(cadence, after, zone, last_run=None), count))


def previous_run(cadence: Cadence, before: datetime, zone: ZoneInfo) -> datetime | None:
    """The last scheduled run strictly before `before` within the last 400 days (every cadence here runs yearly
    or more often), assuming each run happens when scheduled; None if there was none."""
    last = None
    for run in iterate_runs(cadence, before - timedelta(days=400), zone, last_run=None):
        if run >= before:
            return last
        last = run
    return last


def iterate_runs(cadence: Cadence, after: datetime, zone: ZoneInfo, last_run: datetime | None) -> Iterator[datetime]:
    require_aware(after, "schedule start")
    if not isinstance(cadence, LatestOfCadence):
        yield from cadence.occurrences(after, zone)
        return
    previous, cursor = last_run, after
    while True:
        run = cadence.next_run(cursor, previous, zone)
        yield run
        previous = cursor = run


def describe_delta(delta: timedelta) -> str:
    hours = round(delta.total_seconds() / 3600)
    days, hours = divmod(hours, 24)
    parts = [f"{days} days" if days else "", f"{hours} hours" if hours else ""]
    return " ".join(p for p in parts if p) or "0 hours"
