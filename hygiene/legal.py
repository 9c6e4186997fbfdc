"""The statutory anchors the policies build on: working days, bookkeeping periods, GDPR's answer deadline."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from functools import cache

import holidays

from hygiene.periods import Period


class Country(StrEnum):
    DK = "DK"
    NO = "NO"
    SE = "SE"


#: GDPR Art. 12(3): one month from receipt, extendable by two further months
GDPR_ANSWER_PERIOD = Period(months=1)
GDPR_EXTENSION = Period(months=2)

#: bogføringsloven (DK) and bokføringsloven § 13 (NO): 5 years from the end of the financial year;
#: bokföringslagen 7 kap. 2 § (SE): 7 years from the end of the calendar year in which the financial year ended
BOOKKEEPING_PERIOD = {
    Country.DK: Period(years=5),
    Country.NO: Period(years=5),
    Country.SE: Period(years=7),
}


@cache
def _public_holidays(country: Country, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country.value, years=year)


def is_working_day(day: date, country: Country) -> bool:
    return day.weekday() < 5 and day not in _public_holidays(country, day.year)


def next_working_day(day: date, country: Country) -> date:
    """Regulation 1182/71 Art. 3(4): a last day on a weekend or public holiday moves to the next working day."""
    while not is_working_day(day, country):
        day += timedelta(days=1)
    return day


def financial_year_end(day: date, year_end_month: int, year_end_day: int) -> date:
    """The last day of the financial year that contains `day`."""
    this_year = date(day.year, year_end_month, year_end_day)
    return this_year if day <= this_year else date(day.year + 1, year_end_month, year_end_day)


def bookkeeping_anchor(day: date, country: Country, year_end_month: int, year_end_day: int) -> date:
    """The date the bookkeeping period runs from: the financial year's end, or in Sweden its calendar year's end."""
    fy_end = financial_year_end(day, year_end_month, year_end_day)
    return date(fy_end.year, 12, 31) if country is Country.SE else fy_end


def answer_deadline(received: date, period: Period, country: Country) -> date:
    """A rights request's last day: the period from receipt, moved off weekends and public holidays."""
    return next_working_day(period.add_to_date(received), country)
