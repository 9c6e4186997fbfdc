"""Stressfri's offers and sales workbook (seeds/001, rules S4 and S2), and the xlsx reading the Webnode export shares.

"Excel-dokument brukes for all oppfølging av tilbud til potensielle kunder og bekreftede/avslåtte salg ...
Informasjonen slettes tidligst etter 5 år" (S4) and "Excel-dokumentet er beskyttet med kode": the workbook is
encrypted with a password, so it is opened with msoffcrypto-tool and the password comes in as a SecretStr.

The offers sheet (default name "Tilbud", header in row 1; every label is configurable in `OfferSheet`):

| column          | meaning                                                            |
|-----------------|--------------------------------------------------------------------|
| Dato            | date of the offer or sale: S4's trigger                            |
| Kunde           | customer name (person or company)                                  |
| E-post          | customer's email: the subject                                      |
| Type            | "tilbud" (offer) or "salg" (sale)                                  |
| Beløp           | amount                                                             |
| Status          | "aktiv", "avsluttet" (relationship ended), "ikke aktuell" (no longer a prospect) |
| Avsluttet dato  | when the relationship ended or the prospect was given up: S2's trigger |

Other columns (phone, company, notes, formulas) may exist; they are kept as they are and do not take part in a
row's identity.

Record ids are `<sheet>!<row>#<content digest>`. The digest covers the configured columns only, so a row that
moved (someone inserted a row above it) is still found, and a row whose content changed since it was read is
not deleted on the strength of a stale decision: it is re-planned on the next run with its new content. Rows
identical in every configured column are one record: deleting it deletes all of them.

Deletion removes rows in place and writes the workbook back atomically, re-encrypted with the same password.
openpyxl's `delete_rows` moves cells but does not rewrite formulas, so this module rewrites every cell formula
and workbook-level defined name that points at the offers sheet the way Excel does: references below the
deleted rows move up, ranges shrink, a reference to a deleted cell becomes #REF!. Not rewritten (documented
limitation): array formulas, conditional-formatting and data-validation ranges, merged cells and row heights
of the offers sheet. openpyxl cannot keep charts, images, drawings or macros, so a workbook holding any of them
is refused for deletion instead of being written back without them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from itertools import chain
from pathlib import Path

import msoffcrypto
from msoffcrypto.exceptions import DecryptionError, FileFormatError, InvalidKeyError, ParseError
from msoffcrypto.format.ooxml import OOXMLFile
from openpyxl import Workbook, load_workbook
from openpyxl.formula.tokenizer import Token, Tokenizer, TokenizerError
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import SecretStr

from hygiene.connector import AbsenceProof, Capabilities, Receipt, Record, response_digest
from hygiene.matching import name_needle
from hygiene.pseudonym import normalise
from integrations.file_errors import (
    HeaderChanged,
    MalformedFile,
    MissingEndDate,
    SourceUnreadable,
    UnsafeToWrite,
    WrongPassword,
    cell_position,
)

# Day-first formats as Norwegian and Danish users type and export them; ISO 8601 is tried first.
TEXT_DATE_FORMATS = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y", "%d.%m.%y")

#: what a workbook may be, stored and unpacked; an offers sheet or a form export is a few megabytes at most
MAX_WORKBOOK_BYTES = 64 * 2**20
MAX_UNPACKED_BYTES = 64 * 2**20
MAX_CELLS = 2_000_000
_SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml")
_DIMENSION = re.compile(r'<(?:\w+:)?dimension\s+ref="\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?"')

# Parts of an xlsx package that openpyxl drops on save; writing such a workbook back would lose them.
_PARTS_OPENPYXL_LOSES = (
    re.compile(r"xl/charts/"),
    re.compile(r"xl/drawings/drawing\d*\.xml$"),
    re.compile(r"xl/media/"),
    re.compile(r"xl/vbaProject\.bin$"),
)

Row = tuple[object, ...]


# ---- shared tabular reading (used by webnode.py too) -------------------------------------------------------


def to_datetime(value: object, tz: tzinfo) -> datetime | None:
    """A cell's date as an aware datetime (naive values are in `tz`); None when empty; ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        moment = _parse_text_date(value.strip())
    else:
        raise ValueError("not a date")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _parse_text_date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise ValueError("not a date")


