"""`hygiene run`, `hygiene ledger` and `hygiene hold` as a user meets them, bad input included."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from hygiene.ledger import Ledger
from hygiene.policy import Policy
from sandbox.seed_files import FolderManifest, SeededFile, calmo_folder
from tests.cli_runner import Result, run_cli
from tests.test_enforce_folders import AS_OF, calmo_drive, remaining

__all__ = ["calmo_drive"]

pytestmark = pytest.mark.usefixtures("prefect_server")


Invoke = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Invoke:
    def invoke(*args: str) -> Result:
        return run_cli(capsys, monkeypatch, *args)

    return invoke


def oldest_logbook(drive: FolderManifest) -> SeededFile:
    """A logbook that is certainly due: the seed ends courses 6 to 18 months before the run."""
    return min(drive.of_kind("logbook"), key=lambda f: f.dated or AS_OF.date())


def one_line(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert result.code == 1, result.err
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def test_a_run_above_the_safety_limit_stops_without_approval_and_deletes_nothing(
    cli: Invoke, calmo_drive: FolderManifest, database_url: str
) -> None:
    before = remaining(calmo_drive, "invoice")
    line = one_line(cli("run", "calmo", "K1", "--as-of", AS_OF.isoformat()))
    assert "above its safety limit" in line and "--approve" in line
    assert remaining(calmo_drive, "invoice") == before
    approved = cli("run", "calmo", "K1", "--as-of", AS_OF.isoformat(), "--approve", "--json")
    assert approved.code == 0 and approved.json()[0]["deleted"] > 0


def test_ledger_verify_counts_the_entries_then_names_an_edited_one(
    cli: Invoke, calmo_drive: FolderManifest, database_url: str
) -> None:
    assert cli("run", "calmo", "K2", "--as-of", AS_OF.isoformat(), "--approve").code == 0
    verified = cli("ledger", "verify")
    count = Ledger(database_url).last_seq()
    assert verified.code == 0 and f"chain verified: {count} entries" in verified.out
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        table = next(
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if name.endswith("ledger")
        )
        conn.execute(f"UPDATE {table} SET rule_ref = 'K1' WHERE seq = 3")
    assert "chain broken at entry 3" in one_line(cli("ledger", "verify"))


def test_ledger_prove_finds_a_person_by_recomputing_their_pseudonym(
    cli: Invoke, calmo_drive: FolderManifest, database_url: str
) -> None:
    logbook = oldest_logbook(calmo_drive)
    assert cli("run", "calmo", "K2", "--as-of", AS_OF.isoformat(), "--approve").code == 0
    proof = cli("ledger", "prove", "--controller", "calmo", "--email", logbook.subject, "--json").json()
    assert any(e["kind"] == "outcome" and e["payload"]["result"] == "deleted" for e in proof["entries"])
    assert any("deleted on logbooks under rule K2" in s for s in proof["statements"])


def test_a_legal_hold_keeps_a_due_logbook(cli: Invoke, calmo_drive: FolderManifest, database_url: str) -> None:
    logbook = oldest_logbook(calmo_drive)
    added = cli(
        "hold",
        "add",
        "--controller",
        "calmo",
        "--email",
        logbook.subject,
        "--reason",
        "complaint under review",
        "--json",
    )
    assert added.code == 0
    result = cli("run", "calmo", "K2", "--as-of", AS_OF.isoformat(), "--approve", "--json").json()[0]
    assert result["counts"]["held"] == 1
    assert (calmo_drive.root / logbook.relative).exists()
    assert cli("hold", "release", str(added.json()["id"])).code == 0
    cli("run", "calmo", "K2", "--as-of", AS_OF.isoformat(), "--approve")
    assert not (calmo_drive.root / logbook.relative).exists()


def test_an_unreadable_folder_is_one_line(
    cli: Invoke, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HYGIENE_CALMO_LOGBOOKS", str(tmp_path / "unplugged-drive"))
    assert "cannot be read" in one_line(cli("run", "calmo", "K2"))


def test_a_file_without_a_readable_date_stops_the_run_before_anything_is_deleted(
    cli: Invoke, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    drive = calmo_folder(tmp_path / "drive", seed=3, now=AS_OF, undated=1)
    monkeypatch.setenv("HYGIENE_CALMO_LOGBOOKS", str(drive.root / "klientlogboeger"))
    monkeypatch.setattr("integrations.registry.option", _with_pattern("Arkiv/*"))
    before = remaining(drive, "logbook")
    line = one_line(cli("run", "calmo", "K2", "--as-of", AS_OF.isoformat(), "--approve"))
    assert "no readable date" in line
    assert remaining(drive, "logbook") == before
    undated = drive.of_kind("undated")[0].relative.rsplit("/", 1)[-1]
    assert undated not in line


def _with_pattern(pattern: str) -> Callable[[Policy, str, str, str | None], str | None]:
    from integrations import registry

    original = registry.option

    def option(policy: Policy, system: str, name: str, default: str | None = None) -> str | None:
        return pattern if name == "pattern" else original(policy, system, name, default)

    return option


def test_an_unknown_rule_is_one_line(cli: Invoke) -> None:
    assert "unknown rule 'K9'" in one_line(cli("run", "calmo", "K9"))


def test_a_missing_secret_key_is_one_line_and_names_the_variable(
    cli: Invoke, calmo_drive: FolderManifest, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HYGIENE_KEY_CALMO")
    before = remaining(calmo_drive, "logbook")
    assert "HYGIENE_KEY_CALMO" in one_line(cli("run", "calmo", "K2", "--approve"))
    assert remaining(calmo_drive, "logbook") == before


def test_an_unreachable_database_is_one_line_without_the_password(
    cli: Invoke, calmo_drive: FolderManifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYGIENE_DATABASE_URL", "postgresql+psycopg://hygiene:s3cret@127.0.0.1:5999/evidence")
    before = remaining(calmo_drive, "logbook")
    line = one_line(cli("run", "calmo", "K2", "--approve"))
    assert "127.0.0.1:5999" in line and "s3cret" not in line
    assert remaining(calmo_drive, "logbook") == before


def test_a_rule_that_is_not_a_deletion_is_one_line(cli: Invoke) -> None:
    assert "'flag_for_review', which the enforce-rule flow does not keep" in one_line(cli("run", "clienti", "C2"))
