"""The evidence ledger: a hash chain that shows every edit, survives concurrent writers and crashes."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from hygiene.errors import DatabaseUnreachable
from hygiene.ledger import DENIED_PAYLOAD_KEYS, ChainMac, EntryDraft, EntryKind, Ledger
from hygiene.settings import Settings
from hygiene.store import dispose_engine
from tests.ledger_fixtures import CONTROLLER, RULE, append_from_process, decision, record_of, subject_of

pytest_plugins = ["tests.ledger_fixtures"]


def tamper(ledger: Ledger, sql: str, **params: object) -> None:
    """Change the stored ledger behind its back, as someone with database access could."""
    with ledger.engine.begin() as conn:
        conn.execute(text(sql.format(table=ledger.tables.entries.name)), params)


def stored_row(ledger: Ledger, seq: int) -> dict[str, Any]:
    table = ledger.tables.entries
    with ledger.engine.connect() as conn:
        return dict(conn.execute(select(table).where(table.c.seq == seq)).one()._mapping)


def prefix_of(ledger: Ledger) -> str:
    return ledger.tables.entries.name.removesuffix("ledger")


def test_appended_entries_form_a_chain_that_verifies(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(5)])
    ledger.append([decision("run-2", n) for n in range(3)])

    report = ledger.verify()

    assert (report.ok, report.count, report.broken_at) == (True, 8, None)


def test_entries_are_numbered_from_one_and_linked_to_their_predecessor(ledger: Ledger) -> None:
    first, second = ledger.append([decision("run-1", 1), decision("run-1", 2)])

    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    assert first.created_at.utcoffset() is not None


def test_an_empty_ledger_verifies(ledger: Ledger) -> None:
    assert ledger.verify().ok
    assert ledger.last_seq() == 0


def test_editing_a_payload_by_sql_fails_verify_at_that_entry(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(5)])
    tamper(ledger, "UPDATE {table} SET payload = :payload WHERE seq = 3", payload='{"decision":"keep"}')

    report = ledger.verify()

    assert (report.ok, report.broken_at) == (False, 3)
    assert "MAC does not match" in report.reason


def test_an_edit_with_its_own_mac_recomputed_breaks_the_link_to_the_next_entry(ledger: Ledger) -> None:
    # Only the key's holder could recompute the MAC; the link to the next entry still shows the edit.
    ledger.append([decision("run-1", n) for n in range(5)])
    forged = {**stored_row(ledger, 2), "payload": '{"decision":"keep"}'}
    mac = ChainMac(Settings().chain_key().get_secret_value().encode()).entry(forged)
    tamper(ledger, "UPDATE {table} SET payload = :p, hash = :h WHERE seq = 2", p=forged["payload"], h=mac)

    report = ledger.verify()

    assert (report.ok, report.broken_at) == (False, 3)
    assert "prev_hash" in report.reason


def test_deleting_an_entry_is_detected_as_a_gap(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(5)])
    tamper(ledger, "DELETE FROM {table} WHERE seq = 2")

    report = ledger.verify()

    assert (report.ok, report.broken_at) == (False, 2)
    assert "missing" in report.reason


def test_deleting_the_newest_entry_is_detected_by_the_chain_head(ledger: Ledger) -> None:
    ledger.append([decision("run-1", n) for n in range(5)])
    tamper(ledger, "DELETE FROM {table} WHERE seq = 5")

    report = ledger.verify()

    assert (report.ok, report.count, report.broken_at) == (False, 4, 5)


@pytest.mark.timeout(60)
def test_two_processes_appending_at_once_keep_one_linear_chain(ledger: Ledger) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    batches, size = 15, 40
    workers = [
        context.Process(
            target=append_from_process,
            args=(ledger.url, prefix_of(ledger), name, batches, size, start),
        )
        for name in ("worker-a", "worker-b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=200)
    assert [worker.exitcode for worker in workers] == [0, 0]

    report = ledger.verify()
    written = Counter((entry.run_id, entry.payload["number"]) for entry in ledger.entries())

    assert (report.ok, report.count) == (True, 2 * batches * size)
    assert set(written.values()) == {1}
    assert len(written) == 2 * batches * size


def test_entries_filters_by_run_subject_record_and_kind(ledger: Ledger) -> None:
    ann = subject_of("ann@example.se")
    ledger.append(
        [
            decision("run-1", 1),
            EntryDraft(controller=CONTROLLER, run_id="run-2", kind=EntryKind.REQUEST, subject=ann),
            decision("run-2", 2),
        ]
    )

    assert [e.seq for e in ledger.entries(run_id="run-2")] == [2, 3]
    assert [e.seq for e in ledger.entries(subject=subject_of("Ann@Example.se "))] == [2]
    assert [e.seq for e in ledger.entries(record=record_of("contact-2"))] == [3]
    assert [e.seq for e in ledger.entries(kinds={EntryKind.REQUEST, EntryKind.HOLD})] == [2]


def test_range_of_a_run_is_its_first_and_last_seq(ledger: Ledger) -> None:
    ledger.append([decision("run-1", 1)])
    ledger.append([decision("run-2", 2), decision("run-2", 3)])

    assert ledger.range_of("run-2") == (2, 3)
    assert ledger.range_of("run-unknown") is None
    assert ledger.last_seq() == 3


def test_open_intents_after_a_crash_are_those_without_an_outcome(ledger: Ledger) -> None:
    intents = ledger.append(
        [
            EntryDraft.intent(
                controller=CONTROLLER, run_id="run-1", rule_ref=RULE, action="delete", record=record_of(r)
            )
            for r in ("a", "b", "c")
        ]
    )
    ledger.append([EntryDraft.outcome(intents[0], run_id="run-1", payload={"ok": True})])
    # The process dies here; the rerun opens the ledger afresh.

    reopened = Ledger(ledger.url, prefix=prefix_of(ledger))

    assert [e.intent_id for e in reopened.open_intents(CONTROLLER, RULE)] == [
        intents[1].intent_id,
        intents[2].intent_id,
    ]


def test_an_outcome_for_another_action_does_not_close_an_intent(ledger: Ledger) -> None:
    (intent,) = ledger.append(
        [EntryDraft.intent(controller=CONTROLLER, run_id="r", rule_ref=RULE, action="delete", record=record_of("a"))]
    )
    ledger.append([replace(EntryDraft.outcome(intent, run_id="r"), payload={"action": "archive"})])

    assert [e.seq for e in ledger.open_intents(CONTROLLER, RULE)] == [intent.seq]


def test_a_rerun_that_records_the_outcomes_leaves_no_open_intents(ledger: Ledger) -> None:
    ledger.append(
        [EntryDraft.intent(controller=CONTROLLER, run_id="r1", rule_ref=RULE, action="delete", record=record_of("a"))]
    )

    ledger.append([EntryDraft.outcome(i, run_id="r2") for i in ledger.open_intents(CONTROLLER, RULE)])

    assert ledger.open_intents(CONTROLLER, RULE) == []


@pytest.mark.parametrize("key", ["email", "Name", "phone_number", "e-mail", "address"])
def test_payload_keys_that_name_personal_data_are_rejected(ledger: Ledger, key: str) -> None:
    with pytest.raises(ValueError, match="personal data"):
        ledger.append([decision("run-1", 1, details={key: "x"})])
    assert ledger.last_seq() == 0


def test_payload_values_that_look_like_emails_are_rejected(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="email"):
        ledger.append([decision("run-1", 1, reason="asked by ann@example.se")])


def test_a_raw_identifier_as_subject_is_rejected(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        ledger.append([EntryDraft(controller=CONTROLLER, run_id="r", kind=EntryKind.REQUEST, subject="ann")])


def test_an_intent_without_an_intent_id_is_rejected(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="intent_id"):
        ledger.append([EntryDraft(controller=CONTROLLER, run_id="r", kind=EntryKind.INTENT)])


def test_a_sqlite_ledger_creates_its_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'there.db'}"
    try:
        assert Ledger(url).verify().ok
    finally:
        dispose_engine(url)


def test_a_sqlite_ledger_whose_folder_cannot_be_made_is_unreachable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")

    with pytest.raises(DatabaseUnreachable, match="cannot reach database"):
        Ledger(f"sqlite:///{tmp_path / 'file' / 'evidence.db'}")


def test_an_unreachable_database_is_a_one_line_error_without_the_password() -> None:
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:5999/test"
    try:
        with pytest.raises(DatabaseUnreachable) as raised:
            Ledger(url)
    finally:
        dispose_engine(url)

    message = str(raised.value)
    assert "\n" not in message
    assert "127.0.0.1:5999" in message
    assert "s3cret" not in message


_safe_keys = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(
    lambda key: key.replace("_", "") not in DENIED_PAYLOAD_KEYS
)
_values = st.none() | st.booleans() | st.integers() | st.text(st.characters(exclude_characters="@"), max_size=12)
_payloads = st.lists(st.dictionaries(_safe_keys, _values, max_size=4), min_size=1, max_size=6)
_examples = settings(max_examples=40, deadline=None)


def fresh_ledger(url: str) -> Ledger:
    """Hypothesis runs many examples per test, each in tables of its own within one SQLite file."""
    return Ledger(url, prefix=f"p{uuid.uuid4().hex[:10]}_")


@_examples
@given(payloads=_payloads)
def test_any_appended_sequence_verifies(shared_sqlite_url: str, payloads: list[dict[str, object]]) -> None:
    ledger = fresh_ledger(shared_sqlite_url)
    ledger.append([decision("run", n, extra=p) for n, p in enumerate(payloads)])

    assert ledger.verify().ok


@_examples
@given(payloads=_payloads, data=st.data())
def test_any_single_byte_change_to_a_stored_payload_breaks_verify(
    shared_sqlite_url: str, payloads: list[dict[str, object]], data: st.DataObject
) -> None:
    ledger = fresh_ledger(shared_sqlite_url)
    entries = ledger.append([decision("run", n, extra=p) for n, p in enumerate(payloads)])
    seq = data.draw(st.sampled_from(entries)).seq
    stored = stored_row(ledger, seq)["payload"].encode()
    at = data.draw(st.integers(0, len(stored) - 1))
    byte = data.draw(st.integers(0x20, 0x7E).filter(lambda b: b != stored[at]))
    changed = stored[:at] + bytes([byte]) + stored[at + 1 :]
    tamper(ledger, "UPDATE {table} SET payload = :p WHERE seq = :s", p=changed.decode(), s=seq)

    report = ledger.verify()

    assert (report.ok, report.broken_at) == (False, seq)
