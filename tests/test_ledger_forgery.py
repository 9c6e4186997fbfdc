"""Evidence that cannot be rewritten: forgeries by someone who can write the database but does not hold the
ledger key, and cut-off or emptied ledgers, are caught by `verify` and by the heads printed outside it."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Table, select, text, update

from hygiene.errors import HygieneError, LedgerTampered
from hygiene.ledger import HASHED_FIELDS, Ledger
from hygiene.ledger_head import GENESIS_MAC, ChainHead, recorded_heads
from hygiene.ledger_schema import canonical_json
from tests.ledger_fixtures import decision

pytest_plugins = ["tests.ledger_fixtures"]


def rows(ledger: Ledger) -> list[dict[str, Any]]:
    table = ledger.tables.entries
    with ledger.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(table).order_by(table.c.seq))]


def head_row(ledger: Ledger) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        return dict(conn.execute(select(ledger.tables.head)).one()._mapping)


def sha256_of(row: dict[str, Any]) -> str:
    """What the chain was before it was keyed, and what an attacker without the key can still compute."""
    return hashlib.sha256(canonical_json({name: row[name] for name in HASHED_FIELDS}).encode()).hexdigest()


def hmac_of(key: bytes, row: dict[str, Any]) -> str:
    """An attacker's best guess: the right construction under a key of their own."""
    return hmac.new(key, canonical_json({name: row[name] for name in HASHED_FIELDS}).encode(), "sha256").hexdigest()


def rewrite(ledger: Ledger, edited: dict[str, Any], digest: Any, head_mac: str | None = None) -> None:
    """Replace entry `edited["seq"]` and recompute every later link and the head, as an attacker would."""
    table: Table = ledger.tables.entries
    chain = rows(ledger)
    prev = GENESIS_MAC
    with ledger.engine.begin() as conn:
        for row in chain:
            if row["seq"] == edited["seq"]:
                row.update(edited)
            if row["seq"] >= edited["seq"]:
                row["prev_hash"] = prev
                row["hash"] = digest(row)
                conn.execute(update(table).where(table.c.seq == row["seq"]).values(**row))
            prev = row["hash"]
        values = {"seq": chain[-1]["seq"], "hash": prev}
        conn.execute(update(ledger.tables.head).values(**values, **({"mac": head_mac} if head_mac else {})))


def cut_to(ledger: Ledger, seq: int, saved_head: dict[str, Any]) -> None:
    """Delete every entry after `seq` and put back the head row as it was then (a copy the attacker kept)."""
    with ledger.engine.begin() as conn:
        conn.execute(ledger.tables.entries.delete().where(ledger.tables.entries.c.seq > seq))
        conn.execute(update(ledger.tables.head).values(**saved_head))


def test_an_edit_with_every_later_sha256_and_the_head_recomputed_is_detected(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(5)])
    edited = {**rows(ledger)[1], "payload": '{"decision":"keep","number":1}'}

    rewrite(ledger, edited, sha256_of)
    report = ledger.verify()

    assert not report.ok
    assert "MAC" in report.reason


def test_a_chain_rebuilt_under_another_key_is_detected_at_its_first_entry(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(5)])
    attacker = b"a key the attacker made up, however long it is"
    edited = {**rows(ledger)[0], "payload": '{"decision":"keep","number":0}'}
    forged_head = hmac.new(attacker, b"head", "sha256").hexdigest()

    rewrite(ledger, edited, lambda row: hmac_of(attacker, row), head_mac=forged_head)
    report = ledger.verify()

    assert not report.ok
    assert "head" in report.reason


def test_the_head_moved_back_over_deleted_entries_without_the_key_is_detected(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(5)])
    third = rows(ledger)[2]

    cut_to(ledger, 3, {**head_row(ledger), "seq": 3, "hash": third["hash"]})

    assert not ledger.verify().ok


def test_a_ledger_rolled_back_to_an_older_copy_is_detected_only_by_a_later_head(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(3)])
    saved = head_row(ledger)
    ledger.append([decision("run-2", n) for n in range(2)])
    printed = ledger.verify().head

    cut_to(ledger, 3, saved)

    assert ledger.verify().ok, "an older copy is a consistent ledger: only a head kept elsewhere shows the cut"
    report = ledger.verify([ChainHead(printed.seq, printed.mac, "the report of 2026Q4")])
    assert (report.ok, report.broken_at) == (False, 4)
    assert "the report of 2026Q4 shows entry 5: entries were removed" in report.reason


def test_an_emptied_ledger_with_a_known_head_is_an_error_not_verified(ledger: Ledger) -> None:
    genesis = head_row(ledger)
    ledger.append([decision("run-1", n) for n in range(4)])
    printed = ledger.verify().head

    cut_to(ledger, 0, genesis)

    assert ledger.verify().count == 0
    report = ledger.verify([printed])
    assert not report.ok
    assert "ends at entry 0" in report.reason


def test_a_head_whose_entry_was_rewritten_is_detected(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(3)])
    wrong = ChainHead(2, "ab" * 32, "--head")

    report = ledger.verify([wrong])

    assert (report.ok, report.broken_at) == (False, 2)
    assert "not the one --head shows" in report.reason


def test_the_ledger_still_extends_a_head_printed_before_later_entries(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(3)])
    printed = ledger.verify().head
    ledger.append([decision("run-2", n) for n in range(3)])

    report = ledger.verify([printed])

    assert (report.ok, report.count, report.anchors) == (True, 6, 1)
    assert ledger.head() == report.head


def test_a_ledger_read_with_another_key_does_not_verify(ledger_url: str, ledger_prefix: str) -> None:
    Ledger(ledger_url, prefix=ledger_prefix).append([decision("run-1", 1)])

    other = Ledger(ledger_url, prefix=ledger_prefix, key=SecretStr("another-key-" + "9f" * 24))

    report = other.verify()
    assert not report.ok and "HYGIENE_LEDGER_KEY" in report.reason


def test_a_ledger_written_before_the_chain_was_keyed_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    ledger = Ledger(url)
    with ledger.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {ledger.tables.head.name} DROP COLUMN mac"))

    with pytest.raises(LedgerTampered) as refused:
        Ledger(url)

    assert "before the evidence chain was keyed" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_head_is_entry_and_mac_and_anything_else_is_one_line_without_the_input() -> None:
    head = ChainHead.parse(f"17:{'A1' * 32}")

    assert (head.seq, head.mac, str(head)) == (17, "a1" * 32, f"17:{'a1' * 32}")
    for bad in ("4711", "4711:abc", f"-1:{'a' * 64}", f"x:{'a' * 64}", "", "ann@example.dk"):
        with pytest.raises(HygieneError) as refused:
            ChainHead.parse(bad, "--head")
        message = str(refused.value)
        assert message.startswith("--head: ") and "ENTRY:MAC" in message and "\n" not in message
        assert not bad or bad not in message


def test_heads_recorded_by_reports_are_found_again(tmp_path: Path) -> None:
    head = ChainHead(12, "c3" * 32)
    report = tmp_path / "calmo" / "2026Q4" / "report.md"
    report.parent.mkdir(parents=True)
    report.write_text(f"## Chain verification\n\n{head.line()}\n", encoding="utf-8")

    [found] = recorded_heads(tmp_path)

    assert found == head and str(report) in found.source
