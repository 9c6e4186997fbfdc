"""Stressfri's rights requests (S7) over its form export, its offers workbook and its mailbox on the emulator:
the workbook rows go, the Webnode submissions are left to a person (no API), the letter is in bokmål."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sandbox.seed_files import ExportFormat, SeededSubmission, webnode_submissions, write_webnode_export
from tests.gmail_fixtures import AS_OF, SeededMailbox
from tests.rights_fixtures import cli, open_request

pytest_plugins = ["tests.gmail_fixtures"]


@pytest.fixture
def stressfri(mailbox: SeededMailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """The first customer of the mailbox, also in the form export (email typed in capitals); returns the email."""
    customer = mailbox.customers[0]
    own = SeededSubmission(
        AS_OF.replace(tzinfo=None) - timedelta(days=3),
        "Kari Nordmann",
        customer.email.upper(),
        "+47 900 00 001",
        "Hei, kan dere ringe meg?",
    )
    export = tmp_path / "webnode.csv"
    write_webnode_export(
        export, (*webnode_submissions(seed=3, now=AS_OF, count=8), own), ExportFormat.CSV_SEMICOLON_BOM
    )
    monkeypatch.setenv("HYGIENE_STRESSFRI_WEBNODE_EXPORT", str(export))
    return customer.email


def offer_emails(mailbox: SeededMailbox) -> list[str]:
    sheet = load_workbook(mailbox.workbook)["Tilbud"]
    return [str(row[2]).lower() for row in sheet.iter_rows(min_row=2, values_only=True) if row[2]]


@pytest.mark.usefixtures("prefect_server")
def test_an_erasure_removes_the_workbook_rows_and_leaves_webnode_to_a_person(
    stressfri: str,
    mailbox: SeededMailbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    io = (capsys, monkeypatch)
    rows_before = len(offer_emails(mailbox))
    request_id = open_request(*io, "stressfri", "erasure", email=stressfri)
    result = cli(*io, "request", "erase", request_id, "--out", str(tmp_path / "svar.txt"), "--json")
    assert result.code == 0, result.err
    assert stressfri.lower() not in offer_emails(mailbox) and len(offer_emails(mailbox)) == rows_before - 1
    answer = {s["system"]: s for s in result.json()["systems"]}
    assert answer["offers"]["deleted"] == 1
    customer_mail = set(mailbox.manifest.of_customer(mailbox.customers[0].ref))
    assert customer_mail and not customer_mail & mailbox.remaining()
    assert answer["gmail"]["deleted"] == len(customer_mail) and answer["gmail"]["failed"] == 0
    assert answer["webnode"]["found"] == 1 and answer["webnode"]["by_hand"] == 1
    assert {"phone", "visma", "hano", "mac_documents"} <= set(result.json()["by_hand"])
    letter = (tmp_path / "svar.txt").read_text(encoding="utf-8")
    assert "Svar på din forespørsel om sletting" in letter and "slettes manuelt" in letter
    assert "webnode (kontaktskjema på nettsiden)" in letter and stressfri.lower() not in letter.lower()


@pytest.mark.usefixtures("prefect_server")
def test_an_access_request_exports_exactly_what_was_seeded_for_the_person(
    stressfri: str,
    mailbox: SeededMailbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    io = (capsys, monkeypatch)
    request_id = open_request(*io, "stressfri", "portability", email=stressfri)
    result = cli(*io, "request", "export", request_id, "--out", str(tmp_path / "svar"))
    assert result.code == 0, result.err
    document = json.loads((tmp_path / "svar" / "export.json").read_text(encoding="utf-8"))
    found = {system["system"]: system["records"] for system in document["systems"]}
    assert set(found) == {"offers", "webnode", "gmail"}
    assert len(found["gmail"]) == len(mailbox.manifest.of_customer(mailbox.customers[0].ref))
    [row] = found["offers"]
    assert row["E-post"].lower() == stressfri.lower() and row["Status"] in {"aktiv", "avsluttet"}
    [submission] = found["webnode"]
    assert submission["Melding"] == "Hei, kan dere ringe meg?" and submission["Telefon"] == "+47 900 00 001"
    assert "Dine opplysninger hos Stressfri" in (tmp_path / "svar" / "export.html").read_text(encoding="utf-8")
    assert len(offer_emails(mailbox)) == len(mailbox.customers), "an access request deletes nothing"
