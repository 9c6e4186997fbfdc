"""Stressfri's offers workbook (seeds/001, S4 and S2): encrypted xlsx, rows deleted in place, the rest kept."""

from __future__ import annotations

import io
import os
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msoffcrypto
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.chart import BarChart, Reference
from pydantic import SecretStr

from hygiene.connector import Connector
from integrations.file_errors import HeaderChanged, MalformedFile, MissingEndDate, UnsafeToWrite, WrongPassword
from integrations.spreadsheet import OfferSheet, SpreadsheetConnector, _RowShift, shift_formula
from sandbox.seed_files import SUMMARY_SHEET, OffersManifest, offers_workbook

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FIVE_YEARS_AGO = date(2021, 11, 23)
PASSWORD = "Fingeravtrykk-2022"


@pytest.fixture
def plain(tmp_path: Path) -> OffersManifest:
    return offers_workbook(tmp_path / "tilbud.xlsx", seed=1, now=NOW)


@pytest.fixture
def encrypted(tmp_path: Path) -> OffersManifest:
    return offers_workbook(tmp_path / "tilbud-kode.xlsx", seed=1, now=NOW, password=PASSWORD)


def connector(manifest: OffersManifest, **options: Any) -> SpreadsheetConnector:
    password = SecretStr(manifest.password) if manifest.password else None
    return SpreadsheetConnector(manifest.path, password=password, **options)


def open_plain(path: Path, password: str | None = None) -> Workbook:
    if password is None:
        return load_workbook(path)
    office = msoffcrypto.OfficeFile(path.open("rb"))
    office.load_key(password=password)
    decrypted = io.BytesIO()
    office.decrypt(decrypted)
    return load_workbook(decrypted)


def old_ids(manifest: OffersManifest) -> list[str]:
    records = connector(manifest).records({}, "date")
    return [r.record_id for r in records if r.trigger is not None and r.trigger.date() < FIVE_YEARS_AGO]


def cell_state(cell: Any) -> tuple[Any, ...]:
    return (cell.value, cell.number_format, cell.font.b, cell.font.i, cell.fill.fgColor.rgb, cell.alignment.wrap_text)


def test_the_spreadsheet_connector_satisfies_the_connector_protocol(plain: OffersManifest) -> None:
    assert isinstance(connector(plain), Connector)


def test_rows_stream_with_the_offer_date_and_lower_cased_email(plain: OffersManifest) -> None:
    records = list(connector(plain).records({}, "date"))
    assert [r.subject for r in records] == [offer.email.lower() for offer in plain.offers]
    assert [r.trigger for r in records] == [
        datetime.combine(o.offered_on, datetime.min.time(), UTC) for o in plain.offers
    ]
    assert [r.record_id.split("#")[0] for r in records] == [f"Tilbud!{offer.row}" for offer in plain.offers]


def test_the_ended_at_trigger_reads_the_end_date_column(plain: OffersManifest) -> None:
    records = list(connector(plain).records({}, "Avsluttet dato"))
    assert [r.trigger.date() if r.trigger else None for r in records] == [o.ended_on for o in plain.offers]


def test_an_unknown_trigger_is_refused(plain: OffersManifest) -> None:
    with pytest.raises(MalformedFile, match="no date column for trigger 'Beløp'"):
        list(connector(plain).records({}, "Beløp"))


def test_an_encrypted_workbook_opens_with_its_password(encrypted: OffersManifest) -> None:
    assert len(list(connector(encrypted).records({}, "date"))) == len(encrypted.offers)


def test_a_wrong_password_is_one_line_naming_the_file_and_the_setting(encrypted: OffersManifest) -> None:
    wrong = SpreadsheetConnector(encrypted.path, password=SecretStr("feil-kode"))
    with pytest.raises(WrongPassword) as caught:
        list(wrong.records({}, "date"))
    assert str(caught.value) == f"wrong password for {encrypted.path}; set HYGIENE_SPREADSHEET_PASSWORD"


def test_an_encrypted_workbook_without_a_password_says_so(encrypted: OffersManifest) -> None:
    with pytest.raises(WrongPassword, match="is password-protected and no password is configured"):
        list(SpreadsheetConnector(encrypted.path).records({}, "date"))


def test_a_file_that_is_not_an_xlsx_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "tilbud.xlsx").write_text("Dato;Kunde\n")
    with pytest.raises(MalformedFile, match=r"tilbud\.xlsx: not an xlsx workbook$"):
        list(SpreadsheetConnector(tmp_path / "tilbud.xlsx").records({}, "date"))


def test_a_changed_header_names_the_missing_column(plain: OffersManifest) -> None:
    workbook = load_workbook(plain.path)
    workbook["Tilbud"]["H1"] = "Slutt"
    workbook.save(plain.path)
    with pytest.raises(HeaderChanged, match="no column 'Avsluttet dato'"):
        list(connector(plain).records({}, "date"))


