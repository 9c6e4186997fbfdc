"""Files in a folder tree as records: Calmo's invoices and client logbooks on an external drive (seeds/003).

"fakturaerne bliver opbevaret i en sikret folder på en ekstern harddisk" (K1, 5 years) and "arkiverer jeg
klientlogbøger i minimum 1 år hvorefter de løbende slettes" (K2). Each file is one record.

How a file's date is known: from its NAME. Calmo names files by the date that starts their period
(`2019-03-31_faktura_1042.pdf`, `forloeb-slut_2024-05-10_<ref>.md`), so `DateSource.name_pattern`, a regex
with a named group `date` (an ISO date), is the primary source (a strftime format such as `%Y-%m-%d` is also
accepted, as the policies write it); an optional named group `subject` gives the record's subject (an invoice
number, a client ref), otherwise the subject is the relative path. Two fallbacks
exist and are used only when configured, for files the pattern does not match:

- `Fallback.SIDECAR`: a file `<name><sidecar_suffix>` next to it holding an ISO date, for trees that cannot be
  renamed. Sidecars are not records; they are deleted with their file.
- `Fallback.MTIME`: the modification time. Unreliable: copying to or restoring from an external drive, a sync
  tool or an unzip sets it to the day of the copy, so an old invoice looks new and is kept too long, and a
  `touch` moves it either way. Only for trees whose mtimes are known to be original.

A file the configured source cannot date stops the stream with an error: a record without a date cannot be
planned, and skipping it would keep it forever in silence. File names may carry a client's name, so errors
name a file by its position in the walk and the last four characters of its name (`#17 at …/….pdf`), never by
the name itself. Dot files (`.DS_Store`, `._*` that macOS leaves on external drives) and symbolic links are
not records: the first are not the controller's data and a link is not the file it points to.

The walk is os.scandir-based and streaming: it holds one directory's entries at a time, sorted by name so
positions in errors are reproducible. `record_id` is the path relative to the root, in POSIX form; the
evidence ledger pseudonymises it. Deletion is os.remove (no trash folder: deletion means deletion); the
receipt's digest is the SHA-256 of the file's content read just before removal, streamed, so an auditor can
match it against a backup copy, and it cannot be guessed from a client's name as a digest of the path could.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
from enum import StrEnum
from pathlib import Path, PurePosixPath

from hygiene.connector import AbsenceProof, Capabilities, Receipt, Record, response_digest
from hygiene.matching import Needle, needle_for
from hygiene.pseudonym import normalise
from integrations.file_errors import FileConnectorError, SourceUnreadable, UndatedFiles, masked_tail

_SELECTION_KEYS = {"folder", "pattern"}


class Fallback(StrEnum):
    """Where a date comes from when the name pattern does not match; nothing unless configured."""

    NONE = "none"
    SIDECAR = "sidecar"
    MTIME = "mtime"


@dataclass(frozen=True)
class DateSource:
    """How a file's date is read: the name pattern first, then the configured fallback.

    `name_pattern` is a regex with a named group `date` holding an ISO date, or, for policies that prefer it, a
    strftime format such as `%Y-%m-%d` (it contains no `date` group), found anywhere in the name and parsed
    with that format.
    """

    name_pattern: str = r"(?P<date>\d{4}-\d{2}-\d{2})"
    fallback: Fallback = Fallback.NONE
    sidecar_suffix: str = ".date"
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    date_format: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        is_format = "(?P<date>" not in self.name_pattern and "%" in self.name_pattern
        pattern = _format_regex(self.name_pattern) if is_format else self.name_pattern
        try:
            regex = re.compile(pattern)
        except re.error as error:
            raise FileConnectorError(f"date pattern {self.name_pattern!r} is not a regex: {error}") from None
        if "date" not in regex.groupindex:
            raise FileConnectorError(f"date pattern {self.name_pattern!r} has no named group 'date'")
        object.__setattr__(self, "regex", regex)
        object.__setattr__(self, "date_format", self.name_pattern if is_format else "%Y-%m-%d")

    def is_sidecar(self, name: str) -> bool:
        return self.fallback is Fallback.SIDECAR and name.endswith(self.sidecar_suffix)


_FORMAT_FIELDS = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%y": r"\d{2}"}


def _format_regex(date_format: str) -> str:
    """`%Y-%m-%d` as `(?P<date>\\d{4}-\\d{2}-\\d{2})`; other directives are not dates in file names."""
    pieces = re.split(r"(%[Ymdy])", date_format)
    return "(?P<date>" + "".join(_FORMAT_FIELDS.get(piece, re.escape(piece)) for piece in pieces) + ")"


@dataclass(frozen=True)
class _File:
    relative: str
    entry: os.DirEntry[str]


class FolderConnector:
    """The files under `root` matching `pattern` (`*`, `?` and `**/` as in a shell glob, on the relative path)."""

    capabilities = Capabilities(system="folder", batch_size=500, permanent_delete=True, rate_limit=None)

    def __init__(
        self,
        root: Path,
        pattern: str = "**/*",
        date_source: DateSource | None = None,
        *,
        tz: tzinfo = UTC,
    ) -> None:
        self.root = Path(root)
        self.pattern = pattern
        self.date_source = date_source or DateSource()
        self.tz = tz

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        """Stream dated files; selection may narrow to a subfolder (`folder`) and override `pattern`.

        The trigger is the file's date whatever the rule calls it: which date a name carries (invoice date,
        course end) is decided by the folder and pattern the policy configures.
        """
        unknown = set(selection) - _SELECTION_KEYS
        if unknown:
            raise SourceUnreadable(f"folder {self.root}: unknown selection {sorted(unknown)}; use folder, pattern")
        under = _inside(selection.get("folder", ""))
        if under is None:
            raise SourceUnreadable(f"folder {self.root}: selection 'folder' must be a subfolder of it")
        matches = _glob(selection.get("pattern", self.pattern))
        files = (file for file in self._walk(under) if matches.fullmatch(file.relative))
        for position, file in enumerate(files, start=1):
            dated = self._date_of(file)
            if dated is None:
                raise self._undated(position, file, files, under)
            moment, source = dated
            yield Record(file.relative, self._subject_of(file), moment, {"date_source": source})

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        """Remove each file permanently; a file already gone is a success, so a rerun is harmless."""
        return [self._delete_one(record_id) for record_id in record_ids]

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """Absent when the path no longer exists; the digest fingerprints the parent folder's listing."""
        return [self._absence_of(record_id) for record_id in record_ids]

    def _walk(self, under: str) -> Iterator[_File]:
        pending = [under]
        while pending:
            folder = pending.pop()
            subfolders: list[str] = []
            for entry in self._entries(folder, under):
                relative = f"{folder}/{entry.name}" if folder else entry.name
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(relative)
                elif entry.is_file(follow_symlinks=False) and not self.date_source.is_sidecar(entry.name):
                    yield _File(relative, entry)
            pending.extend(reversed(subfolders))

    def _entries(self, folder: str, under: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(self.root / folder) as entries:
                return sorted((entry for entry in entries if not entry.name.startswith(".")), key=_name)
        except OSError as error:
            if folder == under:
                raise SourceUnreadable(f"folder {self.root / under}: cannot be read ({error.strerror})") from None
            where = _masked(folder + "/", under)
            raise SourceUnreadable(
                f"folder {self.root}: a subfolder cannot be read ({error.strerror}): {where}"
            ) from None

    def _date_of(self, file: _File) -> tuple[datetime, str] | None:
        """The file's date and where it came from ("name", "sidecar", "mtime"), or None."""
        match = self.date_source.regex.search(file.entry.name)
        fallback = self.date_source.fallback
        if match is not None:
            moment = self._midnight(match["date"], self.date_source.date_format)
        elif fallback is Fallback.SIDECAR:
            moment = self._sidecar_date(file)
        elif fallback is Fallback.MTIME:
            moment = datetime.fromtimestamp(file.entry.stat(follow_symlinks=False).st_mtime, self.tz)
        else:
            moment = None
        return None if moment is None else (moment, "name" if match is not None else fallback.value)

    def _sidecar_date(self, file: _File) -> datetime | None:
        try:
            text = (self.root / (file.relative + self.date_source.sidecar_suffix)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        return self._midnight(text.strip())

    def _midnight(self, text: str, date_format: str = "%Y-%m-%d") -> datetime | None:
        try:
            return datetime.combine(datetime.strptime(text, date_format).date(), time(), self.tz)
        except ValueError:
            return None

    def _subject_of(self, file: _File) -> str:
        match = self.date_source.regex.search(file.entry.name)
        if match is not None and "subject" in match.re.groupindex and match["subject"]:
            return match["subject"]
        return file.relative

    def _undated(self, position: int, first: _File, rest: Iterator[_File], under: str) -> UndatedFiles:
        """Count the remaining undated files too, so the user fixes them in one go, then name only the first."""
        count = 1 + sum(1 for file in rest if self._date_of(file) is None)
        files = "1 file has" if count == 1 else f"{count} files have"
        return UndatedFiles(
            f"folder {self.root}: {files} no readable date (date pattern {self.date_source.name_pattern!r}, "
            f"fallback {self.date_source.fallback.value}); first is #{position} in walk order at "
            f"{_masked(first.relative, under)} (names are not shown: they may name a person)"
        )

    def _delete_one(self, record_id: str) -> Receipt:
        path = self._path_of(record_id)
        if path is None:
            return Receipt(record_id, False, "refused: not a file path inside the folder", response_digest(b""))
        try:
            if path.is_symlink():
                return Receipt(record_id, False, "refused: a symbolic link, not a file", response_digest(b""))
            with path.open("rb") as stream:
                content = hashlib.file_digest(stream, "sha256").hexdigest()
            path.unlink()
        except FileNotFoundError:
            return Receipt(record_id, True, "already absent", _listing_digest(path.parent))
        except OSError as error:
            return Receipt(record_id, False, f"not deleted: {error.strerror}", response_digest(b""))
        if self.date_source.fallback is Fallback.SIDECAR:
            path.with_name(path.name + self.date_source.sidecar_suffix).unlink(missing_ok=True)
        return Receipt(record_id, True, "file removed permanently (no trash)", content)

    def _absence_of(self, record_id: str) -> AbsenceProof:
        path = self._path_of(record_id)
        if path is None:
            return AbsenceProof(record_id, False, "not a file path inside the folder", response_digest(b""))
        absent = not os.path.lexists(path)
        detail = "path does not exist on re-read" if absent else "file still exists"
        return AbsenceProof(record_id, absent, detail, _listing_digest(path.parent))

    def _path_of(self, record_id: str) -> Path | None:
        relative = _inside(record_id)
        return self.root / relative if relative else None

    def records_of(self, subject: str) -> Iterator[Record]:
        """Files of one person: the subject the name pattern reads (a client ref), or the person's identifier
        standing whole in the content (hygiene.matching: `ann@` never finds `joann@`).

        The content is searched as bytes: text files and uncompressed PDFs are found, a compressed PDF or a scan
        is not (a person must search those; the reply says so). A subject that is not an identifier found in
        text (a client ref) is matched by the name pattern only.
        """
        wanted = normalise(subject)
        needle = needle_for(wanted)
        matches = _glob(self.pattern)
        for file in self._walk(""):
            if not matches.fullmatch(file.relative):
                continue
            if self._subject_of(file) == wanted or (needle is not None and self._mentions(file.relative, needle)):
                dated = self._date_of(file)
                source = "undated" if dated is None else dated[1]
                yield Record(file.relative, subject, None if dated is None else dated[0], {"date_source": source})

    def _mentions(self, relative: str, needle: Needle, chunk: int = 1 << 20) -> bool:
        """Whether the file holds the identifier whole, read in chunks so memory stays flat.

        A file that cannot be read stops the search: skipping it would leave the person in it unanswered.
        """
        try:
            with (self.root / relative).open("rb") as stream:
                return needle.found_in(iter(lambda: stream.read(chunk), b""))
        except OSError as error:
            raise self._unreadable(relative, error) from None

    def _unreadable(self, relative: str, error: OSError) -> SourceUnreadable:
        """The error of a file that cannot be read, naming it masked (an OSError's text holds the whole name)."""
        return SourceUnreadable(
            f"folder {self.root}: a file cannot be read ({error.strerror}): {_masked(relative, '')} "
            "(names are not shown: they may name a person)"
        )

    def export(self, record_ids: Sequence[str]) -> Iterator[Mapping[str, object]]:
        """Each file as it is: its path, its date, and its content (text, or base64 for a binary file)."""
        for record_id in record_ids:
            path = self._path_of(record_id)
            if path is None or path.is_symlink() or not path.is_file():
                continue
            try:
                data = path.read_bytes()
            except OSError as error:
                raise self._unreadable(record_id, error) from None
            try:
                content: dict[str, object] = {"text": data.decode("utf-8")}
            except UnicodeDecodeError:
                content = {"content_base64": base64.b64encode(data).decode()}
            yield {"file": record_id, "bytes": len(data), **content}


def _inside(relative: str) -> str | None:
    """`relative` as a POSIX path below the root, or None when it is absolute or climbs out with `..`."""
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts:
        return None
    return path.as_posix() if path.parts else ""


def _glob(pattern: str) -> re.Pattern[str]:
    """A shell-style glob on a relative POSIX path: `*` and `?` stay within one folder, `**/` spans folders."""
    parts: list[str] = []
    position = 0
    while position < len(pattern):
        if pattern.startswith("**/", position):
            parts.append("(?:.*/)?")
            position += 3
            continue
        char = pattern[position]
        parts.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
        position += 1
    return re.compile("".join(parts))


def _masked(relative: str, under: str) -> str:
    """The configured subfolder as is, every folder below it as `…`, and the file name's last 4 characters."""
    below = relative[len(under) :].lstrip("/") if under else relative
    *folders, name = below.split("/")
    shown = [under] if under else []
    return "/".join([*shown, *("…" for _ in folders), masked_tail(name)])


def _listing_digest(folder: Path) -> str:
    """SHA-256 of a folder's sorted listing: what the re-read saw, without keeping the names."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        names = []
    return response_digest("\x1f".join(names))


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name
