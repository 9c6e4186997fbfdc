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
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
from enum import StrEnum
from pathlib import Path, PurePosixPath

from hygiene.connector import AbsenceProof, Capabilities, Receipt, Record, response_digest
from hygiene.matching import NameNeedle, Needle, name_needle, needle_for
from hygiene.patterns import UnsafePattern, date_pattern
from hygiene.pseudonym import normalise
from integrations.file_errors import FileConnectorError, SourceUnreadable, UndatedFiles, masked_tail

_SELECTION_KEYS = {"folder", "pattern"}
#: folders nested deeper are a finding, not read: each level holds one open descriptor during the walk
MAX_DEPTH = 64
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LINKED = "a folder on its path is a symbolic link or no longer a folder"
_EMPTY = response_digest(b"")


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
    with that format. It must stay inside hygiene.patterns' safe subset, so matching cannot stall a run.
    """

    name_pattern: str = r"(?P<date>\d{4}-\d{2}-\d{2})"
    fallback: Fallback = Fallback.NONE
    sidecar_suffix: str = ".date"
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    date_format: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            compiled = date_pattern(self.name_pattern)
        except UnsafePattern as error:
            raise FileConnectorError(str(error)) from None
        object.__setattr__(self, "regex", compiled.regex)
        object.__setattr__(self, "date_format", compiled.date_format)

    def is_sidecar(self, name: str) -> bool:
        return self.fallback is Fallback.SIDECAR and name.endswith(self.sidecar_suffix)


@dataclass(frozen=True)
class _Identity:
    """What makes a listed file the one planned: a file put in its place since the listing differs here."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> _Identity:
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


@dataclass(frozen=True)
class _File:
    relative: str
    name: str
    identity: _Identity
    sidecar: str | None = None