def test_a_renamed_sheet_is_a_changed_layout(plain: OffersManifest) -> None:
    with pytest.raises(HeaderChanged, match="has no sheet 'Salg'"):
        list(connector(plain, sheet=OfferSheet(name="Salg")).records({}, "date"))


def test_deleting_the_old_rows_keeps_the_rest_of_the_workbook_identical(plain: OffersManifest) -> None:
    before = load_workbook(plain.path)
    doomed = old_ids(plain)
    gone_rows = {int(record_id.split("!")[1].split("#")[0]) for record_id in doomed}
    assert all(receipt.ok for receipt in connector(plain).delete(doomed))
    after = load_workbook(plain.path)

    assert after.sheetnames == before.sheetnames
    kept = [row for row in before["Tilbud"].iter_rows() if row[0].row not in gone_rows]
    assert after["Tilbud"].max_row == len(kept)
    for old_row, new_row in zip(kept, after["Tilbud"].iter_rows(), strict=True):
        assert [cell_state(cell) for cell in old_row[:8]] == [cell_state(cell) for cell in new_row[:8]]
    widths = {key: dim.width for key, dim in before["Tilbud"].column_dimensions.items()}
    assert {key: dim.width for key, dim in after["Tilbud"].column_dimensions.items()} == widths
    assert after["Tilbud"].freeze_panes == before["Tilbud"].freeze_panes
    summary_before, summary_after = before[SUMMARY_SHEET], after[SUMMARY_SHEET]
    for cell in ("A1", "A2", "A3", "A4", "A5", "B4", "B5"):
        assert cell_state(summary_after[cell]) == cell_state(summary_before[cell])


def test_exactly_the_rows_older_than_five_years_are_gone(plain: OffersManifest) -> None:
    connector(plain).delete(old_ids(plain))
    remaining = {r.subject for r in connector(plain).records({}, "date")}
    old = {offer.email.lower() for offer in plain.offered_before(FIVE_YEARS_AGO)}
    assert remaining == {offer.email.lower() for offer in plain.offers} - old
    assert old


def test_formulas_pointing_at_the_offers_sheet_follow_the_deleted_rows(plain: OffersManifest) -> None:
    doomed = old_ids(plain)
    connector(plain).delete(doomed)
    after = load_workbook(plain.path)
    last = len(plain.offers) + 1 - len(doomed)
    assert after[SUMMARY_SHEET]["B1"].value == f"=SUM(Tilbud!F2:F{last})"
    assert after[SUMMARY_SHEET]["B2"].value == f"=COUNTA(Tilbud!$B$2:$B${last})"
    assert after.defined_names["Tilbudsliste"].attr_text == f"Tilbud!$A$2:$I${last}"
    assert [row[8].value for row in after["Tilbud"].iter_rows(min_row=2)] == [
        f"=F{row}*1.25" for row in range(2, last + 1)
    ]


def test_a_reference_to_a_deleted_cell_becomes_ref_error(plain: OffersManifest) -> None:
    first_row = next(iter(connector(plain).records({}, "date"))).record_id
    connector(plain).delete([first_row])
    assert load_workbook(plain.path)[SUMMARY_SHEET]["B3"].value == "=Tilbud!#REF!"


@pytest.mark.parametrize(
    ("formula", "host", "expected"),
    [
        ("=SUM(Tilbud!F2:F10)", "Oppsummering", "=SUM(Tilbud!F2:F7)"),
        ("=Tilbud!$A$9+Tilbud!A3", "Oppsummering", "=Tilbud!$A$6+Tilbud!#REF!"),
        ("='Tilbud'!B4:B5", "Oppsummering", "='Tilbud'!#REF!"),
        ("=SUM(F2:F10)", "Tilbud", "=SUM(F2:F7)"),
        ("=SUM(F2:F10)", "Oppsummering", "=SUM(F2:F10)"),
        ("=SUM(Tilbud!F:F)", "Oppsummering", "=SUM(Tilbud!F:F)"),
        ('=Tilbud!A2&"Tilbud!A9"', "Oppsummering", '=Tilbud!A2&"Tilbud!A9"'),
    ],
)
def test_shift_formula_moves_references_like_excel(formula: str, host: str, expected: str) -> None:
    assert shift_formula(formula, host, "Tilbud", _RowShift((3, 4, 5))) == expected


def test_an_encrypted_workbook_stays_encrypted_with_the_same_password(encrypted: OffersManifest) -> None:
    doomed = old_ids(encrypted)
    connector(encrypted).delete(doomed)
    assert msoffcrypto.OfficeFile(encrypted.path.open("rb")).is_encrypted()
    assert open_plain(encrypted.path, PASSWORD)["Tilbud"].max_row == len(encrypted.offers) + 1 - len(doomed)


def test_the_write_is_atomic_and_keeps_the_file_mode(plain: OffersManifest) -> None:
    os.chmod(plain.path, 0o600)
    connector(plain).delete(old_ids(plain))
    assert stat.S_IMODE(plain.path.stat().st_mode) == 0o600
    assert sorted(path.name for path in plain.path.parent.iterdir()) == [plain.path.name]


