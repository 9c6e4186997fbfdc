"""One test per promise: the window its rule gives a record and its next runs, worked out by hand from the notice.

Runs are listed after 2026-11-23 00:00 in the controller's zone. Windows end at 23:59:59 local time on the last
day of the period (Regulation 1182/71), so an offset of +02:00 means the day falls in summer time.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from tests.cli_runner import run_cli

DAILY_6 = ["2026-11-23T06:00:00+01:00", "2026-11-24T06:00:00+01:00"]
MONTHLY_7 = ["2026-12-01T07:00:00+01:00", "2027-01-01T07:00:00+01:00"]
MONTHLY_8 = ["2026-12-01T08:00:00+01:00", "2027-01-01T08:00:00+01:00"]
QUARTERLY = ["2027-01-01T06:00:00+01:00", "2027-04-01T06:00:00+02:00"]
AUGUST = ["2027-08-01T09:00:00+02:00", "2028-08-01T09:00:00+02:00"]
ON_DEMAND: list[str] = []


class Promise(NamedTuple):
    controller: str
    trigger: str | None
    not_before: str | None
    deadline: str | None
    runs: list[str]
    action: str


PROMISES = {
    # Clienti (DK): "senest 5 dage efter afmeldelsen"; across the spring DST change
    "C1": Promise("clienti", "2026-03-27T10:00+01:00", None, "2026-04-01T23:59:59+02:00", DAILY_6, "delete"),
    # "minimum hver 12. måned": up for review from 11 months, reviewed by the end of the 12
    "C2": Promise(
        "clienti",
        "2025-01-31T12:00+01:00",
        "2025-12-31T23:59:59+01:00",
        "2026-01-31T23:59:59+01:00",
        MONTHLY_7,
        "flag_for_review",
    ),
    # "efter 24 måneder" from a leap day: 28 Feb, and the 29 March deadline already in summer time
    "C3": Promise(
        "clienti",
        "2024-02-29T12:00+01:00",
        "2026-02-28T23:59:59+01:00",
        "2026-03-29T23:59:59+02:00",
        MONTHLY_7,
        "delete",
    ),
    # "i 5 år efter kundeophøret" and bogføringsloven: the later of 5 years and the end of the year's 5 years
    "C4": Promise(
        "clienti",
        "2024-06-01T12:00+02:00",
        "2029-12-31T23:59:59+01:00",
        "2030-01-31T23:59:59+01:00",
        MONTHLY_7,
        "delete",
    ),
    "C5": Promise("clienti", None, None, None, ON_DEMAND, "none"),
    # "senest inden for 30 dage": 31 Jan + 30 days
    "C6": Promise("clienti", "2026-01-31T09:00+01:00", None, "2026-03-02T23:59:59+01:00", ON_DEMAND, "answer_request"),
    "C7": Promise("clienti", None, None, None, DAILY_6, "detect_and_flag"),
    # Stressfri (NO): "manuelt slettet hver mnd."
    "S1": Promise("stressfri", "2026-01-31T10:00+01:00", None, "2026-03-07T23:59:59+01:00", MONTHLY_8, "attest"),
    # "hver tredje mnd. eller den 1. i hvert kvartal (det som inntreffer sist)"
    "S2": Promise("stressfri", "2026-10-15T10:00+02:00", None, "2027-01-15T23:59:59+01:00", QUARTERLY, "delete"),
    "S3": Promise("stressfri", "2026-04-30T10:00+02:00", None, "2026-06-06T23:59:59+02:00", MONTHLY_8, "attest"),
    # "tidligst etter 5 år": no deadline stated
    "S4": Promise("stressfri", "2021-02-28T10:00+01:00", "2026-02-28T23:59:59+01:00", None, MONTHLY_7, "delete"),
    # bokføringsloven: 5 years from the end of the financial year; reviewed by the end of the next August
    "S5": Promise(
        "stressfri",
        "2020-03-15T10:00+01:00",
        "2025-12-31T23:59:59+01:00",
        "2026-08-31T23:59:59+02:00",
        AUGUST,
        "attest",
    ),
    "S6": Promise("stressfri", None, None, None, ON_DEMAND, "none"),
    # 1 May 2026 is a Friday and a holiday in Norway: Monday 4 May, as `hygiene deadline` says
    "S7": Promise(
        "stressfri", "2026-04-01T09:00+02:00", None, "2026-05-04T23:59:59+02:00", ON_DEMAND, "answer_request"
    ),
    # "Annen dokumentasjon, som kundeavtaler, lagres lokalt på Mac": no period promised
    "S9": Promise("stressfri", None, None, None, ON_DEMAND, "none"),
    "S8": Promise("stressfri", "2026-12-31T10:00+01:00", None, "2027-04-02T23:59:59+02:00", QUARTERLY, "delete"),
    # Calmo (DK): "minimum 5 år i henhold til gældende krav fra SKAT": from the financial year's end
    "K1": Promise(
        "calmo", "2020-06-15T10:00+02:00", "2025-12-31T23:59:59+01:00", "2026-01-31T23:59:59+01:00", MONTHLY_7, "delete"
    ),
    # "i minimum 1 år hvorefter de løbende slettes"
    "K2": Promise(
        "calmo", "2025-05-10T00:00+02:00", "2026-05-10T23:59:59+02:00", "2026-06-10T23:59:59+02:00", MONTHLY_7, "delete"
    ),
    "K3": Promise("calmo", None, None, None, ON_DEMAND, "verify_identity"),
    # "indenfor 72 timer efter bruddet": elapsed hours, so across the October DST change the clock shows 71
    "K4": Promise("calmo", "2026-10-23T15:30+02:00", None, "2026-10-26T14:30:00+01:00", ON_DEMAND, "notify"),
    # Balance (DK)
    "B1": Promise("balance", None, None, None, DAILY_6, "detect_and_flag"),
    "B2": Promise("balance", "2026-01-31T10:00+01:00", None, "2026-03-07T23:59:59+01:00", MONTHLY_8, "attest"),
    "B3": Promise("balance", "2026-01-31T10:00+01:00", None, "2026-03-07T23:59:59+01:00", MONTHLY_8, "attest"),
    "B4": Promise("balance", "2026-06-30T10:00+02:00", None, "2026-08-06T23:59:59+02:00", MONTHLY_8, "attest"),
    "B5": Promise("balance", "2026-06-30T10:00+02:00", None, "2026-08-06T23:59:59+02:00", MONTHLY_8, "attest"),
    # "gemmes juridisk i op til 5 år": bogføringsloven, from the financial year's end
    "B6": Promise(
        "balance",
        "2020-06-15T10:00+02:00",
        "2025-12-31T23:59:59+01:00",
        "2026-01-31T23:59:59+01:00",
        MONTHLY_7,
        "attest",
    ),
    # GDPR's month ends Saturday 28 February, so on Monday 2 March (1182/71 Art. 3(4)), as `hygiene deadline` says
    "B7": Promise("balance", "2026-01-31T09:00+01:00", None, "2026-03-02T23:59:59+01:00", ON_DEMAND, "answer_request"),
    # "nødvendig mailkorrespondance arkiveres i Microsoft Outlook": no period promised
    "B8": Promise("balance", None, None, None, ON_DEMAND, "none"),
    # Balansekonomi (SE)
    "E1": Promise(
        "balansekonomi", "2025-03-17T09:00+01:00", None, "2025-04-17T23:59:59+02:00", ON_DEMAND, "answer_request"
    ),
    "E2": Promise("balansekonomi", None, None, None, DAILY_6, "flag_for_review"),
    "E3": Promise("balansekonomi", None, None, None, DAILY_6, "detect_and_flag"),
    # the notice states no retention period at all
    "E4": Promise("balansekonomi", None, None, None, ON_DEMAND, "none"),
}


@pytest.mark.parametrize("ref", sorted(PROMISES))
def test_the_rule_keeps_its_promise(
    ref: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    promise = PROMISES[ref]
    shown = run_cli(capsys, monkeypatch, "policies", "show", promise.controller, "--json").json()
    rule = next(r for r in shown["rules"] if r["ref"] == ref)
    assert rule["action"] == promise.action
    schedule = run_cli(
        capsys,
        monkeypatch,
        "schedule",
        "--controller",
        promise.controller,
        "--after",
        "2026-11-23T00:00:00+01:00",
        "--count",
        "2",
        "--json",
    ).json()
    assert next(s["runs"] for s in schedule if s["ref"] == ref) == promise.runs
    if promise.trigger is None:
        assert rule["trigger"] is None or (rule["not_before"], rule["deadline"]) == (None, None)
        return
    window = run_cli(
        capsys, monkeypatch, "policies", "window", promise.controller, ref, "--trigger", promise.trigger, "--json"
    ).json()
    assert (window["not_before"], window["deadline"]) == (promise.not_before, promise.deadline)


@pytest.mark.parametrize(
    ("controller", "received", "deadline", "extended"),
    [
        ("clienti", "2026-01-31", "2026-03-02", "2026-04-30"),  # 30 days (C6); extended: 3 months in all
        ("stressfri", "2026-04-01", "2026-05-04", "2026-07-01"),  # 1 May (Fri) is a holiday in NO
        ("calmo", "2023-04-05", "2023-05-08", "2023-07-05"),  # GDPR's month; Store Bededag 5 May 2023
        ("balance", "2026-01-31", "2026-03-02", "2026-04-30"),  # 28 Feb 2026 is a Saturday
        ("balansekonomi", "2025-03-17", "2025-04-17", "2025-06-17"),  # Maundy Thursday works in SE
    ],
)
def test_a_rights_request_deadline_follows_the_controllers_promise(
    controller: str,
    received: str,
    deadline: str,
    extended: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = run_cli(capsys, monkeypatch, "deadline", controller, "--received", received, "--extended", "--json")
    assert result.code == 0
    assert (result.json()["deadline"], result.json()["extended_deadline"]) == (deadline, extended)


@pytest.mark.parametrize(
    ("controller", "ref", "received"),
    [
        ("clienti", "C6", "2026-01-31"),
        ("stressfri", "S7", "2026-04-01"),
        ("balance", "B7", "2026-01-31"),
        ("balansekonomi", "E1", "2026-05-06"),  # 6 June, national day, is a Saturday
    ],
)
def test_a_request_rule_window_and_hygiene_deadline_give_one_answer(
    controller: str, ref: str, received: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = run_cli(
        capsys, monkeypatch, "policies", "window", controller, ref, "--trigger", f"{received}T09:00+01:00", "--json"
    ).json()
    answer = run_cli(capsys, monkeypatch, "deadline", controller, "--received", received, "--json").json()
    assert window["deadline"][:10] == answer["deadline"]


def test_a_breach_window_is_72_elapsed_hours_in_both_directions_of_dst(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spring forward: 72 hours from 27 March 2026 10:00 CET end at 30 March 11:00 CEST, one hour later by the wall."""
    window = run_cli(
        capsys, monkeypatch, "policies", "window", "calmo", "K4", "--trigger", "2026-03-27T10:00+01:00", "--json"
    ).json()
    assert window["deadline"] == "2026-03-30T11:00:00+02:00"


@pytest.mark.parametrize(
    ("controller", "gaps"), [("stressfri", ["S6", "S9"]), ("balance", ["B8"]), ("balansekonomi", ["E4"])]
)
def test_the_schedule_shows_every_place_the_notice_gives_no_period(
    controller: str, gaps: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hano, the Mac, Outlook and all of Balansekonomi: a finding in the schedule, not a silence."""
    schedule = run_cli(
        capsys, monkeypatch, "schedule", "--controller", controller, "--after", "2026-11-23T00:00+01:00", "--json"
    ).json()
    assert [s["ref"] for s in schedule if s["finding"] == "no_period_promised"] == gaps
    table = run_cli(capsys, monkeypatch, "schedule", "--controller", controller, "--after", "2026-11-23T00:00+01:00")
    assert table.out.count("no period promised") == len(gaps)
