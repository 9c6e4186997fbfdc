"""Calendar periods counted the way the law counts them (Regulation (EEC, Euratom) No 1182/71).

A period of N days, weeks, months or years that runs from an event does not count the day of the event
(Art. 3(1)) and expires with the last hour of the day that bears the same date N units later (Art. 3(2)); if
that date does not exist in the last month, it expires with the last day of that month. So every period here is
counted in local calendar dates of the controller's time zone and expires at 23:59:59 local time: a period
never stretches or shrinks by an hour because a DST change falls inside it.

A period expressed in hours is the exception (Art. 3(1), first subparagraph: it starts at the beginning of the
hour after the event, and Art. 3(2)(a) ends it with the last of its hours): it is elapsed time, so 72 hours are
72 hours of the clock whatever DST does meanwhile, and such a period is never mixed with calendar units.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hygiene.errors import HygieneError


class PeriodError(HygieneError):
    """A period written in a policy that is not of the form `N unit (+ N unit)*`."""


class Unit(StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


_UNIT_ALIASES = {
    "hour": Unit.HOURS,
    "hours": Unit.HOURS,
    "day": Unit.DAYS,
    "days": Unit.DAYS,
    "week": Unit.WEEKS,
    "weeks": Unit.WEEKS,
    "month": Unit.MONTHS,
    "months": Unit.MONTHS,
    "year": Unit.YEARS,
    "years": Unit.YEARS,
}
_TERM = re.compile(r"^\s*(\d{1,4})\s+([a-z]+)\s*$")
#: the end of a period: the last second of its last day, local time (Art. 3(2)(b) and (c))
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True, slots=True)
class Period:
    """A sum of calendar amounts, e.g. `24 months + 1 month`, or elapsed hours (`72 hours`), never both.

    Months and years are added before days.
    """

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        years = months = days = hours = 0
        if not text.strip():
            raise PeriodError("empty period: write e.g. '5 days' or '24 months + 1 month'")
        for term in text.split("+"):
            match = _TERM.match(term.lower())
            unit = _UNIT_ALIASES.get(match.group(2)) if match else None
            if match is None or unit is None:
                raise PeriodError(
                    f"'{text.strip()}' is not a period: write N days, weeks, months or years, joined by +"
                )
            amount = int(match.group(1))
            if unit is Unit.YEARS:
                years += amount
            elif unit is Unit.MONTHS:
                months += amount
            elif unit is Unit.WEEKS:
                days += 7 * amount
            elif unit is Unit.HOURS:
                hours += amount
            else:
                days += amount
        if hours and (years or months or days):
            raise PeriodError(
                f"'{text.strip()}' mixes hours with calendar units: hours are elapsed time, write them alone"
            )
        return cls(years=years, months=months, days=days, hours=hours)

    @property
    def elapsed(self) -> timedelta | None:
        """The length of a period in hours, which runs in absolute time; None for a calendar period."""
        return timedelta(hours=self.hours) if self.hours else None

    def __str__(self) -> str:
        parts = [
            f"{n} {name if n != 1 else name[:-1]}"
            for n, name in (
                (self.years, "years"),
                (self.months, "months"),
                (self.days, "days"),
                (self.hours, "hours"),
            )
            if n
        ]
        return " + ".join(parts) or "0 days"

    def add_to_date(self, start: date) -> date:
        """The date N units after `start`, clamping a date that does not exist to the month's last day."""
        if self.hours:
            raise PeriodError(f"'{self}' is elapsed time and ends at an hour, not on a date")
        total_months = start.month - 1 + self.months + 12 * self.years
        year = start.year + total_months // 12
        month = total_months % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return date(year, month, day) + timedelta(days=self.days)

    def approximate_days(self) -> float:
        """A rough length, only for messages and ordering, never for deadlines."""
        return self.years * 365.25 + self.months * 30.44 + self.days + self.hours / 24


def require_aware(moment: datetime, what: str) -> datetime:
    """Naive datetimes are refused: the law counts in the controller's zone and a bare time has none."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise HygieneError(f"{what}: '{moment.isoformat()}' has no UTC offset; write e.g. 2026-01-31T09:00+01:00")
    return moment


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return require_aware(moment, "time").astimezone(zone).date()


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The last second of a local day; ZoneInfo resolves it to the offset in force then (CET or CEST)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=zone)


def period_expiry(start: datetime, period: Period, zone: ZoneInfo) -> datetime:
    """When a period running from `start` expires: N elapsed hours on, or the end of the day N units on."""
    if period.elapsed is not None:
        return (require_aware(start, "time").astimezone(UTC) + period.elapsed).astimezone(zone)
    return end_of_day(period.add_to_date(local_date(start, zone)), zone)


def parse_datetime(text: str, what: str) -> datetime:
    """An ISO 8601 datetime with an offset; a naive one or an impossible date is refused in one line."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HygieneError(f"{what}: '{text}' is not a valid ISO 8601 datetime (e.g. 2026-01-31T09:00+01:00)") from None
    return require_aware(moment, what)


def parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HygieneError(f"{what}: '{text}' is not a valid ISO 8601 date (e.g. 2026-01-31)") from None