def test_verify_absent_proves_the_deleted_rows_and_flags_the_kept(plain: OffersManifest) -> None:
    doomed = old_ids(plain)
    kept = next(r.record_id for r in connector(plain).records({}, "date") if r.record_id not in doomed)
    connector(plain).delete(doomed)
    proofs = connector(plain).verify_absent([*doomed, kept])
    assert [proof.absent for proof in proofs] == [True] * len(doomed) + [False]


def test_a_rerun_deletes_nothing_more_and_leaves_the_file_alone(plain: OffersManifest) -> None:
    doomed = old_ids(plain)
    connector(plain).delete(doomed)
    content = plain.path.read_bytes()
    receipts = connector(plain).delete(doomed)
    assert all(r.ok and r.detail == "no row with this content" for r in receipts)
    assert plain.path.read_bytes() == content


def test_a_row_that_moved_is_still_found_by_its_content(plain: OffersManifest) -> None:
    target = old_ids(plain)[0]
    workbook = load_workbook(plain.path)
    workbook["Tilbud"].insert_rows(2)
    workbook.save(plain.path)
    connector(plain).delete([target])
    assert target.split("#")[1] not in {r.record_id.split("#")[1] for r in connector(plain).records({}, "date")}
    assert load_workbook(plain.path)["Tilbud"].max_row == len(plain.offers) + 1


def test_a_row_edited_since_it_was_read_is_left_in_place(plain: OffersManifest) -> None:
    target = old_ids(plain)[0]
    row = int(target.split("!")[1].split("#")[0])
    workbook = load_workbook(plain.path)
    workbook["Tilbud"].cell(row, 7).value = "aktiv"
    workbook.save(plain.path)
    connector(plain).delete([target])
    assert load_workbook(plain.path)["Tilbud"].cell(row, 7).value == "aktiv"


def test_a_workbook_with_a_chart_is_refused_rather_than_losing_it(plain: OffersManifest) -> None:
    workbook = load_workbook(plain.path)
    chart = BarChart()
    chart.add_data(Reference(workbook["Tilbud"], min_col=6, min_row=1, max_row=5), titles_from_data=True)
    workbook[SUMMARY_SHEET].add_chart(chart, "D2")
    workbook.save(plain.path)
    content = plain.path.read_bytes()
    with pytest.raises(UnsafeToWrite, match="charts, images or macros"):
        connector(plain).delete(old_ids(plain))
    assert plain.path.read_bytes() == content


def test_a_workbook_open_in_excel_is_not_written(plain: OffersManifest) -> None:
    (plain.path.parent / f"~${plain.path.name}").write_bytes(b"owner")
    with pytest.raises(UnsafeToWrite, match="open in Excel"):
        connector(plain).delete(old_ids(plain))


def test_the_register_lists_ended_customers_and_given_up_prospects(plain: OffersManifest) -> None:
    register = {entry.email_subject: entry.ended_at.date() for entry in connector(plain).customer_register()}
    assert register == plain.ended_subjects()


def test_a_customer_with_an_active_row_is_not_in_the_register(plain: OffersManifest) -> None:
    returning = plain.offers[-1].email.lower()
    assert any(o.email.lower() == returning and o.status != "aktiv" for o in plain.offers)
    assert returning not in {entry.email_subject for entry in connector(plain).customer_register()}


def test_an_ended_customer_without_an_end_date_names_the_row_not_the_customer(plain: OffersManifest) -> None:
    ended = next(offer for offer in plain.offers if offer.status == "avsluttet")
    workbook = load_workbook(plain.path)
    workbook["Tilbud"].cell(ended.row, 8).value = None
    workbook.save(plain.path)
    with pytest.raises(MissingEndDate, match=f"row {ended.row}, column 'Avsluttet dato'") as caught:
        list(connector(plain).customer_register())
    assert ended.customer not in str(caught.value) and ended.email not in str(caught.value)


def test_an_unknown_status_is_reported_with_its_row(plain: OffersManifest) -> None:
    workbook = load_workbook(plain.path)
    workbook["Tilbud"].cell(3, 7).value = "pågår"
    workbook.save(plain.path)
    with pytest.raises(MalformedFile, match="row 3, column 'Status': unknown status"):
        list(connector(plain).customer_register())


def test_a_row_naming_the_person_is_a_probable_match_by_row(plain: OffersManifest) -> None:
    workbook = load_workbook(plain.path)
    sheet = workbook["Tilbud"]
    sheet.cell(2, 2).value = "Ann Hansen"
    sheet.cell(3, 2).value = "Joann Hansen"
    sheet.cell(4, 2).value = "ann hansenius"
    workbook.save(plain.path)
    records = {r.attributes["row"]: r.record_id for r in connector(plain).records({}, "date")}
    assert list(connector(plain).mentions_of("Ann Hansen")) == [(records["2"], "row 2")]
