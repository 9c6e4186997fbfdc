"""A person is found by their whole identifier, never by a piece of one: `ann@example.dk` is not in
`joann@example.dk`, nor in `ann@example.dk.other.org`, and `@` is no one. Checked on the pure matcher, on Calmo's
drive through the rights path's erase and export steps, and on the Gmail emulator through the SDK."""

from __future__ import annotations

import base64
import string
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from flows.rights import RequestRun
from hygiene.holds import HoldIndex
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.matching import (
    NotAnIdentifier,
    address_needle,
    email_address,
    national_id_needle,
    needle_for,
    phone_needle,
)
from hygiene.policies import load_policy
from hygiene.requests import IdentityCipher, RequestKind, RequestStore
from hygiene.settings import Settings
from integrations.file_errors import SourceUnreadable
from integrations.folder import FolderConnector
from integrations.gmail import GmailConnector
from sandbox.seed_gmail import OSLO
from tasks.rights import Identity, erase_on_system, export_from_system, rights_context
from tests.gmail_fixtures import SeededMailbox
from tests.rights_fixtures import EMAIL, SeededPerson, cli

pytest_plugins = ["tests.rights_fixtures", "tests.gmail_fixtures"]

ANN = "ann@example.dk"


def chunked(text: str, size: int) -> list[bytes]:
    data = text.encode()
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"E-mail: {ANN}\n", True),
        (f"<{ANN.upper()}>", True),
        (f"skriv til {ANN}.", True),
        (f"mailto:{ANN}?subject=x", True),
        (f"jo{ANN}", False),
        (f"x.{ANN}", False),
        (f"{ANN}.other.org", False),
        (f"{ANN}x", False),
        (f"{ANN}-x.dk", False),
        ("ann@example.d", False),
    ],
)
def test_an_address_is_found_only_whole_in_any_chunking(text: str, found: bool) -> None:
    needle = address_needle(ANN)
    for size in (1, 2, 3, 7, len(text)):
        assert needle.found_in(chunked(text, size)) is found, (text, size)


@given(
    before=st.text(alphabet=string.ascii_letters + string.digits + "._+-", min_size=1, max_size=8),
    after=st.sampled_from([".other.org", "x", "-x", ".dk", "0"]),
    size=st.integers(min_value=1, max_value=40),
)
def test_an_address_never_matches_a_longer_address_that_contains_it(before: str, after: str, size: int) -> None:
    needle = address_needle(ANN)
    longer = before + ANN + after
    assert not needle.found_in(chunked(f"cc: {longer}; {longer}\n", size))
    assert not needle.found_in(chunked(f"{before}{ANN}", size)) and not needle.found_in(chunked(ANN + after, size))


@pytest.mark.parametrize("value", ["@", "", "ann", "ann@", "@example.dk", "a b@example.dk", "ann@example..dk"])
def test_a_value_that_is_not_an_address_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(NotAnIdentifier, match=r"^--email: not an email address \(.+\)$"):
        email_address(value, "--email")


def test_an_address_is_kept_as_pseudonyms_read_it() -> None:
    assert email_address("  Ann@Example.DK ", "--email") == ANN


@pytest.mark.parametrize(
    ("number", "text", "found"),
    [
        ("+45 12 34 56 78", "tlf. 12 34 56 78", True),
        ("+45 12 34 56 78", "+4512345678", True),
        ("+45 12 34 56 78", "0045-12-34-56-78", True),
        ("+45 12 34 56 78", "112345678", False),
        ("+45 12 34 56 78", "1234567890", False),
        ("+46 70 123 45 67", "070-123 45 67", True),
        ("+46 70 123 45 67", "10701234567", False),
        ("010190-1234", "CPR 0101901234", True),
        ("010190-1234", "010190-12345", False),
        ("19900101-1239", "900101-1239", True),
        ("19900101-1239", "199001011239", True),
        ("19900101-1239", "2199001011239", False),
    ],
)
def test_phone_and_national_numbers_are_found_only_whole(number: str, text: str, found: bool) -> None:
    needle = phone_needle(number) if number.startswith("+") else national_id_needle(number)
    assert needle.found_in(chunked(text, 3)) is found
    assert needle_for(number) is not None


def test_a_reference_is_no_needle_and_an_at_sign_is_refused() -> None:
    assert needle_for("K7777") is None
    with pytest.raises(NotAnIdentifier):
        needle_for("@")


# ---- Calmo's drive through the rights path's erase and export steps (the tasks' functions) ---------------------

DECOYS = {
    "klientlogboeger/Arkiv/forloeb-slut_2025-06-01_K8881.md": f"# Klientlogbog K8881\nJoann\njo{EMAIL}\n",
    "klientlogboeger/Arkiv/forloeb-slut_2025-06-01_K8882.md": f"# Klientlogbog K8882\ncc: {EMAIL}.other.org\n",
    "klientlogboeger/Arkiv/forloeb-slut_2025-06-01_K8883.md": "# Klientlogbog K8883\nkontakt: @\n",
}


