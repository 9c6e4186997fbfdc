"""National identity numbers in free text: Swedish personnummer (E3) and Danish CPR numbers (C7).

Balansekonomi promises not to collect personnummer ("samlar inte in personupplysningar som personnummer") and
Clienti asks people not to send CPR numbers; both rules find such numbers in CRM properties and notes so they
can be deleted. The functions here only say where a number is, never what it is: callers report the property
and the record's pseudonym, and the number itself must not reach logs or evidence.

- Personnummer (Skatteverket, SKV 704): `YYMMDD-NNNC` or `YYYYMMDDNNNC`, `-` or `+` (the `+` marks a person
  of 100 or more in the ten-digit form), optionally without separator. The date must exist; a
  samordningsnummer adds 60 to the day. C is the Luhn check digit over the ten-digit form's first nine
  digits, so random ten-digit strings (phone and order numbers) mostly fail it.
- CPR number (CPR-kontoret): `DDMMYY-SSSS`, separator `-` or none. Since 1 October 2007 CPR numbers are issued
  without the modulus-11 check (the serials ran out for some birth dates), so a valid CPR number need not pass
  mod 11; we therefore check the date only and accept that some ten-digit strings with a date-like start are
  flagged too. A flag asks a person to look, which is the right side to err on for a number people were asked
  never to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

#: digits not preceded or followed by another digit, so a longer number is not read as an id inside it
_PERSONNUMMER = re.compile(r"(?<!\d)(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)(?!\d)")
_CPR = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})-?(\d{4})(?!\d)")
_COORDINATION_DAY_OFFSET = 60


@dataclass(frozen=True, slots=True)
class Span:
    """Where a number sits in the text: enough to blank it out, nothing that repeats it."""

    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """The Luhn check over a string of digits, the last being the check digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _date_exists(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _some_year(century: str | None, yy: str) -> int:
    """The year to check a date in; without a century, 20YY: it is a leap year exactly when YY is a multiple of
    4 (2000 included), so it accepts every date that exists in any century."""
    return int(century + yy) if century else 2000 + int(yy)


def _swedish_date_exists(century: str | None, yy: str, mm: str, dd: str) -> bool:
    day = int(dd)
    if day > _COORDINATION_DAY_OFFSET:
        day -= _COORDINATION_DAY_OFFSET
    return _date_exists(_some_year(century, yy), int(mm), day)


def personnummer_spans(text: str) -> list[Span]:
    """Every Luhn-valid personnummer or samordningsnummer with an existing date in `text`."""
    found: list[Span] = []
    for match in _PERSONNUMMER.finditer(text):
        century, yy, mm, dd, separator, serial, check = match.groups()
        if century and separator == "+":
            continue  # the "+" only exists in the ten-digit form
        if _swedish_date_exists(century, yy, mm, dd) and luhn_valid(yy + mm + dd + serial + check):
            found.append(Span(match.start(), match.end()))
    return found


def cpr_spans(text: str) -> list[Span]:
    """Every `DDMMYY-SSSS` (or ten digits) in `text` whose first six digits are a real date.

    CPR derives the century from the serial's first digit; any century will do for deciding whether the
    date exists, so the serial is not read.
    """
    found: list[Span] = []
    for match in _CPR.finditer(text):
        dd, mm, yy, _serial = match.groups()
        if _date_exists(_some_year(None, yy), int(mm), int(dd)):
            found.append(Span(match.start(), match.end()))
    return found


def contains_personnummer(text: str) -> bool:
    return bool(personnummer_spans(text))


def contains_cpr(text: str) -> bool:
    return bool(cpr_spans(text))
