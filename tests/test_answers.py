"""Answers outliving their run: recorded late under the run that asked, forgotten, and each run closed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pytest
from pydantic import SecretStr

from hygiene.answers import INTERRUPTED, RECORDED_LATE, answer_from, record_answer, recover_interrupted
from hygiene.checklist import REFUSED, AttestationRefused, Checklist, checklist_drafts, sweep_item
from hygiene.enforcement import RunContext, start_run
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy

AS_OF = datetime.fromisoformat("2026-11-01T08:00:00+01:00")
ANSWER = {"attester_name": "Kari Nordmann", "attester_role": "owner"}


@dataclass
class Inbox:
    """Run inputs by flow run, as Prefect keeps them; `running` flow runs have not ended."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)

    def has_ended(self, flow_run: str) -> bool:
        return flow_run not in self.running

    def left_answer(self, flow_run: str) -> Mapping[str, Any] | None:
        return self.answers.get(flow_run)

    def forget(self, flow_run: str) -> None:
        self.answers.pop(flow_run, None)


def context(flow_run: str) -> RunContext:
    """Stressfri's monthly phone sweep (S3): one item, no system to read."""
    policy = load_policy(policies_dir(), "stressfri")
    rule = policy.rule("S3")
    assert rule is not None
    key = SecretStr("answers-test-key")
    return RunContext(policy=policy, rule=rule, system="phone", as_of=AS_OF, dry_run=False, key=key, flow_run=flow_run)


def asked(ledger: Ledger, flow_run: str) -> tuple[RunContext, Checklist]:
    """A run that recorded its checklist and then died, before or after the answer came."""
    ctx = context(flow_run)
    start_run(ctx, ledger)
    item = sweep_item(ctx)
    checklist = Checklist(ctx.controller, ctx.rule.ref, ctx.system, ctx.run_id, AS_OF, (item,))
    ledger.append(checklist_drafts(ctx, checklist))
    return ctx, checklist


def entries(ledger: Ledger, run_id: str, kind: EntryKind) -> list[Any]:
    return [e for e in ledger.entries(run_id=run_id) if e.kind is kind]


def test_a_late_answer_is_recorded_under_the_run_that_asked_once_and_forgotten(database_url: str) -> None:
    ledger = Ledger(database_url)
    first, checklist = asked(ledger, "flow-run-1")
    inbox = Inbox({"flow-run-1": {checklist.items[0].field: True, **ANSWER}})
    later = context("flow-run-2")

    assert recover_interrupted(later, ledger, inbox) == 1
    assert recover_interrupted(replace(later, run_id="third"), ledger, inbox) == 0, "a closed run stays closed"

    [attestation] = entries(ledger, first.run_id, EntryKind.ATTESTATION)
    assert attestation.payload["done"] is True and attestation.payload["attester"].startswith("attester:")
    [closed] = entries(ledger, first.run_id, EntryKind.RUN_FINISHED)
    assert closed.payload == {"system": "phone", "items": 1, "outcome": RECORDED_LATE, "closed_by": later.run_id}
    assert inbox.answers == {}
    assert ledger.verify().ok


def test_an_answer_recorded_before_the_crash_is_not_recorded_again(database_url: str) -> None:
    ledger = Ledger(database_url)
    first, checklist = asked(ledger, "flow-run-1")
    values = {checklist.items[0].field: True, **ANSWER}
    record_answer(first, ledger, checklist, values, Inbox())
    inbox = Inbox({"flow-run-1": values})  # died after the append, before the answer was forgotten

    assert recover_interrupted(context("flow-run-2"), ledger, inbox) == 0
    assert len(entries(ledger, first.run_id, EntryKind.ATTESTATION)) == 1
    [closed] = entries(ledger, first.run_id, EntryKind.RUN_FINISHED)
    assert closed.payload["outcome"] == RECORDED_LATE
    assert inbox.answers == {}, "the name left behind is forgotten"


def test_a_late_answer_without_an_attester_is_refused_and_its_run_closed_as_interrupted(database_url: str) -> None:
    ledger = Ledger(database_url)
    first, checklist = asked(ledger, "flow-run-1")
    inbox = Inbox({"flow-run-1": {checklist.items[0].field: True, "attester_name": " "}})

    assert recover_interrupted(context("flow-run-2"), ledger, inbox) == 0
    assert not entries(ledger, first.run_id, EntryKind.ATTESTATION)
    [refusal] = entries(ledger, first.run_id, EntryKind.FINDING)
    assert refusal.payload["finding"] == REFUSED
    [closed] = entries(ledger, first.run_id, EntryKind.RUN_FINISHED)
    assert closed.payload["outcome"] == INTERRUPTED
    assert inbox.answers == {}


def test_a_run_still_waiting_elsewhere_is_left_to_close_itself(database_url: str) -> None:
    ledger = Ledger(database_url)
    first, checklist = asked(ledger, "flow-run-1")
    inbox = Inbox({"flow-run-1": {checklist.items[0].field: True, **ANSWER}}, running={"flow-run-1"})

    assert recover_interrupted(context("flow-run-2"), ledger, inbox) == 0
    assert not entries(ledger, first.run_id, EntryKind.RUN_FINISHED)
    assert "flow-run-1" in inbox.answers


def test_a_form_field_of_another_checklist_makes_the_answer_unknown_not_ticked(database_url: str) -> None:
    ctx = context("flow-run-1")
    item = sweep_item(ctx)
    checklist = Checklist(ctx.controller, ctx.rule.ref, ctx.system, ctx.run_id, AS_OF, (item,))
    answer = answer_from({item.field: True, "item_ffffff": True, "note": "done", **ANSWER}, checklist)
    assert answer.ticked == {item.field} and answer.unknown == {"item_ffffff"}
    assert (answer.attester_name, answer.role, answer.note) == ("Kari Nordmann", "owner", "done")
    with pytest.raises(AttestationRefused, match="not on checklist"):
        record_answer(ctx, Ledger(database_url), checklist, {item.field: True, "item_ffffff": True, **ANSWER}, Inbox())
