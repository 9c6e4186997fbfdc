"""The 72-hour breach clock (GDPR Art. 33; Calmo K4): affected people, draft notices, and what is late."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hygiene.ledger import EntryKind, Ledger
from tests.cli_runner import Result, run_cli
from tests.privacy import database_rows, hits
from tests.rights_fixtures import EMAIL, NOW, SeededPerson

pytest_plugins = ["tests.rights_fixtures"]

DISCOVERED = (NOW - timedelta(hours=80)).replace(second=0, microsecond=0)


Runner = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def opened(run: Runner, out: Path, discovered: datetime = DISCOVERED) -> Result:
    result = run(
        "breach",
        "open",
        "--controller",
        "calmo",
        "--discovered",
        discovered.isoformat(),
        "--systems",
        "logbooks",
        "--description",
        "Et USB-drev med klientlogbøger blev stjålet.",
        "--out",
        str(out),
        "--json",
    )
    assert result.code == 0, result.err
    return result


def test_a_breach_lists_the_affected_and_drafts_both_notices_in_danish(
    calmo_person: SeededPerson,
    database_url: str,
    run: Runner,
    tmp_path: Path,
) -> None:
    document = opened(run, tmp_path / "brud").json()
    archived = {f.subject for f in calmo_person.drive.of_kind("logbook")} | {"K7777"}
    with (tmp_path / "brud" / "contacts.csv").open(encoding="utf-8") as stream:
        contacts = {row["subject"] for row in csv.DictReader(stream)}
    assert contacts == archived and document["affected"] == len(archived)
    assert document["notices"]["authority"]["due"] == (DISCOVERED + timedelta(hours=72)).isoformat(timespec="minutes")
    authority = (tmp_path / "brud" / "authority-notice.txt").read_text(encoding="utf-8")
    assert "Datatilsynet" in authority and f"Antal berørte personer: {len(archived)}" in authority
    assert "Vigtig besked" in (tmp_path / "brud" / "subjects-notice.txt").read_text(encoding="utf-8")
    affected = [e for e in Ledger(database_url).entries(kinds={EntryKind.FINDING}) if e.payload["event"] == "affected"]
    assert len(affected) == len(archived) and all(e.subject and e.subject.startswith("subject:") for e in affected)
    assert hits(database_rows(database_url), archived | {EMAIL}) == []


def test_status_reports_late_notices_and_exits_0_for_cron(
    calmo_person: SeededPerson,
    run: Runner,
    tmp_path: Path,
) -> None:
    breach_id = opened(run, tmp_path / "brud").json()["breach"]
    status = run("breach", "status", breach_id, "--json")
    assert status.code == 0 and status.json()["late"] == ["authority", "subjects"]
    in_time = (DISCOVERED + timedelta(hours=71, minutes=59)).isoformat()
    assert run("breach", "notified", breach_id, "--to", "authority", "--at", in_time).code == 0
    late = (DISCOVERED + timedelta(hours=72, minutes=1)).isoformat()
    assert run("breach", "notified", breach_id, "--to", "subjects", "--at", late).code == 0
    status = run("breach", "status", breach_id, "--json")
    assert status.code == 0 and status.json()["late"] == ["subjects"]


def test_a_fresh_breach_is_not_late_and_counts_down_to_the_minute(
    calmo_person: SeededPerson,
    run: Runner,
    tmp_path: Path,
) -> None:
    now = datetime.now().astimezone().replace(microsecond=0)  # not the suite's NOW: minutes pass before this runs
    document = opened(run, tmp_path / "brud", discovered=now).json()
    assert document["late"] == [] and 72 * 60 - 2 <= document["notices"]["authority"]["minutes_left"] <= 72 * 60


@pytest.mark.parametrize(("systems", "message"), [("nowhere", "has no system 'nowhere'"), ("requests", "kept by hand")])
def test_a_breach_on_an_unknown_or_hand_kept_system_is_one_line(
    calmo_person: SeededPerson,
    run: Runner,
    tmp_path: Path,
    systems: str,
    message: str,
) -> None:
    result = run(
        "breach",
        "open",
        "--controller",
        "calmo",
        "--discovered",
        DISCOVERED.isoformat(),
        "--systems",
        systems,
        "--out",
        str(tmp_path / "brud"),
    )
    assert result.code == 1 and message in result.err and len(result.err.strip().splitlines()) == 1


def test_a_breach_found_later_is_due_72_hours_after_it_happened_and_shows_both_clocks(
    calmo_person: SeededPerson,
    run: Runner,
    tmp_path: Path,
) -> None:
    """Calmo promises 72 hours "efter bruddet"; Art. 33 counts from awareness: the earlier clock applies."""
    now = datetime.now().astimezone().replace(second=0, microsecond=0)
    occurred = now - timedelta(hours=30)
    result = run(
        "breach",
        "open",
        "--controller",
        "calmo",
        "--occurred",
        occurred.isoformat(),
        "--discovered",
        now.isoformat(),
        "--systems",
        "logbooks",
        "--out",
        str(tmp_path / "brud"),
        "--json",
    )
    assert result.code == 0, result.err
    document = result.json()
    from_breach = (occurred + timedelta(hours=72)).isoformat(timespec="minutes")
    assert document["clocks"] == {
        "from_breach": from_breach,
        "from_discovery": (now + timedelta(hours=72)).isoformat(timespec="minutes"),
    }
    assert document["notices"]["authority"]["due"] == document["notices"]["subjects"]["due"] == from_breach
    assert 42 * 60 - 2 <= document["notices"]["subjects"]["minutes_left"] <= 42 * 60


def test_a_breach_that_happened_after_its_discovery_is_one_line(
    calmo_person: SeededPerson,
    run: Runner,
    tmp_path: Path,
) -> None:
    result = run(
        "breach",
        "open",
        "--controller",
        "calmo",
        "--occurred",
        (DISCOVERED + timedelta(hours=1)).isoformat(),
        "--discovered",
        DISCOVERED.isoformat(),
        "--systems",
        "logbooks",
        "--out",
        str(tmp_path / "brud"),
    )
    assert result.code == 1 and "--occurred" in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "brud" / "contacts.csv").exists()
