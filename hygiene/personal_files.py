"""Files the tool writes that hold personal data: exports, reply letters, breach contact lists and notices.

Such a file is created 0600 inside a folder the tool creates 0700, whatever the umask, so another account on the
machine cannot read an access export or a contact list. A folder the operator already has is left as it is (it
is theirs, and may be shared on purpose); a file that exists is narrowed to 0600 when it is rewritten, and a
symbolic link in a file's place is refused rather than followed, so a planted link cannot redirect an export.

A cell of a CSV is text a spreadsheet may run: `=1+1@evil.no` opened in Excel or LibreOffice is a formula, and
one that calls out (`=HYPERLINK(...)`, DDE) leaks the list. Every cell starting with a character that starts a
formula (`=`, `+`, `-`, `@`, tab, carriage return) is written behind an apostrophe, as OWASP advises, and the value
stays readable.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
#: what a spreadsheet reads as the start of a formula
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def private_folder(path: Path) -> Path:
    """`path` as a folder, every level this call creates made 0700; existing levels are left as they are."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=FOLDER_MODE)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened: set it exactly
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` readable and writable by this user only, never through a link."""
    private_folder(path.parent)
    payload = data.encode() if isinstance(data, str) else data
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(descriptor, "wb") as stream:
        os.fchmod(stream.fileno(), FILE_MODE)
        stream.write(payload)


def spreadsheet_safe(value: object) -> str:
    """The cell's text, behind an apostrophe when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document whose every cell is `spreadsheet_safe`."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return text.getvalue()
