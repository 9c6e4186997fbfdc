"""Webnode form exports (seeds/001, S1): CSV and XLSX as the admin page gives them, and the ways they break."""

from __future__ import annotations

import contextlib
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hygiene.connector import Connector, ConnectorError
from integrations.file_errors import DeletionByHand, HeaderChanged, MalformedFile
from integrations.webnode import WebnodeColumns, WebnodeConnector, entries_still_present, read_export
from sandbox.seed_files import ExportFormat, SeededSubmission, webnode_submissions, write_webnode_export

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OSLO = ZoneInfo("Europe/Oslo")
SUBMISSIONS = webnode_submissions(seed=1, now=NOW, count=12)
SUFFIX = {ExportFormat.CSV_SEMICOLON_BOM: ".csv", ExportFormat.CSV_COMMA: ".csv", ExportFormat.XLSX: ".xlsx"}


def export(
    tmp_path: Path, fmt: ExportFormat, language: str = "nb", entries: tuple[SeededSubmission, ...] = SUBMISSIONS
) -> Path:
    path = tmp_path / f"skjema-{fmt.value}-{language}{SUFFIX[fmt]}"
    write_webnode_export(path, entries, fmt, language)
    return path


def ids(path: Path) -> list[str]:
    return [record.record_id for record in WebnodeConnector(path, tz=OSLO).records({}, "submitted_at")]


@pytest.mark.parametrize("fmt", list(ExportFormat))
@pytest.mark.parametrize("language", ["nb", "en"])
def test_every_submission_is_read_with_its_time_and_lower_cased_email(
    tmp_path: Path, fmt: ExportFormat, language: str
) -> None:
    records = list(WebnodeConnector(export(tmp_path, fmt, language), tz=OSLO).records({}, "submitted_at"))
    assert [r.subject for r in records] == [entry.email.lower() for entry in SUBMISSIONS]
    assert [r.trigger for r in records] == [entry.submitted_at.replace(tzinfo=OSLO) for entry in SUBMISSIONS]


def test_the_same_entries_get_the_same_ids_in_csv_and_xlsx(tmp_path: Path) -> None:
    exports = [export(tmp_path, fmt) for fmt in ExportFormat]
    assert ids(exports[0]) == ids(exports[1]) == ids(exports[2])
    assert len(set(ids(exports[0]))) == len(SUBMISSIONS)


def test_an_entry_keeps_its_id_in_the_next_months_export(tmp_path: Path) -> None:
    first = ids(export(tmp_path, ExportFormat.CSV_SEMICOLON_BOM))
    later = webnode_submissions(seed=2, now=NOW + timedelta(days=30), count=3)
    (tmp_path / "next").mkdir()
    second = export(tmp_path / "next", ExportFormat.XLSX, "en", SUBMISSIONS[4:] + later)
    assert set(first[4:]) <= set(ids(second))
    assert not set(first[:4]) & set(ids(second))


def test_a_changed_message_is_a_different_entry(tmp_path: Path) -> None:
    entry = SUBMISSIONS[0]
    edited = SeededSubmission(entry.submitted_at, entry.name, entry.email, entry.phone, entry.message + "!")
    assert ids(export(tmp_path, ExportFormat.CSV_COMMA, entries=(entry,))) != ids(
        export(tmp_path, ExportFormat.XLSX, entries=(edited,))
    )


def test_entries_still_present_lists_only_the_ids_the_export_holds(tmp_path: Path) -> None:
    before = ids(export(tmp_path, ExportFormat.CSV_SEMICOLON_BOM))
    after = export(tmp_path, ExportFormat.XLSX, entries=SUBMISSIONS[:5])
    assert entries_still_present(after, before, tz=OSLO) == set(before[:5])


def test_verify_absent_reads_the_newer_export(tmp_path: Path) -> None:
    before = ids(export(tmp_path, ExportFormat.CSV_SEMICOLON_BOM))
    newer = WebnodeConnector(export(tmp_path, ExportFormat.CSV_COMMA, entries=SUBMISSIONS[3:]), tz=OSLO)
    proofs = newer.verify_absent(before[2:4])
    assert [proof.absent for proof in proofs] == [True, False]


def test_the_connector_is_read_only(tmp_path: Path) -> None:
    connector = WebnodeConnector(export(tmp_path, ExportFormat.CSV_COMMA))
    assert isinstance(connector, Connector)
    assert not connector.capabilities.permanent_delete and connector.capabilities.batch_size == 0
    with pytest.raises(DeletionByHand, match="by hand in Webnode's admin page"):
        connector.delete(ids(connector.export_path))


