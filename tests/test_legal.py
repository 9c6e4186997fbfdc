"""Working days, bookkeeping anchors and answer deadlines, with dates worked out by hand from the law."""

from datetime import date

import pytest

from hygiene.legal import (
    GDPR_ANSWER_PERIOD,
    Country,
    answer_deadline,
    bookkeeping_anchor,
    is_working_day,
)
from hygiene.periods import Period

THIRTY_DAYS = Period(days=30)


@pytest.mark.parametrize(
    ("country", "received", "period", "deadline", "why"),
    [
        (Country.DK, date(2026, 3, 6), THIRTY_DAYS, date(2026, 4, 7), "5 Apr 2026 is Easter Sunday, 6 Apr Monday"),
        (Country.DK, date(2025, 3, 17), GDPR_ANSWER_PERIOD, date(2025, 4, 22), "Maundy Thu to Easter Mon 2025"),
        (Country.NO, date(2025, 3, 17), GDPR_ANSWER_PERIOD, date(2025, 4, 22), "skjærtorsdag is a holiday in NO"),
        (Country.SE, date(2025, 3, 17), GDPR_ANSWER_PERIOD, date(2025, 4, 17), "Maundy Thu: working day in SE"),
        (Country.DK, date(2023, 4, 5), GDPR_ANSWER_PERIOD, date(2023, 5, 8), "Store Bededag, Fri 5 May 2023"),
        (Country.DK, date(2024, 3, 26), GDPR_ANSWER_PERIOD, date(2024, 4, 26), "Store Bededag abolished from 2024"),
        (Country.NO, date(2026, 4, 1), GDPR_ANSWER_PERIOD, date(2026, 5, 4), "1 May 2026 is a Friday holiday in NO"),
        (Country.SE, date(2025, 4, 1), GDPR_ANSWER_PERIOD, date(2025, 5, 2), "1 May 2025 is a Thursday holiday in SE"),
        (Country.DK, date(2025, 4, 1), GDPR_ANSWER_PERIOD, date(2025, 5, 1), "1 May is no public holiday in DK"),
        (Country.DK, date(2024, 1, 31), GDPR_ANSWER_PERIOD, date(2024, 2, 29), "leap day, a Thursday"),
        (Country.DK, date(2023, 1, 31), GDPR_ANSWER_PERIOD, date(2023, 2, 28), "no 31 Feb: the month's last day"),
        (Country.DK, date(2026, 1, 31), GDPR_ANSWER_PERIOD, date(2026, 3, 2), "28 Feb 2026 is a Saturday"),
        (Country.DK, date(2024, 1, 30), THIRTY_DAYS, date(2024, 2, 29), "30 days across a leap February"),
        (Country.SE, date(2026, 5, 6), GDPR_ANSWER_PERIOD, date(2026, 6, 8), "6 June, Sweden's national day, Sat"),
        (Country.NO, date(2026, 4, 17), GDPR_ANSWER_PERIOD, date(2026, 5, 18), "17 May, NO constitution day, Sun"),
    ],
)
def test_answer_deadlines_worked_out_by_hand(
    country: Country, received: date, period: Period, deadline: date, why: str
) -> None:
    assert answer_deadline(received, period, country) == deadline, why


def test_christmas_eve_is_not_a_public_holiday_but_christmas_day_is() -> None:
    assert is_working_day(date(2026, 12, 24), Country.DK)
    assert not is_working_day(date(2026, 12, 25), Country.DK)


@pytest.mark.parametrize(
    ("country", "day", "year_end", "anchor"),
    [
        (Country.DK, date(2020, 6, 15), (12, 31), date(2020, 12, 31)),
        (Country.NO, date(2020, 6, 15), (6, 30), date(2020, 6, 30)),
        (Country.NO, date(2020, 7, 1), (6, 30), date(2021, 6, 30)),
        (Country.SE, date(2020, 9, 1), (6, 30), date(2021, 12, 31)),
        (Country.SE, date(2020, 3, 1), (12, 31), date(2020, 12, 31)),
    ],
)
def test_bookkeeping_runs_from_the_financial_year_end_or_in_sweden_its_calendar_year_end(
    country: Country, day: date, year_end: tuple[int, int], anchor: date
) -> None:
    assert bookkeeping_anchor(day, country, *year_end) == anchor
