"""Files holding personal data are this user's alone (0600 in folders created 0700) and a contact list's cells
cannot run as spreadsheet formulas: `=1+1@evil.no` is written as text."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hygiene.delivery import NotWritable, writable_file
from hygiene.personal_files import csv_text, private_folder, spreadsheet_safe, write_private
from tests.cli_runner import run_cli
from tests.rights_fixtures import NOW, SeededPerson

pytest_plugins = ["tests.rights_fixtures"]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask a user may have: what the tool creates must not depend on it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_a_private_file_is_0600_in_folders_created_0700_and_an_existing_folder_is_left(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    write_private(tmp_path / "svar" / "2026" / "export.json", "{}")
    assert mode(tmp_path / "svar") == mode(tmp_path / "svar" / "2026") == 0o700
    assert mode(tmp_path / "svar" / "2026" / "export.json") == 0o600
    assert mode(tmp_path) == 0o755
    assert private_folder(tmp_path / "svar") == tmp_path / "svar"


@pytest.mark.usefixtures("open_umask")
def test_rewriting_a_readable_file_narrows_it_and_a_link_in_its_place_is_not_followed(tmp_path: Path) -> None:
    old = tmp_path / "letter.txt"
    old.write_text("old", encoding="utf-8")
    old.chmod(0o644)
    write_private(old, "new")
    assert mode(old) == 0o600 and old.read_text(encoding="utf-8") == "new"
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours", encoding="utf-8")
    (tmp_path / "planted.txt").symlink_to(elsewhere)
    with pytest.raises(OSError):
        write_private(tmp_path / "planted.txt", "Ann's export")
    with pytest.raises(NotWritable, match="symbolic link"):
        writable_file(tmp_path / "planted.txt", "--out")
    assert elsewhere.read_text(encoding="utf-8") == "not yours"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1@evil.no", "'=1+1@evil.no"),
        ("+45 12 34 56 78", "'+45 12 34 56 78"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("ann@example.dk", "ann@example.dk"),
        ("K7777", "K7777"),
        (None, ""),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_is_written_as_text(cell: str | None, written: str) -> None:
    assert spreadsheet_safe(cell) == written
    assert list(csv.reader(io.StringIO(csv_text(("subject",), [(cell,)]), newline=""))) == [["subject"], [written]]


def test_the_breach_contact_list_escapes_formulas_and_is_private(
    calmo_person: SeededPerson,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hostile = calmo_person.path("klientlogboeger/Arkiv/forloeb-slut_2025-06-01_=1+1@evil.md")
    hostile.write_text("# Klientlogbog\n", encoding="utf-8")
    out = tmp_path / "brud"
    result = run_cli(
        capsys,
        monkeypatch,
        *("breach", "open", "--controller", "calmo", "--systems", "logbooks", "--out", str(out)),
        *("--discovered", NOW.replace(microsecond=0).isoformat(), "--json"),
    )
    assert result.code == 0, result.err
    with (out / "contacts.csv").open(encoding="utf-8") as stream:
        subjects = {row["subject"] for row in csv.DictReader(stream)}
    assert "'=1+1@evil" in subjects and not any(s.startswith(("=", "+", "-", "@")) for s in subjects)
    assert mode(out) == 0o700
    assert {name: mode(out / name) for name in os.listdir(out)} == {
        name: 0o600 for name in ("contacts.csv", "authority-notice.txt", "subjects-notice.txt")
    }