def test_labels_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "eget.csv"
    path.write_text("Tidspunkt;Epostadresse;Spørsmål\n2026-11-01T09:15;A@B.no;Hei\n", encoding="utf-8")
    columns = WebnodeColumns(email=("Epostadresse",), message=("Spørsmål",))
    (entry,) = read_export(path, columns=columns)
    assert entry.email == "a@b.no" and entry.submitted_at == datetime(2026, 11, 1, 9, 15, tzinfo=UTC)


def write(tmp_path: Path, content: bytes, name: str = "skjema.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_a_truncated_file_with_an_open_quote_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, b'Dato;E-post;Melding\n01.11.2026 10:00;a@b.no;ok\n02.11.2026 11:00;c@d.no;"Hei, jeg')
    with pytest.raises(MalformedFile, match=r"skjema\.csv: row 3: unexpected end of data"):
        list(read_export(path))


def test_a_last_row_with_missing_columns_is_reported_as_truncated(tmp_path: Path) -> None:
    path = write(tmp_path, b"Dato;Navn;E-post;Melding\n01.11.2026 10:00;Ola;a@b.no;ok\n02.11.2026 11:00;Kari")
    with pytest.raises(MalformedFile, match=r"row 3: 2 of 4 columns; the file looks truncated"):
        list(read_export(path))


def test_a_windows_1252_file_is_reported_not_guessed(tmp_path: Path) -> None:
    path = write(tmp_path, "Dato;Navn;E-post\n01.11.2026 10:00;Bjørn Ærø;b@c.no\n".encode("cp1252"))
    with pytest.raises(MalformedFile, match=r"not UTF-8 \(first bad byte on line 2\); it looks like Windows-1252"):
        list(read_export(path))


def test_an_xlsx_that_is_not_an_xlsx_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"Dato;E-post\n01.11.2026;a@b.no\n", "skjema.xlsx")
    with pytest.raises(MalformedFile, match=r"skjema\.xlsx: not an xlsx workbook$"):
        list(read_export(path))


def test_a_zip_that_is_not_a_workbook_is_not_an_xlsx(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "skjema.xlsx", "w") as package:
        package.writestr("hello.txt", "hei")
    with pytest.raises(MalformedFile, match="not an xlsx workbook"):
        list(read_export(tmp_path / "skjema.xlsx"))


def test_a_changed_header_names_the_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, b"Dato;Navn;Mobil\n01.11.2026 10:00;Ola;900\n")
    with pytest.raises(HeaderChanged, match="no column 'E-post' / 'E-mail'"):
        list(read_export(path))


def test_a_bad_date_names_row_and_column_but_not_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, b"Dato;E-post\n01.11.2026 10:00;a@b.no\nneste tirsdag;ola@nordmann.no\n")
    with pytest.raises(MalformedFile, match=r"row 3, column 'Dato': not a date") as caught:
        list(read_export(path))
    assert "tirsdag" not in str(caught.value) and "ola@" not in str(caught.value)


def test_an_empty_file_is_an_empty_export(tmp_path: Path) -> None:
    with pytest.raises(MalformedFile, match="empty export"):
        list(read_export(write(tmp_path, b"")))


def test_a_missing_export_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="cannot read the export"):
        list(read_export(tmp_path / "borte.csv"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400))
def test_random_bytes_never_crash_the_csv_reader(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content)
    with contextlib.suppress(ConnectorError):
        list(read_export(path))


csv_text = st.lists(
    st.lists(
        st.sampled_from(
            ["Dato", "E-post", "Melding", "01.11.2026 10:00", "a@b.no", '"', ";", ",", "\n", "æøå", "\r", ""]
        ),
        max_size=8,
    ),
    max_size=6,
).map(lambda rows: "\n".join("".join(row) for row in rows))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_text | st.text(max_size=300))
def test_random_csv_like_text_never_crashes_the_reader(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text.encode("utf-8", "surrogatepass"))
    try:
        list(read_export(path))
    except ConnectorError as error:
        assert "\n" not in str(error)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_a_submission_naming_the_person_is_a_probable_match_by_row(tmp_path: Path, fmt: ExportFormat) -> None:
    at = NOW.replace(tzinfo=None)
    entries = (
        SeededSubmission(at, "Ann Hansen", "ann@example.dk", "+47 912 34 567", "Hei"),
        SeededSubmission(at, "Per Olsen", "per@example.no", "", "Min kone ANN  HANSEN ringer deg."),
        SeededSubmission(at, "Joann Hansen", "joann@example.no", "", "Ann Hansenius sendte meg."),
    )
    path = export(tmp_path, fmt, entries=entries)
    connector = WebnodeConnector(path, tz=OSLO)
    keys = [record.record_id for record in connector.records({}, "submitted_at")]
    assert list(connector.mentions_of("Ann Hansen")) == [(keys[0], "row 2"), (keys[1], "row 3")]
