"""S4 through the enforce-rule flow, and bad files through the flows: one clear line each, nothing lost."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest

from hygiene.errors import HygieneError
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.pseudonym import is_pseudonym
from hygiene.windows import window_for
from integrations.file_errors import HeaderChanged, MalformedFile, WrongPassword
from sandbox import credentials
from sandbox.runner import RunningSandbox
from sandbox.seed_files import SUMMARY_SHEET, OffersManifest, offers_workbook
from tests.cli_runner import run_cli
from tests.integrations.test_spreadsheet import cell_state, open_plain

AS_OF = datetime.fromisoformat("2026-11-01T07:00:00+01:00")
PASSWORD = "Fingeravtrykk-2022"
STRESSFRI = load_policy(policies_dir(), "stressfri")

pytest_plugins = ["tests.gmail_fixtures"]


@pytest.fixture
def offers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gmail_sandbox: RunningSandbox) -> OffersManifest:
    """The encrypted offers workbook, configured where the policy says, and an empty mailbox (the sheet is its
    customer register, so S4 asks it which customers still have mail)."""
    manifest = offers_workbook(tmp_path / "tilbud.xlsx", seed=2, now=AS_OF, rows=30, password=PASSWORD)
    monkeypatch.setenv("HYGIENE_STRESSFRI_OFFERS", str(manifest.path))
    monkeypatch.setenv("HYGIENE_SPREADSHEET_PASSWORD", PASSWORD)
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/reset").raise_for_status()
    monkeypatch.setenv("HYGIENE_GMAIL_API_ENDPOINT", gmail_sandbox.gmail_endpoint)
    monkeypatch.setenv("HYGIENE_GMAIL_TOKEN", credentials.GMAIL_ACCESS_TOKEN)
    return manifest


def older_than_five_years(manifest: OffersManifest) -> set[int]:
    """The rows past S4's five years whose customer has ended (the register keeps an active customer's rows)."""
    rule = STRESSFRI.rule("S4")
    assert rule is not None
    ended = manifest.ended_subjects()
    due = set()
    for offer in (o for o in manifest.offers if o.email.lower() in ended):
        trigger = datetime.combine(offer.offered_on, datetime.min.time(), tzinfo=STRESSFRI.zone)
        not_before = window_for(STRESSFRI, rule, trigger).not_before
        if not_before is not None and not_before < AS_OF:
            due.add(offer.row)
    return due


@pytest.mark.usefixtures("prefect_server")
def test_s4_deletes_exactly_the_rows_older_than_five_years_and_keeps_the_rest(
    offers: OffersManifest, database_url: str
) -> None:
    from flows.enforce import enforce_rule

    before = open_plain(offers.path, PASSWORD)
    doomed = older_than_five_years(offers)
    assert doomed and len(doomed) < len(offers.offers)
    [result] = enforce_rule("stressfri", "S4", as_of=AS_OF, approved=True, pause_for_approval=False)
    assert result["deleted"] == len(doomed)
    after = open_plain(offers.path, PASSWORD)

    kept = [row for row in before["Tilbud"].iter_rows() if row[0].row not in doomed]
    assert after["Tilbud"].max_row == len(kept)
    for new_number, (old_row, new_row) in enumerate(zip(kept, after["Tilbud"].iter_rows(), strict=True), start=1):
        assert [cell_state(cell) for cell in old_row[:8]] == [cell_state(cell) for cell in new_row[:8]]
        if new_number > 1:
            assert new_row[8].value == f"=F{new_number}*1.25"
    last = len(kept)
    assert after[SUMMARY_SHEET]["B1"].value == f"=SUM(Tilbud!F2:F{last})"
    for cell in ("A1", "A2", "A3", "A4", "A5", "B4", "B5"):
        assert cell_state(after[SUMMARY_SHEET][cell]) == cell_state(before[SUMMARY_SHEET][cell])
    assert after.sheetnames == before.sheetnames

    intents = list(Ledger(database_url).entries(run_id=result["run_id"], kinds={EntryKind.INTENT}))
    assert len(intents) == len(doomed) and all(is_pseudonym(e.record or "") for e in intents)
    assert Ledger(database_url).verify().ok


def not_an_xlsx(manifest: OffersManifest) -> None:
    manifest.path.write_bytes(b"Dato;Kunde\n01.01.2020;someone\n")


def wrong_password(manifest: OffersManifest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYGIENE_SPREADSHEET_PASSWORD", "feil-kode")


def header_changed(manifest: OffersManifest, monkeypatch: pytest.MonkeyPatch) -> None:
    workbook = open_plain(manifest.path, PASSWORD)
    workbook["Tilbud"]["A1"] = "Date"
    workbook.save(manifest.path)  # saved without a password now; the header is what is wrong


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(
    ("spoil", "error", "line"),
    [
        (lambda m, mp: not_an_xlsx(m), MalformedFile, "not an xlsx workbook"),
        (wrong_password, WrongPassword, "wrong password for"),
        (header_changed, HeaderChanged, "the header row has no column 'Dato'"),
    ],
    ids=["not-xlsx", "wrong-password", "header-changed"],
)
def test_a_bad_workbook_stops_s4_with_one_line_and_deletes_nothing(
    offers: OffersManifest,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    spoil: object,
    error: type[HygieneError],
    line: str,
) -> None:
    from flows.enforce import enforce_rule

    spoil(offers, monkeypatch)  # type: ignore[operator]
    content = offers.path.read_bytes()
    with pytest.raises(error) as caught:
        enforce_rule("stressfri", "S4", as_of=AS_OF, approved=True, pause_for_approval=False)
    assert line in str(caught.value) and "\n" not in str(caught.value)
    assert offers.path.read_bytes() == content
    ledger = Ledger(database_url)
    assert not list(ledger.entries(kinds={EntryKind.INTENT, EntryKind.OUTCOME}))
    assert ledger.verify().ok


def truncated(path: Path) -> None:
    path.write_text('\ufeffDato;Navn;E-post;Melding\n01.10.2026 10:00;A;a@b.no;"Hei, jeg lurer\n', encoding="utf-8")


def windows_1252(path: Path) -> None:
    path.write_bytes("Dato;Navn;E-post\n01.10.2026 10:00;Bjørn Ærø;b@c.no\n".encode("cp1252"))


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(
    ("spoil", "line"),
    [(truncated, "the file looks damaged"), (windows_1252, "not UTF-8")],
    ids=["truncated", "windows-1252"],
)
def test_a_bad_export_stops_s1_with_one_line_and_records_no_checklist(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, spoil: object, line: str
) -> None:
    from flows.attest import attest

    path = tmp_path / "skjema.csv"
    spoil(path)  # type: ignore[operator]
    monkeypatch.setenv("HYGIENE_STRESSFRI_WEBNODE_EXPORT", str(path))
    with pytest.raises(MalformedFile) as caught:
        attest("stressfri", "S1", as_of=AS_OF)
    assert line in str(caught.value) and "\n" not in str(caught.value)
    assert not list(Ledger(database_url).entries(kinds={EntryKind.DECISION, EntryKind.ATTESTATION}))


@pytest.mark.usefixtures("prefect_server")
def test_the_cli_reports_a_bad_export_as_one_line(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "skjema.csv"
    truncated(path)
    monkeypatch.setenv("HYGIENE_STRESSFRI_WEBNODE_EXPORT", str(path))
    result = run_cli(capsys, monkeypatch, "attest", "stressfri", "S1", "--as-of", AS_OF.isoformat())
    assert result.code == 1
    assert result.err.startswith("error: ") and result.err.count("\n") == 1 and "looks damaged" in result.err
