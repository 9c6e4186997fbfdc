"""Clienti's rights requests (C6) over Mailchimp and HubSpot on the emulators: a subscriber is erased from both,
a customer stays in the CRM under bogføringsloven (C4, GDPR Art. 17(3)(b)), and an access answer holds both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sandbox import credentials
from tests.privacy import database_rows, hits
from tests.rights_fixtures import cli, open_request
from tests.vendor_fixtures import CLIENTI, Seeded, aim_at, seeded_sandbox

Fixtures = tuple[pytest.CaptureFixture[str], pytest.MonkeyPatch]


@pytest.fixture
def clienti(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Seeded]:
    with seeded_sandbox(CLIENTI, n=12) as seeded:
        aim_at(monkeypatch, seeded, "clienti")
        monkeypatch.setenv("HYGIENE_GMAIL_API_ENDPOINT", seeded.sandbox.gmail_endpoint)
        monkeypatch.setenv("HYGIENE_GMAIL_TOKEN", credentials.GMAIL_ACCESS_TOKEN)
        yield seeded


@pytest.fixture
def io(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Fixtures:
    return capsys, monkeypatch


@pytest.mark.usefixtures("prefect_server")
def test_a_subscriber_is_erased_everywhere_and_a_customer_kept_in_the_crm(
    clienti: Seeded, io: Fixtures, tmp_path: Path, database_url: str, prefect_server: str
) -> None:
    subscriber = next(c for c in clienti.hubspot.contacts if c.id in clienti.newsletter_only)
    customer = next(c for c in clienti.hubspot.contacts if c.id not in clienti.newsletter_only)
    answers = {}
    for person in (subscriber, customer):
        request_id = open_request(*io, "clienti", "erasure", email=person.email)
        result = cli(*io, "request", "erase", request_id, "--out", str(tmp_path / f"{person.id}.txt"), "--json")
        assert result.code == 0, result.err
        answers[person.id] = {s["system"]: s for s in result.json()["systems"]}
    assert subscriber.email not in clienti.member_emails() and customer.email not in clienti.member_emails()
    assert subscriber.id not in clienti.live_contact_ids() and customer.id in clienti.live_contact_ids()
    assert answers[subscriber.id]["hubspot"]["deleted"] == answers[subscriber.id]["mailchimp"]["deleted"] == 1
    [kept] = answers[customer.id]["hubspot"]["kept"]
    assert kept["reason"] == "bookkeeping_duty"
    letter = (tmp_path / f"{customer.id}.txt").read_text(encoding="utf-8")
    assert "bogføringsloven" in letter and "hubspot (kundesystem (CRM))" in letter
    assert hits(database_rows(database_url), clienti.needles) == []
    assert hits(database_rows(prefect_server), clienti.needles) == []


@pytest.mark.usefixtures("prefect_server")
def test_an_access_answer_holds_the_member_and_the_contact(clienti: Seeded, io: Fixtures, tmp_path: Path) -> None:
    person = clienti.hubspot.contacts[1]
    request_id = open_request(*io, "clienti", "access", email=person.email)
    result = cli(*io, "request", "export", request_id, "--out", str(tmp_path / "svar"))
    assert result.code == 0, result.err
    document = json.loads((tmp_path / "svar" / "export.json").read_text(encoding="utf-8"))
    found = {system["system"]: system["records"] for system in document["systems"]}
    assert [m["email_address"] for m in found["mailchimp"]] == [person.email]
    assert [c["email"] for c in found["hubspot"]] == [person.email]


def test_a_breach_on_the_list_and_the_crm_counts_each_person_once_and_has_no_subject_clock(
    clienti: Seeded, io: Fixtures, tmp_path: Path
) -> None:
    discovered = (datetime.now().astimezone() - timedelta(hours=1)).isoformat(timespec="minutes")
    result = cli(
        *io,
        "breach",
        "open",
        "--controller",
        "clienti",
        "--discovered",
        discovered,
        "--systems",
        "mailchimp,hubspot",
        "--out",
        str(tmp_path / "brud"),
        "--json",
    )
    assert result.code == 0, result.err
    document = result.json()
    people = {m.email.lower() for m in clienti.mailchimp.members} | {c.email.lower() for c in clienti.hubspot.contacts}
    assert document["affected"] == len(people) and document["late"] == []
    assert document["notices"]["subjects"]["due"] is None, "Art. 34 sets no clock; Clienti promises none"
    assert "Datatilsynet" in (tmp_path / "brud" / "authority-notice.txt").read_text(encoding="utf-8")
