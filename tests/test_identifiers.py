"""Personnummer and CPR detectors: valid numbers are found in any text around them, invalid ones are not."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hygiene.identifiers import (
    contains_cpr,
    contains_payment_data,
    contains_personnummer,
    cpr_spans,
    luhn_valid,
    personnummer_spans,
)
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


def check_digit(body: str) -> str:
    """The digit that makes `body` + it Luhn-valid, whatever the length of `body`."""
    return next(digit for digit in "0123456789" if luhn_valid(body + digit))


def card(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return body + check_digit(body)


@given(st.sampled_from(["4", "51", "55", "2221", "34", "37", "6011"]), st.integers(13, 19), st.randoms(), prose)
def test_a_card_number_is_found_by_luhn_and_length_grouped_or_not(
    prefix: str, length: int, rng: random.Random, around: str
) -> None:
    number = card(prefix, length, rng)
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    for form in (number, grouped, grouped.replace(" ", "-")):
        assert contains_payment_data(f"{around} {form} {around}"), form
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not contains_payment_data(wrong)


@pytest.mark.parametrize(
    "iban",
    ["SE45 5000 0000 0583 9825 7466", "DK50 0040 0440 1162 43", "NO93 8601 1117 947", "GB82 WEST 1234 5698 7654 32"],
)
def test_an_iban_is_found_by_its_mod_97_check_and_one_wrong_digit_is_not(iban: str) -> None:
    assert contains_payment_data(f"Betala till {iban} TACK") and contains_payment_data(iban.replace(" ", ""))
    wrong = iban[:-1] + str((int(iban[-1]) + 1) % 10)
    assert not contains_payment_data(wrong)


@given(st.integers(100, 9999), st.integers(0, 999), st.integers(0, 99999))
def test_giro_numbers_are_found_by_their_check_digit_with_their_hyphen(head: int, tail: int, giro: int) -> None:
    bankgiro = f"{head}{tail:03d}"
    bankgiro = f"{bankgiro[:-3]}-{bankgiro[-3:]}{check_digit(bankgiro)}"
    plusgiro = f"{giro:05d}"
    assert contains_payment_data(f"bankgiro {bankgiro}.") or 1900 <= int(bankgiro[:4]) < 2100
    assert contains_payment_data(f"plusgiro {plusgiro}-{check_digit(plusgiro)}")


@pytest.mark.parametrize(
    "decoy",
    [
        "ring 070-123 45 67 eller +46 70 123 45 67",  # phone numbers
        "personnummer 850709-9805, 198507099805",  # an identity number is not a payment detail
        "kund 2019-2021, order 4711-2023",  # a span of years; an order number failing Luhn
        "kort 4111 1111 1111 1112",  # a card number with the wrong check digit
        "IBAN SE45 5000 0000 0583 9825 7467",  # an IBAN with one wrong digit
    ],
)
def test_numbers_that_are_not_payment_details_are_left_alone(decoy: str) -> None:
    assert not contains_payment_data(decoy)