class _UnsafePath(Exception):
    """A folder on a record's path is a symbolic link or no longer a folder: nothing there is touched."""


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
        #: what each listed file was (by relative path), so the deletion touches only that file
        self._listed: dict[str, _Identity] = {}
        #: files and folders the walk could not make records of, each with what to record about it
        self.findings: list[tuple[Record, dict[str, object]]] = []

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
        """Remove each file permanently; a file already gone is a success, so a rerun is harmless.

        Only a file this connector listed is deleted, and only while it is still that file (device, inode, size
        and mtime as listed), reached from the root folder by folders that are not symbolic links: a folder
        swapped for a link, or a file swapped for another, between the plan and the deletion is refused.
        """
        return [self._delete_one(record_id) for record_id in record_ids]

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """Absent when the name is gone from its folder, re-read the way it was deleted (no link followed)."""
        return [self._absence_of(record_id) for record_id in record_ids]

    def _walk(self, under: str) -> Iterator[_File]:
        """Every file below `under`, a folder's files (by name) before its subfolders; no link is followed.

        Each folder is opened relative to its parent's descriptor with O_NOFOLLOW, so a folder swapped for a
        link while the walk runs is not entered. What each file is (its identity) is noted for the deletion.
        """
        try:
            with self._folder(under, listing=True) as (descriptor, _):
                yield from self._walk_folder(descriptor, under, under, 0)
        except _UnsafePath:
            raise SourceUnreadable(
                f"folder {self.root / under}: a folder on the way is a symbolic link or not a folder; not read"
            ) from None
        except OSError as error:
            raise SourceUnreadable(f"folder {self.root / under}: cannot be read ({error.strerror})") from None

    def _walk_folder(self, descriptor: int, folder: str, under: str, depth: int) -> Iterator[_File]:
        entries = self._entries(descriptor, folder, under)
        names = {entry.name for entry in entries}
        subfolders: list[tuple[str, str]] = []
        for entry in entries:
            relative = f"{folder}/{entry.name}" if folder else entry.name
            if entry.is_dir(follow_symlinks=False):
                subfolders.append((entry.name, relative))
            elif entry.is_file(follow_symlinks=False) and not self.date_source.is_sidecar(entry.name):
                listed = self._listed_file(descriptor, entry, relative, names, under)
                if listed is not None:
                    yield listed
        for name, relative in subfolders:
            if depth >= MAX_DEPTH:
                self._find(relative, under, "folder_too_deep", f"folders nested deeper than {MAX_DEPTH}; not read")
                continue
            try:
                child = os.open(name, _FOLDER_FLAGS, dir_fd=descriptor)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    continue  # replaced by a link or a file, or removed, since the folder was listed
                where = _masked(relative + "/", under)
                raise SourceUnreadable(
                    f"folder {self.root}: a subfolder cannot be read ({error.strerror}): {where}"
                ) from None
            try:
                yield from self._walk_folder(child, relative, under, depth + 1)
            finally:
                os.close(child)

    def _entries(self, descriptor: int, folder: str, under: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(descriptor) as entries:
                return sorted((entry for entry in entries if not entry.name.startswith(".")), key=_name)
        except OSError as error:
            if folder == under:
                raise SourceUnreadable(f"folder {self.root / under}: cannot be read ({error.strerror})") from None
            where = _masked(folder + "/", under)
            raise SourceUnreadable(
                f"folder {self.root}: a subfolder cannot be read ({error.strerror}): {where}"
            ) from None

    def _listed_file(
        self, descriptor: int, entry: os.DirEntry[str], relative: str, names: set[str], under: str
    ) -> _File | None:
        """The file as listed, or None (and a finding) when its name cannot be a record id: not UTF-8."""
        try:
            relative.encode("utf-8")
        except UnicodeEncodeError:
            self._find(_printable(relative), under, "file_name_not_utf8", "the name is not UTF-8; not read")
            return None
        try:
            identity = _Identity.of(entry.stat(follow_symlinks=False))
        except FileNotFoundError:
            return None  # removed since the folder was listed
        sidecar = entry.name + self.date_source.sidecar_suffix
        dated_by_sidecar = self.date_source.fallback is Fallback.SIDECAR and sidecar in names
        file = _File(relative, entry.name, identity, _read_small(descriptor, sidecar) if dated_by_sidecar else None)
        self._listed[relative] = identity
        return file

    def _find(self, relative: str, under: str, finding: str, detail: str) -> None:
        """A file or folder that cannot be a record: a finding about it (masked), and the walk goes on."""
        where = _masked(relative, under)
        self.findings.append((Record(relative, relative, None), {"finding": finding, "where": where, "detail": detail}))

    def _date_of(self, file: _File) -> tuple[datetime, str] | None:
        """The file's date and where it came from ("name", "sidecar", "mtime"), or None."""
        match = self.date_source.regex.search(file.name)
        fallback = self.date_source.fallback
        if match is not None:
            moment = self._midnight(match["date"], self.date_source.date_format)
        elif fallback is Fallback.SIDECAR:
            moment = None if file.sidecar is None else self._midnight(file.sidecar.strip())
        elif fallback is Fallback.MTIME:
            moment = datetime.fromtimestamp(file.identity.mtime_ns / 1e9, self.tz)
        else:
            moment = None
        return None if moment is None else (moment, "name" if match is not None else fallback.value)

    def _midnight(self, text: str, date_format: str = "%Y-%m-%d") -> datetime | None:
        try:
            return datetime.combine(datetime.strptime(text, date_format).date(), time(), self.tz)
        except ValueError:
            return None

    def _subject_of(self, file: _File) -> str:
        match = self.date_source.regex.search(file.name)
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

    @contextmanager
    def _folder(self, relative: str, *, listing: bool = False) -> Iterator[tuple[int, str]]:
        """The open folder holding `relative` (the folder itself when `listing`) and the name left in it.

        Opened from the root one folder at a time with O_NOFOLLOW: a link anywhere on the way raises
        _UnsafePath, a folder that is gone raises FileNotFoundError.
        """
        parts = [part for part in relative.split("/") if part]
        folders, name = (parts, "") if listing else (parts[:-1], parts[-1])
        descriptor = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in folders:
                try:
                    child = os.open(part, _FOLDER_FLAGS, dir_fd=descriptor)
                except OSError as error:
                    if error.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _UnsafePath from None
                    raise
                os.close(descriptor)
                descriptor = child
            yield descriptor, name
        finally:
            os.close(descriptor)

    def _delete_one(self, record_id: str) -> Receipt:
        relative = _inside(record_id)
        if not relative:
            return Receipt(record_id, False, "refused: not a file path inside the folder", response_digest(b""))
        planned = self._listed.get(relative)
        if planned is None:
            return Receipt(record_id, False, "refused: not listed by this connector, so not known", _EMPTY)
        try:
            with self._folder(relative) as (folder, name):
                return self._unlink_planned(record_id, folder, name, planned)
        except _UnsafePath:
            return Receipt(record_id, False, f"refused: {_LINKED}; nothing deleted", _EMPTY)
        except FileNotFoundError:
            return Receipt(record_id, True, "already absent (its folder is gone)", _EMPTY)
        except OSError as error:
            return Receipt(record_id, False, f"not deleted: {error.strerror}", _EMPTY)

    def _unlink_planned(self, record_id: str, folder: int, name: str, planned: _Identity) -> Receipt:
        """Digest and unlink `name` in the open `folder` if it is still the file listed; else refuse, one line."""
        try:
            opened = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        except FileNotFoundError:
            return Receipt(record_id, True, "already absent", _listing_digest(folder))
        except OSError as error:
            detail = "a symbolic link, not a file" if error.errno == errno.ELOOP else error.strerror
            return Receipt(record_id, False, f"refused: {detail}; nothing deleted", _EMPTY)
        with os.fdopen(opened, "rb") as stream:
            status = os.fstat(stream.fileno())
            if not stat.S_ISREG(status.st_mode) or _Identity.of(status) != planned:
                return Receipt(record_id, False, _replaced(record_id), _EMPTY)
            content = hashlib.file_digest(stream, "sha256").hexdigest()
        if _Identity.of(os.stat(name, dir_fd=folder, follow_symlinks=False)) != planned:
            return Receipt(record_id, False, _replaced(record_id), _EMPTY)
        os.unlink(name, dir_fd=folder)
        if self.date_source.fallback is Fallback.SIDECAR:
            with suppress(FileNotFoundError):
                os.unlink(name + self.date_source.sidecar_suffix, dir_fd=folder)
        return Receipt(record_id, True, "file removed permanently (no trash)", content)

    def _absence_of(self, record_id: str) -> AbsenceProof:
        relative = _inside(record_id)
        if not relative:
            return AbsenceProof(record_id, False, "not a file path inside the folder", _EMPTY)
        try:
            with self._folder(relative) as (folder, name):
                try:
                    os.stat(name, dir_fd=folder, follow_symlinks=False)
                except FileNotFoundError:
                    return AbsenceProof(record_id, True, "path does not exist on re-read", _listing_digest(folder))
                return AbsenceProof(record_id, False, "file still exists", _listing_digest(folder))
        except _UnsafePath:
            return AbsenceProof(record_id, False, f"not re-read: {_LINKED}", _EMPTY)
        except FileNotFoundError:
            return AbsenceProof(record_id, True, "its folder does not exist on re-read", _EMPTY)
        except OSError as error:
            return AbsenceProof(record_id, False, f"not re-read: {error.strerror}", _EMPTY)

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

    def mentions_of(self, name: str) -> Iterator[tuple[str, str]]:
        """Files whose content names the person (a probable match, for a person to check), each with its masked
        form: the reference a checklist and the ledger may show."""
        needle = name_needle(name)
        matches = _glob(self.pattern)
        for file in self._walk(""):
            if matches.fullmatch(file.relative) and self._mentions(file.relative, needle):
                yield file.relative, _masked(file.relative, "")

    def _mentions(self, relative: str, needle: Needle | NameNeedle, chunk: int = 1 << 20) -> bool:
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


def _listing_digest(folder: int) -> str:
    """SHA-256 of an open folder's sorted listing: what the re-read saw, without keeping the names."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    return response_digest(os.fsencode("\x1f".join(names)))  # a name need not be UTF-8


def _replaced(record_id: str) -> str:
    """The one line a file swapped since the listing gets: its masked name, and that nothing was deleted."""
    return (
        f"refused: {masked_tail(record_id)} is not the file listed (device, inode, size or mtime changed); "
        "nothing deleted"
    )


def _printable(relative: str) -> str:
    """A path whose name is not UTF-8, with the undecodable bytes as `\\xNN`: stable, and encodable."""
    return os.fsencode(relative).decode("utf-8", "backslashreplace")


def _read_small(folder: int, name: str, limit: int = 64) -> str | None:
    """The start of a small file (a sidecar date) in an open folder, never through a link; None if unreadable."""
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        return None
    try:
        return os.read(descriptor, limit).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(descriptor)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name
