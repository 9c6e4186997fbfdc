"""Webnode contact-form submissions, read from the exports of Webnode's admin page (seeds/001, rule S1).

"Informasjonen som kommer inn fra kontaktskjemaet, og som lagres på administrasjonsgrensesnittet til Webnode,
blir manuelt slettet hver mnd." Webnode offers no API to delete form data, so this connector is read-only:
the flow computes which submissions are due, a person deletes them in the admin page, and the next export
proves they are gone (`entries_still_present`).

What an export looks like, as far as public information goes (Webnode does not document the file): one row per
submission, a date/time column first, then one column per form field named by the field's label as the site
owner wrote it, in the language of the form: typically Navn/Name, E-post/E-mail, Telefon/Phone,
Melding/Message. The date is written day first (`23.11.2026 14:05`) or in ISO form. Exports come as CSV
(UTF-8, often with a BOM, separated by semicolons or commas, messages quoted with line breaks inside) or as
XLSX. Because the labels are the owner's own, `WebnodeColumns` maps them and accepts Norwegian and English
labels by default; only the date and the email columns are required.

A submission has no id in the export, so its record id is derived from what the submission is: the time (to
the minute, which is what the CSV shows), the lower-cased email and a digest of the message. The same entry in
next month's export, CSV or XLSX, gets the same id.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from itertools import chain
from pathlib import Path

from hygiene.connector import AbsenceProof, Capabilities, Receipt, Record
from hygiene.matching import name_needle
from hygiene.pseudonym import normalise
from integrations.file_errors import DeletionByHand, MalformedFile, SourceUnreadable, cell_position
from integrations.spreadsheet import (
    Row,
    canonical,
    content_digest,
    is_blank,
    labelled,
    locate_columns,
    read_date,
    read_workbook,
    sheet_rows,
)

_DELIMITERS = (";", ",", "\t")
_REQUIRED = ("submitted_at", "email")


@dataclass(frozen=True)
class WebnodeColumns:
    """The labels each field may carry in an export; the first label is the one named in errors."""

    submitted_at: tuple[str, ...] = ("Dato", "Date", "Tidspunkt", "Time", "Sendt", "Submitted", "Created")
    email: tuple[str, ...] = ("E-post", "E-mail", "Email", "Epost", "E-postadresse", "E-mail address")
    message: tuple[str, ...] = ("Melding", "Message", "Beskjed", "Kommentar", "Comment")

    def wanted(self) -> dict[str, tuple[str, ...]]:
        return {"submitted_at": self.submitted_at, "email": self.email, "message": self.message}


@dataclass(frozen=True)
class Submission:
    """One submission as the connector needs it: no name, phone or message text is kept."""

    row: int
    submitted_at: datetime
    email: str
    key: str


def submission_key(submitted_at: datetime, email: str, message: str, tz: tzinfo) -> str:
    """The stable id of a submission: its local time to the minute, its email and a digest of its message."""
    minute = submitted_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    return "webnode:" + content_digest([minute, email, content_digest([message])])[:32]


def read_export(path: Path, *, columns: WebnodeColumns | None = None, tz: tzinfo = UTC) -> Iterator[Submission]:
    """Stream the submissions of a CSV or XLSX export; any defect is a one-line error naming row and column."""
    source = str(path)
    rows = table_rows(path)
    header = next(rows, None)
    if header is None or is_blank(header[1]):
        raise MalformedFile(f"{source}: empty export, no header row")
    wanted = (columns or WebnodeColumns()).wanted()
    found = locate_columns(header[1], wanted, source, required=_REQUIRED)
    width = len(header[1])
    for number, values in rows:
        if is_blank(values):
            continue
        _check_width(values, width, source, number)
        yield _submission(number, values, found, wanted, source, tz)


def entries_still_present(
    export_path: Path, record_ids: Sequence[str], *, columns: WebnodeColumns | None = None, tz: tzinfo = UTC
) -> set[str]:
    """Which of `record_ids` a (newer) export still holds: those were not deleted in Webnode's admin page."""
    wanted = set(record_ids)
    return {entry.key for entry in read_export(export_path, columns=columns, tz=tz) if entry.key in wanted}


