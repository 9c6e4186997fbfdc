"""National identity numbers and payment details in free text: personnummer and payment data (E3), CPR (C7).

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

Payment details ("upplysningar om betalningsmedel", E3), each recognised by its own check, never by shape
alone, so phone, order and customer numbers mostly fail:

- Card numbers (ISO/IEC 7812): 13 to 19 digits, optionally in groups separated by single spaces or hyphens,
  starting with 2 to 6 (the major industry identifiers of banking and card schemes), Luhn-valid.
- IBAN (ISO 13616): two letters, two check digits and 11 to 30 letters or digits, optionally in groups of
  four; valid when the rearranged number is 1 modulo 97 (ISO 7064).
- Bankgiro: `NNN-NNNN` or `NNNN-NNNN`, Luhn-valid over its digits (Bankgirot's check digit is mod 10).
- Plusgiro: 4 to 8 digits written with a hyphen before the last, the check digit (`NN NN NN-N`, `NNNNNN-N`),
  Luhn-valid. Without their hyphen both giro numbers are indistinguishable from any short number, so a bare
  run of digits is not read as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

#: digits not preceded or followed by another digit, so a longer number is not read as an id inside it
_PERSONNUMMER = re.compile(r"(?<!\d)(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)(?!\d)")
_CPR = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})-?(\d{4})(?!\d)")
_COORDINATION_DAY_OFFSET = 60
_CARD = re.compile(r"(?<![0-9A-Za-z-])([2-6]\d(?:[ -]?\d){11,17})(?![\d-])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?![A-Za-z0-9])")
_BANKGIRO = re.compile(r"(?<![\d-])(\d{3,4})-(\d{4})(?![\d-])")
_PLUSGIRO = re.compile(r"(?<![\d-])(\d{1,2}(?: ?\d{2}){1,3})-(\d)(?![\d-])")
_IBAN_MODULUS = 97
#: IBAN lengths of the countries these controllers deal with; a match runs on into the next word otherwise
_IBAN_LENGTHS = {"SE": 24, "DK": 18, "NO": 15, "FI": 18, "IS": 26, "DE": 22, "GB": 22, "NL": 18, "FR": 27}
#: a "1999-2005" written in a note is a span of years, not a bankgiro number
_YEARS = range(1900, 2100)


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


def payment_spans(text: str) -> list[Span]:
    """Every card number, IBAN, bankgiro or plusgiro number in `text` that passes its check."""
    found = [Span(m.start(), m.end()) for m in _CARD.finditer(text) if luhn_valid(_digits(m.group(1)))]
    found += [span for m in _IBAN.finditer(text) if (span := _iban_span(m)) is not None]
    found += [
        Span(m.start(), m.end())
        for m in _BANKGIRO.finditer(text)
        if luhn_valid(m.group(1) + m.group(2)) and not (int(m.group(1)) in _YEARS and int(m.group(2)) in _YEARS)
    ]
    found += [Span(m.start(), m.end()) for m in _PLUSGIRO.finditer(text) if luhn_valid(_digits(m.group(0)))]
    return sorted(found, key=lambda span: span.start)


def _iban_span(match: re.Match[str]) -> Span | None:
    """The IBAN at the start of the match, cut to its country's length where that is known."""
    text = match.group(1)
    length = _IBAN_LENGTHS.get(text[:2])
    characters = [index for index, char in enumerate(text) if char != " "]
    if length is not None and len(characters) < length:
        return None
    end = len(text) if length is None else characters[length - 1] + 1
    return Span(match.start(), match.start() + end) if iban_valid(text[:end]) else None


def iban_valid(text: str) -> bool:
    """ISO 13616: the country code and check digits moved to the end, letters as 10 to 35, is 1 modulo 97."""
    compact = text.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % _IBAN_MODULUS == 1


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def contains_payment_data(text: str) -> bool:
    return bool(payment_spans(text))


def contains_personnummer(text: str) -> bool:
    return bool(personnummer_spans(text))


def contains_cpr(text: str) -> bool:
    return bool(cpr_spans(text))