def read_date(value: object, tz: tzinfo, source: str, row: int, column: str) -> datetime | None:
    """`to_datetime` with an error that says where the bad value is, and not what it is."""
    try:
        return to_datetime(value, tz)
    except ValueError:
        expected = "dd.mm.yyyy [hh:mm] or yyyy-mm-dd [hh:mm]"
        raise MalformedFile(f"{cell_position(source, row, column)}: not a date (expected {expected})") from None


def _label(value: object) -> str:
    return " ".join(str(value or "").replace("\ufeff", "").split()).casefold()


def locate_columns(
    header: Sequence[object],
    wanted: Mapping[str, Sequence[str]],
    source: str,
    required: Collection[str],
) -> dict[str, int]:
    """Map each wanted field to its column index by any of its labels (case and spacing ignored).

    A missing required field means the export or sheet changed layout; reading on would attach dates or
    emails to the wrong column, so it is an error naming the column.
    """
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        positions.setdefault(_label(cell), index)
    found: dict[str, int] = {}
    for key, labels in wanted.items():
        column = next((positions[_label(label)] for label in labels if _label(label) in positions), None)
        if column is not None:
            found[key] = column
        elif key in required:
            names = " / ".join(f"'{label}'" for label in labels)
            raise HeaderChanged(f"{source}: the header row has no column {names}; the layout changed")
    return found


@dataclass(frozen=True)
class WorkbookFile:
    """A workbook read from disk: its plain xlsx bytes, whether it was encrypted, and the stored file's digest."""

    plain: bytes
    encrypted: bool
    digest: str


def read_workbook(path: Path, password: SecretStr | None, password_hint: str) -> WorkbookFile:
    """Read and, when encrypted, decrypt `path`; `password_hint` tells the user how to supply a password.

    The whole file is read into memory: decryption needs all of it, and an offers sheet or form export is small;
    a file larger than MAX_WORKBOOK_BYTES is refused before it is read.
    """
    try:
        size = path.stat().st_size
        if size > MAX_WORKBOOK_BYTES:
            raise MalformedFile(f"{path}: {size // 2**20} MiB, more than the {MAX_WORKBOOK_BYTES // 2**20} MiB read")
        data = path.read_bytes()
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot read the workbook ({error.strerror})") from None
    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
    except (FileFormatError, ParseError, OSError, ValueError):
        raise MalformedFile(f"{path}: not an xlsx workbook") from None
    if not isinstance(office, OOXMLFile):
        raise MalformedFile(f"{path}: an older Office format, not an xlsx workbook; save it as .xlsx")
    if not office.is_encrypted():
        return WorkbookFile(data, False, response_digest(data))
    return WorkbookFile(_decrypt(office, path, password, password_hint), True, response_digest(data))


def _decrypt(office: OOXMLFile, path: Path, password: SecretStr | None, password_hint: str) -> bytes:
    if password is None:
        raise WrongPassword(f"{path} is password-protected and no password is configured; {password_hint}")
    plain = io.BytesIO()
    try:
        office.load_key(password=password.get_secret_value(), verify_password=True)
        office.decrypt(plain)
    except InvalidKeyError:
        raise WrongPassword(f"wrong password for {path}; {password_hint}") from None
    except (DecryptionError, ParseError, FileFormatError, ValueError):
        raise MalformedFile(f"{path}: encrypted, but not an xlsx workbook msoffcrypto-tool can decrypt") from None
    return plain.getvalue()


def open_workbook(data: bytes, source: str, *, read_only: bool) -> Workbook:
    """Load xlsx bytes, turning openpyxl's many ways of refusing a file into one error; bounded first."""
    check_package(data, source)
    try:
        return load_workbook(io.BytesIO(data), read_only=read_only, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError):
        raise MalformedFile(f"{source}: not an xlsx workbook") from None