class WebnodeConnector:
    """Submissions of one export as records. Read-only: deletion is done by hand and verified on the next export.

    The trigger is always the submission time, the one date an export has; the rule names what it means.
    """

    capabilities = Capabilities(system="webnode", batch_size=0, permanent_delete=False)

    def __init__(self, export_path: Path, *, columns: WebnodeColumns | None = None, tz: tzinfo = UTC) -> None:
        self.export_path = Path(export_path)
        self.columns = columns or WebnodeColumns()
        self.tz = tz

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        if selection:
            raise MalformedFile(f"{self.export_path}: a Webnode export takes no selection, got {sorted(selection)}")
        for entry in read_export(self.export_path, columns=self.columns, tz=self.tz):
            yield Record(entry.key, entry.email, entry.submitted_at, {"row": str(entry.row)})

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        raise DeletionByHand(
            f"webnode: {len(record_ids)} submissions cannot be deleted through an API; delete them by hand in "
            "Webnode's admin page (Forms, form data) and attest; the next export verifies they are gone"
        )

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """Check against this connector's export, which must be one taken after the deletion by hand."""
        present = entries_still_present(self.export_path, record_ids, columns=self.columns, tz=self.tz)
        proof = _file_digest(self.export_path)
        return [
            AbsenceProof(rid, rid not in present, "still in the export" if rid in present else "not in export", proof)
            for rid in record_ids
        ]

    def records_of(self, subject: str) -> Iterator[Record]:
        """The person's submissions in this export, found by the email they typed (case ignored)."""
        wanted = normalise(subject)
        for entry in read_export(self.export_path, columns=self.columns, tz=self.tz):
            if entry.email == wanted:
                yield Record(entry.key, entry.email, entry.submitted_at, {"row": str(entry.row)})

    def mentions_of(self, name: str) -> Iterator[tuple[str, str]]:
        """Submissions whose fields name the person (a probable match, for a person to check), by row number:
        the name typed in the form by someone whose address is another, or written in a message."""
        needle = name_needle(name)
        keys = {entry.row: entry.key for entry in read_export(self.export_path, columns=self.columns, tz=self.tz)}
        for number, values in table_rows(self.export_path):
            if number in keys and needle.in_text("\n".join(str(value) for value in values if value is not None)):
                yield keys[number], f"row {number}"

    def export(self, record_ids: Sequence[str]) -> Iterator[Mapping[str, object]]:
        """Each submission whole: every column of its row, by the label the form owner gave it."""
        wanted = set(record_ids)
        rows = {
            entry.row
            for entry in read_export(self.export_path, columns=self.columns, tz=self.tz)
            if entry.key in wanted
        }
        table = table_rows(self.export_path)
        header = next(table, (1, ()))[1]
        for number, values in table:
            if number in rows:
                yield labelled(header, values)


def _submission(
    number: int,
    values: Row,
    found: Mapping[str, int],
    wanted: Mapping[str, tuple[str, ...]],
    source: str,
    tz: tzinfo,
) -> Submission:
    label = wanted["submitted_at"][0]
    submitted_at = read_date(values[found["submitted_at"]], tz, source, number, label)
    if submitted_at is None:
        raise MalformedFile(f"{cell_position(source, number, label)}: no submission time")
    email = canonical(values[found["email"]]).lower()
    message = canonical(values[found["message"]]) if "message" in found else ""
    return Submission(number, submitted_at, email, submission_key(submitted_at, email, message, tz))


def _check_width(values: Row, width: int, source: str, number: int) -> None:
    if len(values) < width:
        where = cell_position(source, number)
        raise MalformedFile(f"{where}: {len(values)} of {width} columns; the file looks truncated")
    if not is_blank(values[width:]):
        raise MalformedFile(f"{cell_position(source, number)}: {len(values)} columns, the header has {width}")


def table_rows(path: Path) -> Iterator[tuple[int, Row]]:
    """Numbered rows of a CSV or XLSX file exported by hand (the form export, a CRM register), header first."""
    return _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _csv_rows(path)


def _xlsx_rows(path: Path) -> Iterator[tuple[int, Row]]:
    stored = read_workbook(path, None, "export it again without a password")
    return sheet_rows(stored.plain, str(path), None)


def _csv_rows(path: Path) -> Iterator[tuple[int, Row]]:
    """Stream CSV records; UTF-8 only (BOM or not), separator sniffed from the header line, strict quoting.

    Strict parsing turns an unterminated quote (a truncated download) into an error instead of a last row that
    swallows the rest of the file.
    """
    try:
        stream = path.open(encoding="utf-8-sig", errors="strict", newline="")
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot read the export ({error.strerror})") from None
    number = 0
    with stream:
        try:
            first = stream.readline()
            reader = csv.reader(chain([first], stream), delimiter=_sniff_delimiter(first), strict=True)
            for number, values in enumerate(reader, start=1):
                yield number, tuple(values)
        except UnicodeDecodeError:
            raise MalformedFile(_not_utf8(path)) from None
        except csv.Error as error:
            raise MalformedFile(f"{cell_position(str(path), number + 1)}: {error}; the file looks damaged") from None


def _sniff_delimiter(header_line: str) -> str:
    """The separator is whichever of ; , tab the header line uses most: Webnode and Excel in Nordic locales
    write semicolons, other exports commas. Labels rarely contain either."""
    return max(_DELIMITERS, key=header_line.count) if any(d in header_line for d in _DELIMITERS) else ","


def _not_utf8(path: Path) -> str:
    """Say where the first non-UTF-8 byte is and what the file probably is, without guessing on its behalf.

    Reading a Windows-1252 file as if it were would turn "Bjørn" into another string, and the record ids of the
    same submissions would no longer match the next export's.
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
        return f"{path}: not UTF-8"
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
    try:
        codecs.decode(data, "cp1252")
        likely = "it looks like Windows-1252 (Excel's 'CSV' format); export or save it as UTF-8"
    except UnicodeDecodeError:
        likely = "it is not text in a known encoding"
    return f"{path}: not UTF-8 (first bad byte on line {line}); {likely}"


def _file_digest(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot read the export ({error.strerror})") from None
