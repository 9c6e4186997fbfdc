"""Personnummer and CPR detectors: valid numbers are found in any text around them, invalid ones are not."""

from __future__ import annotations

import random
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from hygiene.identifiers import contains_cpr, contains_personnummer, cpr_spans, luhn_valid, personnummer_spans
from sandbox.seed import cpr_number, luhn_digit, personnummer


def swedish(born: date, serial: int) -> str:
    """`YYMMDD-NNNC` with C the Luhn digit of the nine before it."""
    body = born.strftime("%y%m%d") + f"{serial:03d}"
    return f"{body[:6]}-{body[6:]}{luhn_digit(body)}"


births = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
prose = st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=30)


@given(births, st.integers(0, 999), prose, prose)
def test_a_personnummer_is_found_with_or_without_century_and_separator(
    born: date, serial: int, before: str, after: str
) -> None:
    ten = swedish(born, serial)
    for form in (ten, ten.replace("-", ""), ten.replace("-", "+"), born.strftime("%Y") + ten[2:].replace("-", "")):
        assert contains_personnummer(f"{before}{form}{after}"), form


@given(births, st.integers(0, 999), st.integers(1, 9))
def test_a_wrong_check_digit_is_not_a_personnummer(born: date, serial: int, shift: int) -> None:
    ten = swedish(born, serial).replace("-", "")
    wrong = ten[:-1] + str((int(ten[-1]) + shift) % 10)
    assert not contains_personnummer(wrong)


@given(births, st.integers(0, 999))
def test_a_samordningsnummer_adds_60_to_the_day(born: date, serial: int) -> None:
    body = born.strftime("%y%m") + f"{born.day + 60:02d}" + f"{serial:03d}"
    assert contains_personnummer(body + str(luhn_digit(body)))


@given(births, st.integers(0, 9999), prose, prose)
def test_a_cpr_number_is_found_by_its_date_whatever_its_serial(
    born: date, serial: int, before: str, after: str
) -> None:
    number = born.strftime("%d%m%y") + f"{serial:04d}"  # since 2007 not every CPR number passes modulus 11
    assert contains_cpr(f"{before}{number[:6]}-{number[6:]}{after}")
    assert contains_cpr(f"{before}{number}{after}")


@given(st.integers(0, 9999))
def test_a_cpr_number_without_a_real_date_is_not_one(serial: int) -> None:
    assert not contains_cpr(f"310225-{serial:04d}")  # 31 February
    assert not contains_cpr(f"290201-{serial:04d}")  # 29 February of a year ending 01: in no century
    assert contains_cpr(f"290224-{serial:04d}")


def test_longer_digit_runs_are_not_read_as_identifiers() -> None:
    assert not contains_cpr("order 1203851234567") and not personnummer_spans("12345678901234")


def test_spans_point_at_the_number_only() -> None:
    text = "ring 010190-1234 tak"
    [span] = cpr_spans(text)
    assert text[span.start : span.end] == "010190-1234"


def test_seeded_numbers_pass_the_detectors() -> None:
    rng = random.Random(1)
    assert contains_cpr(cpr_number(date(1980, 5, 17), rng))
    assert contains_personnummer(personnummer(date(1980, 5, 17), rng))
    assert luhn_valid("8112189876")