@pytest.fixture
def decoys(calmo_person: SeededPerson) -> SeededPerson:
    for relative, text in DECOYS.items():
        calmo_person.path(relative).write_text(text, encoding="utf-8")
    return calmo_person


def test_an_erasure_takes_the_persons_logbook_and_leaves_every_decoy(decoys: SeededPerson, database_url: str) -> None:
    policy = load_policy(policies_dir(), "calmo")
    ctx = rights_context(policy, "logbooks", Settings().key_for("calmo"), "r-decoys", datetime.now(policy.zone))
    answer = erase_on_system.fn(ctx, Identity(EMAIL.lower()), Ledger(database_url), HoldIndex({}, {}), None)
    assert (answer.found, answer.deleted) == (1, 1)
    assert not decoys.path("klientlogboeger/Arkiv/forloeb-slut_2025-06-01_K7777.md").exists()
    assert all(decoys.path(relative).exists() for relative in DECOYS)


def test_an_access_export_holds_none_of_the_decoys_text(decoys: SeededPerson, database_url: str) -> None:
    policy = load_policy(policies_dir(), "calmo")
    ctx = rights_context(policy, "logbooks", Settings().key_for("calmo"), "r-access", datetime.now(policy.zone))
    answer, records = export_from_system.fn(ctx, Identity(EMAIL.lower()), Ledger(database_url))
    assert answer.found == 1 and [r["file"] for r in records] == ["Arkiv/forloeb-slut_2025-06-01_K7777.md"]
    assert not any("Joann" in str(r["text"]) or "other.org" in str(r["text"]) for r in records)


def test_a_file_that_cannot_be_read_stops_the_search_and_its_name_stays_out(tmp_path: Path) -> None:
    (tmp_path / "a_K1.md").write_text(f"kontakt {ANN}", encoding="utf-8")
    swapped = tmp_path / "b_Joann Jensen.md"
    swapped.write_text("x", encoding="utf-8")
    search = FolderConnector(tmp_path, "*.md").records_of(ANN)
    assert next(search).record_id == "a_K1.md"
    swapped.unlink()  # listed as a file, then a folder by its name: the search cannot say whether it held Ann
    swapped.mkdir()
    with pytest.raises(SourceUnreadable) as error:
        next(search)
    assert "cannot be read" in str(error.value) and "Joann" not in str(error.value) and "…n.md" in str(error.value)


def test_request_open_refuses_an_at_sign_in_one_line_and_stores_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    result = cli(capsys, monkeypatch, "request", "open", "--controller", "calmo", "--kind", "erasure", "--email", "@")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1 and "not an email address" in result.err
    assert RequestStore(Ledger(database_url)).list_open() == []


# ---- Gmail: its search finds `joann@` for `from:ann@`; the connector keeps only whole addresses ----------------


def _insert(mailbox: SeededMailbox, header: str, address: str) -> str:
    mail = EmailMessage()
    mail["From"], mail[header], mail["Subject"] = "kontor@stressfri.example", address, "Tilbud"
    mail["Date"] = format_datetime(datetime(2026, 1, 5, 9, 0, tzinfo=OSLO))
    mail.set_content("Hei")
    body = {"raw": base64.urlsafe_b64encode(mail.as_bytes()).decode(), "labelIds": ["INBOX"]}
    return str(mailbox.service().users().messages().insert(userId="me", body=body).execute()["id"])


def test_gmail_finds_the_persons_mail_and_not_a_longer_address(mailbox: SeededMailbox) -> None:
    own = _insert(mailbox, "To", f"Ann <{ANN}>")
    _insert(mailbox, "To", f"jo{ANN}")
    _insert(mailbox, "Cc", f"{ANN}.other.org")
    found = {record.record_id for record in GmailConnector(mailbox.service(), tz=OSLO).records_of(ANN)}
    assert found == {own}


def test_a_stored_request_whose_identity_is_no_address_is_refused_by_the_rights_flows(database_url: str) -> None:
    """A request taken in before addresses were checked may hold `@`; the run stops before any system is searched."""
    policy = load_policy(policies_dir(), "clienti")
    key = Settings().key_for("clienti")
    ledger = Ledger(database_url)
    store = RequestStore(ledger)
    opened = store.open(policy, RequestKind.ERASURE, ANN, date(2026, 11, 2), key)
    sealed = IdentityCipher("clienti", key).seal(opened.request_id, b"@")
    with ledger.transaction() as conn:
        conn.execute(update(store.table).where(store.table.c.request_id == opened.request_id).values(identity=sealed))
    run = RequestRun(store.get(opened.request_id), policy, store, ledger, key, datetime.now(policy.zone))
    with pytest.raises(NotAnIdentifier, match=f"^request {opened.request_id}: not an email address"):
        run.identity()