def check_package(data: bytes, source: str) -> None:
    """Refuse, from the zip's directory and the sheets' dimensions, an xlsx that would exhaust memory or time.

    A 2 MB xlsx can hold a 2 GiB string (a zip bomb), and a sheet whose dimension claims a million rows of
    16,384 columns makes openpyxl's read-only rows that wide. Both are known before openpyxl reads a byte of the
    parts: the directory states each part's uncompressed size (and zipfile reads no further than that), and a
    sheet's `<dimension ref="A1:G500"/>` stands in its first bytes. A refusal is this file's one-line error.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            parts = package.infolist()
            unpacked = sum(part.file_size for part in parts)
            if unpacked > MAX_UNPACKED_BYTES:
                raise MalformedFile(
                    f"{source}: unpacks to {unpacked // 2**20} MiB, more than the {MAX_UNPACKED_BYTES // 2**20} MiB "
                    "an offers sheet or form export holds; not read"
                )
            for part in parts:
                if _SHEET_PART.fullmatch(part.filename):
                    cells = _dimension_cells(package, part)
                    if cells > MAX_CELLS:
                        raise MalformedFile(
                            f"{source}: a sheet spans {cells:,} cells, more than the {MAX_CELLS:,} read; not read"
                        )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError):
        raise MalformedFile(f"{source}: not an xlsx workbook") from None


def _dimension_cells(package: zipfile.ZipFile, part: zipfile.ZipInfo) -> int:
    """How many cells a sheet's dimension spans (rows × columns); 0 when its first 4 KiB state none."""
    with package.open(part) as stream:
        head = stream.read(4096).decode("utf-8", "replace")
    found = _DIMENSION.search(head)
    if found is None:
        return 0
    first_column, first_row, last_column, last_row = found.groups()
    if not last_column:
        return 1
    rows = int(last_row) - int(first_row) + 1
    columns = column_index_from_string(last_column) - column_index_from_string(first_column) + 1
    return int(max(rows, 1) * max(columns, 1))


def sheet_rows(data: bytes, source: str, sheet: str | None) -> Iterator[tuple[int, Row]]:
    """Stream (row number, values) of a sheet (the first one when `sheet` is None), read-only."""
    workbook = open_workbook(data, source, read_only=True)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise HeaderChanged(f"{source}: the workbook has no sheet '{sheet}'")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            yield number, tuple(values)
    finally:
        workbook.close()


def is_blank(values: Row) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in values)


def labelled(header: Row, values: Row) -> dict[str, str]:
    """A row's filled-in cells by their header label, as an access answer shows them."""
    return {
        str(label): canonical(value)
        for label, value in zip(header, values, strict=False)
        if label is not None and not is_blank((value,))
    }


def canonical(value: object) -> str:
    """A cell value as text that is the same whether the value came from a CSV or an xlsx cell."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def content_digest(parts: Sequence[str]) -> str:
    """SHA-256 over parts joined by a separator that cannot occur in a cell, so ("ab", "c") != ("a", "bc")."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace `path` so a reader sees the old or the new file, never half of one; keep its permissions.

    The temporary file is in the same folder because os.replace is atomic only within one file system.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".hygiene-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


# ---- formula references after deleted rows ------------------------------------------------------------------

_CELL = re.compile(r"^(?P<column>\$?[A-Za-z]{1,3})(?P<dollar>\$?)(?P<row>\d+)$")
_ROW_ONLY = re.compile(r"^(?P<dollar>\$?)(?P<row>\d+)$")


@dataclass(frozen=True)
class _RowShift:
    """Where an old row number lands once `deleted` rows are gone (None when it was deleted itself)."""

    deleted: tuple[int, ...]

    def above(self, row: int, inclusive: bool = False) -> int:
        return sum(1 for gone in self.deleted if gone < row or (inclusive and gone == row))

    def cell(self, row: int) -> int | None:
        return None if row in self.deleted else row - self.above(row)

    def span(self, first: int, last: int) -> tuple[int, int] | None:
        new_first, new_last = first - self.above(first), last - self.above(last, inclusive=True)
        return (new_first, new_last) if new_last >= new_first else None


