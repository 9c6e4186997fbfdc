"""Periods counted as Regulation 1182/71 counts them, in the controller's zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hygiene.errors import HygieneError
from hygiene.periods import Period, PeriodError, end_of_day, parse_datetime, period_expiry

ZONES = [ZoneInfo("Europe/Copenhagen"), ZoneInfo("Europe/Oslo"), ZoneInfo("Europe/Stockholm")]

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31))
periods = st.builds(Period, years=st.integers(0, 10), months=st.integers(0, 30), days=st.integers(0, 400))


@given(moment=moments, period=periods, zone=st.sampled_from(ZONES))
def test_a_deadline_is_never_before_its_trigger(moment: datetime, period: Period, zone: ZoneInfo) -> None:
    trigger = moment.replace(tzinfo=zone)
    assert period_expiry(trigger, period, zone) >= trigger


@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)), months=st.integers(0, 120))
def test_a_month_period_ends_on_the_same_date_or_the_months_last_day(day: date, months: int) -> None:
    end = Period(months=months).add_to_date(day)
    assert (end.year * 12 + end.month) - (day.year * 12 + day.month) == months
    next_day = end + timedelta(days=1)
    assert end.day == day.day or (end.day < day.day and next_day.day == 1)


@given(moment=moments, days=st.integers(1, 400), zone=st.sampled_from(ZONES))
def test_a_period_in_days_counts_calendar_days_across_dst(moment: datetime, days: int, zone: ZoneInfo) -> None:
    trigger = moment.replace(tzinfo=zone)
    expiry = period_expiry(trigger, Period(days=days), zone)
    assert (expiry.date() - trigger.date()).days == days
    assert (expiry.hour, expiry.minute, expiry.second) == (23, 59, 59)


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        (date(2026, 1, 31), "1 month", date(2026, 2, 28)),
        (date(2024, 1, 31), "1 month", date(2024, 2, 29)),
        (date(2024, 2, 29), "1 year", date(2025, 2, 28)),
        (date(2024, 2, 29), "4 years", date(2028, 2, 29)),
        (date(2026, 8, 31), "1 month", date(2026, 9, 30)),
        (date(2026, 3, 31), "24 months + 1 month", date(2028, 4, 30)),
        (date(2026, 12, 28), "5 days", date(2027, 1, 2)),
        (date(2026, 1, 1), "2 weeks", date(2026, 1, 15)),
    ],
)
def test_calendar_periods_worked_out_by_hand(start: date, period: str, end: date) -> None:
    assert Period.parse(period).add_to_date(start) == end


def test_the_expiry_across_the_spring_dst_change_keeps_local_end_of_day() -> None:
    zone = ZoneInfo("Europe/Copenhagen")
    trigger = datetime(2026, 3, 27, 10, 0, tzinfo=zone)  # CET; the clocks go forward on 29 March
    expiry = period_expiry(trigger, Period(days=5), zone)
    assert expiry.isoformat() == "2026-04-01T23:59:59+02:00"


@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
    hours=st.integers(1, 400),
    zone=st.sampled_from(ZONES),
)
def test_a_period_in_hours_is_elapsed_time_across_dst(moment: datetime, hours: int, zone: ZoneInfo) -> None:
    trigger = moment.replace(tzinfo=zone)
    expiry = period_expiry(trigger, Period.parse(f"{hours} hours"), zone)
    assert expiry.astimezone(UTC) - trigger.astimezone(UTC) == timedelta(hours=hours)


@pytest.mark.parametrize(
    "text", ["5 dayz", "", "five days", "5", "days 5", "5 days +", "-5 days", "3 days + 2 hours", "1 month + 1 hour"]
)
def test_a_malformed_period_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        Period.parse(text)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(HygieneError, match="no UTC offset"):
        parse_datetime("2026-01-31T09:00", "--trigger")


def test_an_impossible_date_is_refused() -> None:
    with pytest.raises(HygieneError, match="not a valid ISO 8601 datetime"):
        parse_datetime("2026-02-30T09:00+01:00", "--trigger")


def test_end_of_day_takes_the_offset_in_force_that_day() -> None:
    zone = ZoneInfo("Europe/Oslo")
    assert end_of_day(date(2026, 1, 15), zone).utcoffset() == timedelta(hours=1)
    assert end_of_day(date(2026, 7, 15), zone).utcoffset() == timedelta(hours=2)
