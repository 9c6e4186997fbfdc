"""`hygiene ledger verify --head`, the head an evidence report records, `hygiene ledger prove`'s sentences and
`hygiene key new`, as a user meets them; the forgeries are made the way someone with database access would."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from hygiene.keys import check_key
from hygiene.ledger import HASHED_FIELDS, Ledger
from hygiene.ledger_schema import canonical_json
from sandbox.seed_files import FolderManifest
from tests.cli_runner import Result, run_cli
from tests.ledger_fixtures import decision
from tests.test_enforce_folders import AS_OF, calmo_drive

__all__ = ["calmo_drive"]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("HYGIENE_REPORTS_DIR", str(tmp_path / "reports"))

    def invoke(*args: str) -> Result:
        return run_cli(capsys, monkeypatch, *args)

    return invoke


def one_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert result.code == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def head_row(ledger: Ledger) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        return dict(conn.execute(select(ledger.tables.head)).one()._mapping)


def roll_back(ledger: Ledger, seq: int, saved_head: dict[str, Any]) -> None:
    """The ledger as an older copy of itself: later entries gone, the head row as it was then."""
    with ledger.engine.begin() as conn:
        conn.execute(ledger.tables.entries.delete().where(ledger.tables.entries.c.seq > seq))
        conn.execute(update(ledger.tables.head).values(**saved_head))


def test_verify_prints_the_head_and_proves_the_ledger_extends_a_given_one(cli: Any, database_url: str) -> None:
    ledger = Ledger(database_url)
    ledger.append([decision("run-1", n) for n in range(3)])
    printed = cli("ledger", "verify", "--json").json()["head"]
    ledger.append([decision("run-2", n) for n in range(2)])

    verified = cli("ledger", "verify", "--head", printed)

    assert verified.code == 0, verified.err
    assert "chain verified: 5 entries, extending 1 recorded head(s); head 5:" in verified.out


def test_a_ledger_cut_back_to_an_older_copy_fails_verify_with_the_head_printed_before(
    cli: Any, database_url: str
) -> None:
    ledger = Ledger(database_url)
    ledger.append([decision("run-1", n) for n in range(3)])
    saved = head_row(ledger)
    ledger.append([decision("run-2", n) for n in range(2)])
    printed = cli("ledger", "verify", "--json").json()["head"]

    roll_back(ledger, 3, saved)

    assert cli("ledger", "verify").code == 0
    line = one_line(cli("ledger", "verify", "--head", printed))
    assert "chain broken at entry 4" in line and "entries were removed" in line


def test_an_emptied_ledger_with_a_known_head_is_an_error(cli: Any, database_url: str) -> None:
    ledger = Ledger(database_url)
    genesis = head_row(ledger)
    ledger.append([decision("run-1", n) for n in range(4)])
    printed = cli("ledger", "verify", "--json").json()["head"]

    roll_back(ledger, 0, genesis)

    assert "the ledger ends at entry 0" in one_line(cli("ledger", "verify", "--head", printed))


def test_a_report_records_the_head_and_a_later_verify_holds_the_ledger_to_it(
    cli: Any, database_url: str, tmp_path: Path
) -> None:
    ledger = Ledger(database_url)
    ledger.append([decision("run-1", n) for n in range(3)])
    saved = head_row(ledger)
    ledger.append([decision("run-2", n) for n in range(2)])

    assert cli("report", "--controller", "calmo", "--quarter", "2026Q4").code == 0
    markdown = tmp_path / "reports" / "calmo" / "2026Q4" / "report.md"
    head = ledger.verify().head
    assert f"Ledger head: entry 5, MAC {head.mac}" in markdown.read_text(encoding="utf-8")
    assert f"hygiene ledger verify --head {head}" in markdown.read_text(encoding="utf-8")

    roll_back(ledger, 3, saved)

    line = one_line(cli("ledger", "verify"))
    assert "entries were removed" in line and str(markdown) in line


def test_an_edited_entry_with_its_sha256_chain_recomputed_fails_verify(cli: Any, database_url: str) -> None:
    ledger = Ledger(database_url)
    ledger.append([decision("run-1", n) for n in range(3)])
    table = ledger.tables.entries
    with ledger.engine.begin() as conn:
        prev = "0" * 64
        for row in [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.seq))]:
            row.update(prev_hash=prev, payload=row["payload"].replace('"due"', '"keep"'))
            row["hash"] = prev = hashlib.sha256(canonical_json({k: row[k] for k in HASHED_FIELDS}).encode()).hexdigest()
            conn.execute(update(table).where(table.c.seq == row["seq"]).values(**row))
        conn.execute(update(ledger.tables.head).values(hash=prev))

    assert "chain broken" in one_line(cli("ledger", "verify"))


def test_prove_speaks_of_a_request_without_empty_parts(cli: Any, database_url: str) -> None:
    email = "prove-me@example.org"
    opened = cli("request", "open", "--controller", "calmo", "--kind", "erasure", "--email", email)
    assert opened.code == 0, opened.err

    proof = cli("ledger", "prove", "--controller", "calmo", "--email", email, "--json").json()

    [sentence] = proof["statements"]
    assert "erasure request opened" in sentence
    assert "None" not in sentence and "  " not in sentence and " on " not in sentence
    assert re.search(r"\(entry \d+, request [0-9a-f]+\)$", sentence)


def test_key_new_prints_a_key_the_key_check_accepts(cli: Any) -> None:
    made = cli("key", "new")

    assert made.code == 0
    check_key(SecretStr(made.out.strip()), "the new key")


@pytest.mark.usefixtures("prefect_server")
def test_a_run_page_shows_the_ledger_head_and_verify_proves_the_ledger_extends_it(
    cli: Any, calmo_drive: FolderManifest, database_url: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.enforce import enforce_rule

    enforce_rule("calmo", "K2", dry_run=True, as_of=AS_OF)
    head = Ledger(database_url).head()
    with get_client(sync_client=True) as client:
        pages = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ledger-head"])))
    [page] = [p.data for p in pages if isinstance(p.data, str) and head.line() in p.data]
    Ledger(database_url).append([decision("later-run", 1)])

    printed = re.search(r"--head (\S+)", page)
    assert printed is not None and cli("ledger", "verify", "--head", printed.group(1)).code == 0