def _split_sheet(reference: str) -> tuple[str | None, str, str]:
    """('Tilbud', "'Tilbud'!", 'A1:B2') from "'Tilbud'!A1:B2"; no sheet part gives (None, '', reference)."""
    if "!" not in reference:
        return None, "", reference
    prefix, _, cells = reference.rpartition("!")
    name = prefix[1:-1].replace("''", "'") if prefix.startswith("'") else prefix
    return name, prefix + "!", cells


def _row_reference(part: str) -> re.Match[str] | None:
    return _CELL.match(part) or _ROW_ONLY.match(part)


def _moved(match: re.Match[str], row: int) -> str:
    return f"{match.groupdict().get('column') or ''}{match['dollar']}{row}"


def _shift_reference(reference: str, shift: _RowShift) -> str:
    """One range operand rewritten for the deleted rows; operands that are not row references stay as they are."""
    _, prefix, cells = _split_sheet(reference)
    matches = [_row_reference(part) for part in cells.split(":")]
    if len(matches) > 2 or None in matches:
        return reference  # a defined name, a whole column (A:A) or a 3-D reference: no rows to move
    ends = [match for match in matches if match is not None]
    rows = [int(match["row"]) for match in ends]
    if len(ends) == 1:
        moved = shift.cell(rows[0])
        return prefix + ("#REF!" if moved is None else _moved(ends[0], moved))
    span = shift.span(min(rows), max(rows))
    if span is None:
        return prefix + "#REF!"
    first, last = span if rows[0] <= rows[1] else span[::-1]
    return f"{prefix}{_moved(ends[0], first)}:{_moved(ends[1], last)}"


def shift_formula(formula: str, host_sheet: str, target_sheet: str, shift: _RowShift) -> str:
    """Rewrite the references to `target_sheet` in a formula that lives on `host_sheet`."""
    try:
        tokenizer = Tokenizer(formula)
    except TokenizerError:
        return formula
    changed = False
    for token in tokenizer.items:
        if token.type != Token.OPERAND or token.subtype != Token.RANGE:
            continue
        sheet, _, _ = _split_sheet(token.value)
        if (sheet or host_sheet) == target_sheet:
            rewritten = _shift_reference(token.value, shift)
            changed = changed or rewritten != token.value
            token.value = rewritten
    return tokenizer.render() if changed else formula


def _shift_workbook_formulas(workbook: Workbook, target_sheet: str, shift: _RowShift) -> None:
    for worksheet in workbook.worksheets:
        for row in worksheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.value = shift_formula(cell.value, worksheet.title, target_sheet, shift)
    scoped = [(worksheet.title, worksheet.defined_names.values()) for worksheet in workbook.worksheets]
    for host, names in [("", workbook.defined_names.values()), *scoped]:
        for name in names:
            if name.attr_text:
                name.attr_text = shift_formula("=" + name.attr_text, host, target_sheet, shift)[1:]


# ---- the offers workbook ------------------------------------------------------------------------------------

#: the exemption of a row the customer register still needs (S4 x S2)
CUSTOMER_REGISTER = "customer_register"
#: which of the given customers (as the "Kunde" cell names them) still have mail in their mailbox folder
MailKept = Callable[[Collection[str]], set[str]]


@dataclass(frozen=True)
class OfferSheet:
    """Where the offers are and what the columns are called; the sheet is hand-made, so all of it is settable."""

    name: str = "Tilbud"
    date: str = "Dato"
    customer: str = "Kunde"
    email: str = "E-post"
    kind: str = "Type"
    amount: str = "Beløp"
    status: str = "Status"
    ended_at: str = "Avsluttet dato"
    ended_statuses: frozenset[str] = frozenset({"avsluttet", "ikke aktuell"})
    active_statuses: frozenset[str] = frozenset({"aktiv"})

    def labels(self) -> dict[str, tuple[str]]:
        fields = ("date", "customer", "email", "kind", "amount", "status", "ended_at")
        return {key: (getattr(self, key),) for key in fields}


