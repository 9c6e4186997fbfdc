"""A person seeded into Calmo's drive (seeds/003) beside the synthetic clients, for rights-request tests.

PYTEST_DONT_REWRITE: no asserts here; test modules load it with `pytest_plugins = ["tests.rights_fixtures"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from sandbox.seed_files import FolderManifest, calmo_folder
from tests.cli_runner import Result, run_cli

EMAIL = "Ann.Kjaer.Lund@example.dk"
NAME = "Ann Kjær Lund"
NOW = datetime.now().astimezone()


@dataclass(frozen=True)
class SeededPerson:
    """The person's files on Calmo's drive, by what an erasure must do with each."""

    drive: FolderManifest
    erased: tuple[str, ...]
    kept: dict[str, date]

    def path(self, relative: str) -> Path:
        return self.drive.root / relative

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.erased, *self.kept)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def calmo_person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> SeededPerson:
    """Calmo's drive with one more client: an invoice of last year (kept: bogføringsloven, 5 years from the end
    of its financial year), an invoice of 2019 (its 5 years have run) and an archived logbook (Calmo's own year
    of archiving is no legal duty, so an erasure takes it)."""
    drive = calmo_folder(tmp_path / "drive", seed=11, now=NOW, invoices=12, logbooks=6)
    monkeypatch.setenv("HYGIENE_CALMO_INVOICES", str(drive.root / "fakturaer"))
    monkeypatch.setenv("HYGIENE_CALMO_LOGBOOKS", str(drive.root / "klientlogboeger"))
    last_year = NOW.year - 1
    files = {
        f"fakturaer/{last_year}/{last_year}-03-01_faktura_7001.pdf": f"Faktura 7001\n{NAME}\nE-mail: {EMAIL}\n",
        "fakturaer/2019/2019-05-01_faktura_7002.pdf": f"Faktura 7002\n{NAME}\nE-mail: {EMAIL.upper()}\n",
        "klientlogboeger/Arkiv/forloeb-slut_2025-06-01_K7777.md": f"# Klientlogbog K7777\n\n{NAME}\n{EMAIL}\n",
    }
    for relative, text in files.items():
        _write(drive.root / relative, text)
    kept = {f"fakturaer/{last_year}/{last_year}-03-01_faktura_7001.pdf": date(last_year + 5, 12, 31)}
    erased = tuple(relative for relative in files if relative not in kept)
    return SeededPerson(drive, erased, kept)


def open_request(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, controller: str, kind: str, email: str = EMAIL
) -> str:
    result = run_cli(
        capsys, monkeypatch, "request", "open", "--controller", controller, "--kind", kind, "--email", email, "--json"
    )
    assert result.code == 0, result.err
    request_id: str = result.json()["request"]
    return request_id


def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    return run_cli(capsys, monkeypatch, *args)
