"""The folder connector on real file trees: Calmo's invoices and client logbooks (seeds/003, K1 and K2)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hygiene.connector import Connector, ConnectorError
from integrations.file_errors import SourceUnreadable, UndatedFiles
from integrations.folder import DateSource, Fallback, FolderConnector
from sandbox.seed_files import INVOICE_PATTERN, LOGBOOK_PATTERN, FolderManifest, calmo_folder

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def drive(tmp_path: Path) -> FolderManifest:
    return calmo_folder(tmp_path / "drive", seed=3, now=NOW)


def invoices(manifest: FolderManifest) -> FolderConnector:
    return FolderConnector(manifest.root, "fakturaer/**/*.pdf", DateSource(INVOICE_PATTERN))


def logbooks(manifest: FolderManifest) -> FolderConnector:
    return FolderConnector(manifest.root, "klientlogboeger/Arkiv/*.md", DateSource(LOGBOOK_PATTERN))


def test_the_folder_connector_satisfies_the_connector_protocol(drive: FolderManifest) -> None:
    assert isinstance(invoices(drive), Connector)
    assert invoices(drive).capabilities.permanent_delete


def test_every_invoice_is_streamed_with_the_date_in_its_name(drive: FolderManifest) -> None:
    found = {record.record_id: record.trigger for record in invoices(drive).records({}, "invoice_date")}
    expected = {
        file.relative: datetime.combine(file.dated, datetime.min.time(), UTC)
        for file in drive.of_kind("invoice")
        if file.dated
    }
    assert found == expected


def test_the_subject_comes_from_the_named_group_in_the_pattern(drive: FolderManifest) -> None:
    subjects = {record.subject for record in logbooks(drive).records({}, "course_ended_at")}
    assert subjects == {file.subject for file in drive.of_kind("logbook")}


def test_logbooks_older_than_a_cutoff_match_the_ground_truth(drive: FolderManifest) -> None:
    cutoff = date(2025, 11, 23)
    records = logbooks(drive).records({}, "course_ended_at")
    old = {r.record_id for r in records if r.trigger is not None and r.trigger.date() < cutoff}
    assert old == drive.dated_before(cutoff, kind="logbook")
    assert old  # the seed spreads course ends over 6 to 18 months, so some are past the 1-year mark


def test_a_date_is_midnight_in_the_configured_zone(drive: FolderManifest) -> None:
    zone = ZoneInfo("Europe/Copenhagen")
    connector = FolderConnector(drive.root, "fakturaer/**/*.pdf", DateSource(INVOICE_PATTERN), tz=zone)
    record = next(iter(connector.records({}, "invoice_date")))
    assert record.trigger is not None and record.trigger.tzinfo == zone and record.trigger.hour == 0


def test_the_selection_narrows_to_a_subfolder_and_pattern(drive: FolderManifest) -> None:
    connector = FolderConnector(drive.root)
    found = {r.record_id for r in connector.records({"folder": "fakturaer/2019", "pattern": "**/*.pdf"}, "d")}
    assert found == {f.relative for f in drive.of_kind("invoice") if f.relative.startswith("fakturaer/2019/")}


def test_a_selection_outside_the_root_is_refused(drive: FolderManifest) -> None:
    with pytest.raises(SourceUnreadable):
        list(FolderConnector(drive.root).records({"folder": "../elsewhere"}, "d"))


def test_an_unknown_selection_key_is_refused(drive: FolderManifest) -> None:
    with pytest.raises(SourceUnreadable, match="unknown selection"):
        list(FolderConnector(drive.root).records({"label": "x"}, "d"))


def test_a_strftime_format_as_the_policies_write_it_dates_files(drive: FolderManifest) -> None:
    connector = FolderConnector(drive.root, "fakturaer/**/*", DateSource(name_pattern="%Y-%m-%d"))
    expected = {f.relative: f.dated for f in drive.of_kind("invoice")}
    assert {r.record_id: r.trigger.date() for r in connector.records({}, "d") if r.trigger} == expected


def test_a_folder_selection_reads_only_the_archive_not_running_courses(drive: FolderManifest) -> None:
    connector = FolderConnector(drive.root / "klientlogboeger", date_source=DateSource(name_pattern="%Y-%m-%d"))
    found = {r.record_id for r in connector.records({"folder": "Arkiv"}, "course_ended_at")}
    assert found == {f.relative.removeprefix("klientlogboeger/") for f in drive.of_kind("logbook")}


def test_a_day_first_format_is_parsed_with_that_format(tmp_path: Path) -> None:
    (tmp_path / "faktura_31.12.2019.pdf").write_bytes(b"%PDF")
    (record,) = FolderConnector(tmp_path, date_source=DateSource(name_pattern="%d.%m.%Y")).records({}, "d")
    assert record.trigger == datetime(2019, 12, 31, tzinfo=UTC)


def test_records_are_streamed_lazily(drive: FolderManifest) -> None:
    stream = invoices(drive).records({}, "invoice_date")
    first = next(iter(stream))
    assert first.record_id.startswith("fakturaer/")


def test_an_undated_file_stops_the_stream_without_printing_its_name(tmp_path: Path) -> None:
    manifest = calmo_folder(tmp_path / "drive", seed=3, now=NOW, logbooks=3, undated=2)
    undated = manifest.of_kind("undated")
    connector = FolderConnector(manifest.root, "klientlogboeger/Arkiv/*.md")
    with pytest.raises(UndatedFiles) as caught:
        list(connector.records({}, "course_ended_at"))
    message = str(caught.value)
    assert "2 files have no readable date" in message and "\n" not in message
    for file in undated:
        person = Path(file.relative).name.removesuffix(" logbog.md")
        assert person not in message and person.split()[0] not in message


def test_the_undated_error_names_the_configured_subfolder_and_a_masked_tail(tmp_path: Path) -> None:
    (tmp_path / "logs" / "Mette Hansen").mkdir(parents=True)
    (tmp_path / "logs" / "Mette Hansen" / "noter.md").write_text("x")
    with pytest.raises(UndatedFiles, match=r"first is #1 in walk order at logs/…/…r\.md"):
        list(FolderConnector(tmp_path).records({"folder": "logs"}, "d"))


def test_a_missing_folder_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match="cannot be read") as caught:
        list(FolderConnector(tmp_path / "ekstern-disk").records({}, "d"))
    assert str(tmp_path / "ekstern-disk") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_date_pattern_without_a_date_group_is_refused() -> None:
    with pytest.raises(ConnectorError, match="no named group 'date'"):
        DateSource(r"\d{4}-\d{2}-\d{2}")


def test_mtime_is_used_only_when_configured(tmp_path: Path) -> None:
    (tmp_path / "kontrakt.pdf").write_bytes(b"%PDF")
    moment = datetime(2020, 5, 1, 8, 30, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "kontrakt.pdf", (moment, moment))
    with pytest.raises(UndatedFiles):
        list(FolderConnector(tmp_path).records({}, "d"))
    connector = FolderConnector(tmp_path, date_source=DateSource(fallback=Fallback.MTIME))
    (record,) = connector.records({}, "d")
    assert record.trigger == datetime(2020, 5, 1, 8, 30, tzinfo=UTC)
    assert record.attributes["date_source"] == "mtime"


def test_a_sidecar_dates_a_file_and_is_not_a_record_itself(tmp_path: Path) -> None:
    (tmp_path / "kontrakt.pdf").write_bytes(b"%PDF")
    (tmp_path / "kontrakt.pdf.date").write_text("2019-12-31\n")
    connector = FolderConnector(tmp_path, date_source=DateSource(fallback=Fallback.SIDECAR))
    (record,) = connector.records({}, "d")
    assert record.record_id == "kontrakt.pdf"
    assert record.trigger == datetime(2019, 12, 31, tzinfo=UTC)


def test_dot_files_and_links_are_not_records(drive: FolderManifest) -> None:
    (drive.root / "fakturaer" / ".DS_Store").write_bytes(b"\0\0")
    target = next(iter(drive.of_kind("invoice"))).relative
    (drive.root / "fakturaer" / "2099-01-01_faktura_9999.pdf").symlink_to(drive.root / target)
    found = {r.record_id for r in invoices(drive).records({}, "invoice_date")}
    assert found == {file.relative for file in drive.of_kind("invoice")}


def listed(connector: FolderConnector) -> FolderConnector:
    """The connector after it listed its folder: only a file it listed may be deleted."""
    list(connector.records({}, "d"))
    return connector


def test_deleting_removes_exactly_the_given_files(drive: FolderManifest) -> None:
    connector = listed(invoices(drive))
    doomed = sorted(drive.dated_before(date(2021, 1, 1), kind="invoice"))
    receipts = connector.delete(doomed)
    assert all(receipt.ok for receipt in receipts)
    remaining = {r.record_id for r in connector.records({}, "invoice_date")}
    assert remaining == {f.relative for f in drive.of_kind("invoice")} - set(doomed)
    assert not any((drive.root / relative).exists() for relative in doomed)


def test_a_receipt_carries_the_sha256_of_the_deleted_content(drive: FolderManifest) -> None:
    relative = next(iter(drive.of_kind("logbook"))).relative
    expected = hashlib.sha256((drive.root / relative).read_bytes()).hexdigest()
    (receipt,) = listed(logbooks(drive)).delete([relative])
    assert receipt.digest == expected and receipt.detail == "file removed permanently (no trash)"


def test_deleting_a_file_already_gone_succeeds_so_a_rerun_is_harmless(drive: FolderManifest) -> None:
    relative = next(iter(drive.of_kind("logbook"))).relative
    connector = listed(logbooks(drive))
    connector.delete([relative])
    (again,) = connector.delete([relative])
    assert again.ok and again.detail == "already absent"


def test_deleting_outside_the_root_is_refused(drive: FolderManifest, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("keep")
    (receipt,) = invoices(drive).delete(["../keep.txt"])
    assert not receipt.ok
    assert (tmp_path / "keep.txt").exists()


def test_a_sidecar_is_deleted_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "kontrakt.pdf").write_bytes(b"%PDF")
    (tmp_path / "kontrakt.pdf.date").write_text("2019-12-31")
    listed(FolderConnector(tmp_path, date_source=DateSource(fallback=Fallback.SIDECAR))).delete(["kontrakt.pdf"])
    assert list(tmp_path.iterdir()) == []


def test_verify_absent_proves_deleted_files_and_flags_kept_ones(drive: FolderManifest) -> None:
    deleted, kept = (file.relative for file in drive.of_kind("logbook")[:2])
    connector = listed(logbooks(drive))
    connector.delete([deleted])
    proofs = {proof.record_id: proof.absent for proof in connector.verify_absent([deleted, kept])}
    assert proofs == {deleted: True, kept: False}