@dataclass(frozen=True)
class RegisterEntry:
    """A customer whose relationship ended, or a prospect no longer potential (S2's trigger).

    `customer_ref` is the customer as written in the sheet and `email_subject` the lower-cased email: both are
    personal data, to be pseudonymised like a Record's subject before anything is logged or stored.
    """

    customer_ref: str
    email_subject: str
    status: str
    ended_at: datetime


@dataclass(frozen=True)
class _OfferRow:
    number: int
    values: Mapping[str, object]
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        parts = [f"{key}={canonical(value)}" for key, value in sorted(self.values.items())]
        object.__setattr__(self, "digest", content_digest(parts)[:16])

    def text(self, key: str) -> str:
        return canonical(self.values.get(key))

    @property
    def subject(self) -> str:
        """The email lower-cased; a row without one is known only by its customer's name."""
        return self.text("email").lower() or self.text("customer")


def _parse_record_id(record_id: str) -> tuple[str, int, str] | None:
    location, _, digest = record_id.rpartition("#")
    sheet, _, row = location.rpartition("!")
    return (sheet, int(row), digest) if sheet and row.isdigit() and digest else None


class SpreadsheetConnector:
    """Rows of the offers sheet as records; deletes rows in place, keeping the rest of the workbook."""

    def __init__(
        self,
        path: Path,
        *,
        password: SecretStr | None = None,
        sheet: OfferSheet | None = None,
        tz: tzinfo = UTC,
        password_setting: str = "HYGIENE_SPREADSHEET_PASSWORD",
        mail_kept: MailKept | None = None,
    ) -> None:
        self.path = Path(path)
        self.mail_kept = mail_kept
        self.password = password
        self.sheet = sheet or OfferSheet()
        self.tz = tz
        self.password_setting = password_setting
        self.capabilities = Capabilities(system="spreadsheet", batch_size=500, permanent_delete=True)

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        """Stream the offers rows; `trigger` is a date column: "date", "ended_at", or a header label.

        The sheet is also the customer register (S2): a row of a customer whose relationship has not ended, or
        whose mail is still in the mailbox, carries the exemption `customer_register`, so that deleting old
        rows (S4) never leaves a customer's mail with nothing that lists them as ended.
        """
        if selection:
            raise MalformedFile(f"{self.path}: the offers sheet takes no selection, got {sorted(selection)}")
        date_key = self._date_key(trigger)
        label = self.sheet.labels()[date_key][0]
        rows = list(self._rows(self._read().plain))
        ended = self._ended(rows)
        mailed = self.mail_kept([entry.customer_ref for entry in ended.values()]) if self.mail_kept else set()
        released = {subject for subject, entry in ended.items() if entry.customer_ref not in mailed}
        for row in rows:
            yield self._record(row, date_key, label, kept_as_register=row.subject not in released)

    def _record(self, row: _OfferRow, date_key: str, label: str, *, kept_as_register: bool = False) -> Record:
        attributes = {"row": str(row.number), "type": row.text("kind"), "status": row.text("status")}
        return Record(
            record_id=self._record_id(row),
            subject=row.subject,
            trigger=read_date(row.values[date_key], self.tz, str(self.path), row.number, label),
            attributes=attributes | ({"exemption": CUSTOMER_REGISTER} if kept_as_register else {}),
        )

    def _record_id(self, row: _OfferRow) -> str:
        return f"{self.sheet.name}!{row.number}#{row.digest}"

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        """Delete the rows in place, write the workbook back atomically (re-encrypted), one receipt per id."""
        if not record_ids:
            return []
        self._refuse_if_open_in_excel()
        stored = self._read()
        _refuse_if_lossy(stored.plain, self.path)
        workbook = open_workbook(stored.plain, str(self.path), read_only=False)
        wanted = {_digest_of(record_id) for record_id in record_ids}
        doomed = {row.number: row.digest for row in self._rows_of(workbook) if row.digest in wanted}
        if not doomed:
            return [_receipt(record_id, set(), stored.digest) for record_id in record_ids]
        worksheet = workbook[self.sheet.name]
        for number in sorted(doomed, reverse=True):
            worksheet.delete_rows(number)
        _shift_workbook_formulas(workbook, self.sheet.name, _RowShift(tuple(sorted(doomed))))
        written = response_digest(self._write(workbook, stored.encrypted))
        return [_receipt(record_id, set(doomed.values()), written) for record_id in record_ids]

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """Re-read the workbook: a record is absent when no row has its content digest any more."""
        stored = self._read()
        present = {row.digest for row in self._rows(stored.plain)}
        return [_absence_proof(record_id, present, stored.digest) for record_id in record_ids]

    def customer_register(self) -> Iterator[RegisterEntry]:
        """Ended customers and prospects no longer potential, one entry per subject (S2's trigger)."""
        return iter(self._ended(self._rows(self._read().plain)).values())

    def running_customers(self) -> set[str]:
        """The "Kunde" cells of the active rows, as written: a folder one of them names is a running customer's."""
        return {
            row.text("customer")
            for row in self._rows(self._read().plain)
            if self._status(row) in self.sheet.active_statuses
        }

    def _ended(self, rows: Iterable[_OfferRow]) -> dict[str, RegisterEntry]:
        """By subject: a subject with any active row is still a customer, whatever its older rows say; otherwise
        it ended at the latest end date among its rows."""
        ended: dict[str, RegisterEntry] = {}
        active: set[str] = set()
        for row in rows:
            status = self._status(row)
            if status in self.sheet.ended_statuses:
                entry = self._register_entry(row, status)
                earlier = ended.get(row.subject)
                if earlier is None or entry.ended_at > earlier.ended_at:
                    ended[row.subject] = entry
            elif status in self.sheet.active_statuses:
                active.add(row.subject)
        return {subject: entry for subject, entry in ended.items() if subject not in active}

    def _register_entry(self, row: _OfferRow, status: str) -> RegisterEntry:
        label = self.sheet.ended_at
        ended_at = read_date(row.values["ended_at"], self.tz, str(self.path), row.number, label)
        if ended_at is None:
            where = cell_position(str(self.path), row.number, label)
            raise MissingEndDate(f"{where}: status '{status}' but no end date; fill it in so the period can start")
        return RegisterEntry(row.text("customer"), row.subject, status, ended_at)

    def _status(self, row: _OfferRow) -> str:
        status = row.text("status").casefold()
        known = self.sheet.ended_statuses | self.sheet.active_statuses
        if status and status not in known:
            where = cell_position(str(self.path), row.number, self.sheet.status)
            raise MalformedFile(f"{where}: unknown status (expected one of: {', '.join(sorted(known))})")
        return status

    def _date_key(self, trigger: str) -> str:
        labels = self.sheet.labels()
        for key in ("date", "ended_at"):
            if trigger in (key, labels[key][0]):
                return key
        raise MalformedFile(
            f"{self.path}: no date column for trigger '{trigger}'; use 'date' ({self.sheet.date}) "
            f"or 'ended_at' ({self.sheet.ended_at})"
        )

    def _read(self) -> WorkbookFile:
        return read_workbook(self.path, self.password, f"set {self.password_setting}")

    def _rows(self, data: bytes) -> Iterator[_OfferRow]:
        return self._parse_rows(sheet_rows(data, str(self.path), self.sheet.name))

    def _rows_of(self, workbook: Workbook) -> Iterator[_OfferRow]:
        if self.sheet.name not in workbook.sheetnames:
            raise HeaderChanged(f"{self.path}: the workbook has no sheet '{self.sheet.name}'")
        rows = workbook[self.sheet.name].iter_rows(values_only=True)
        return self._parse_rows((number, tuple(values)) for number, values in enumerate(rows, start=1))

    def _parse_rows(self, rows: Iterator[tuple[int, Row]]) -> Iterator[_OfferRow]:
        labels = self.sheet.labels()
        header = next(rows, (1, ()))[1]
        columns = locate_columns(header, labels, str(self.path), required=labels.keys())
        for number, values in rows:
            if not is_blank(values):
                picked = {key: values[index] if index < len(values) else None for key, index in columns.items()}
                yield _OfferRow(number, picked)

    def _refuse_if_open_in_excel(self) -> None:
        # Excel keeps "~$<name>" beside a workbook it has open; writing now would be overwritten on its save.
        if (self.path.parent / f"~${self.path.name}").exists():
            raise UnsafeToWrite(f"{self.path} is open in Excel (lock file ~$ present); close it and run again")

    def _write(self, workbook: Workbook, encrypted: bool) -> bytes:
        plain = io.BytesIO()
        workbook.save(plain)
        payload = plain.getvalue()
        if encrypted and self.password is not None:
            sealed = io.BytesIO()
            OOXMLFile(io.BytesIO(payload)).encrypt(self.password.get_secret_value(), sealed)
            payload = sealed.getvalue()
        write_atomically(self.path, payload)
        return payload

    def records_of(self, subject: str) -> Iterator[Record]:
        """The rows whose email is the person's, dated by the offer or sale date (S4's trigger)."""
        wanted = normalise(subject)
        label = self.sheet.labels()["date"][0]
        for row in self._rows(self._read().plain):
            if row.subject == wanted:
                yield self._record(row, "date", label)

    def export(self, record_ids: Sequence[str]) -> Iterator[Mapping[str, object]]:
        """Each row whole, every filled-in column by its header label (phone, notes included)."""
        wanted = {_digest_of(record_id) for record_id in record_ids}
        for header, row, values in self._whole_rows():
            if row.digest in wanted:
                yield labelled(header, values)

    def mentions_of(self, name: str) -> Iterator[tuple[str, str]]:
        """Rows whose cells name the person (a probable match, for a person to check), by row number: an offer
        made out to them under another address, or a note about them."""
        needle = name_needle(name)
        for _, row, values in self._whole_rows():
            if needle.in_text("\n".join(str(value) for value in values if value is not None)):
                yield self._record_id(row), f"row {row.number}"

    def _whole_rows(self) -> Iterator[tuple[Row, _OfferRow, Row]]:
        """The header, and each parsed row with every value of its line (the columns no rule reads too)."""
        rows = sheet_rows(self._read().plain, str(self.path), self.sheet.name)
        header = next(rows, (1, ()))[1]
        last: list[Row] = [()]

        def noting() -> Iterator[tuple[int, Row]]:
            # _parse_rows yields a row as soon as it has read it, so `last` holds that row's full values
            for number, values in rows:
                last[0] = values
                yield number, values

        for row in self._parse_rows(chain([(1, header)], noting())):
            yield header, row, last[0]


def _digest_of(record_id: str) -> str:
    parsed = _parse_record_id(record_id)
    return parsed[2] if parsed is not None else ""


def _receipt(record_id: str, deleted: set[str], proof: str) -> Receipt:
    """A row whose content is no longer in the workbook counts as deleted: a rerun after a crash is a no-op."""
    if _parse_record_id(record_id) is None:
        return Receipt(record_id, False, "not a record id of this workbook", proof)
    detail = "row deleted; workbook rewritten" if _digest_of(record_id) in deleted else "no row with this content"
    return Receipt(record_id, True, detail, proof)


def _absence_proof(record_id: str, present: set[str], proof: str) -> AbsenceProof:
    if _digest_of(record_id) in present:
        return AbsenceProof(record_id, False, "a row with this content remains", proof)
    return AbsenceProof(record_id, True, "no row with this content on re-read", proof)


def _refuse_if_lossy(data: bytes, path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        lost = [name for name in package.namelist() if any(part.match(name) for part in _PARTS_OPENPYXL_LOSES)]
    if lost:
        raise UnsafeToWrite(
            f"{path} holds charts, images or macros that openpyxl cannot keep; deleting rows would drop them, "
            "so delete the due rows by hand (the run lists them by row number)"
        )
