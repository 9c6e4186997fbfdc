"""Answers to checklists: recorded before they are forgotten, and recorded late when their run was interrupted.

An attestation run waits days for a person. Whatever ends its process meanwhile (a worker restart, a deploy,
SIGKILL), the person's answer is kept where the orchestrator keeps run inputs until the run has recorded it;
the run records first and forgets the answer after. So an answer can outlive its run, and the next run of the
same rule and system looks for it before it builds its own checklist: it records the answer under the run that
asked (as the person meant it), forgets it (it holds the attester's name), and closes that run. A run that
died unanswered is closed as interrupted; its items are still due and come back on the new checklist.

The steps are ordered so that a crash between any two of them is repaired by the next run: attestations are
appended only when the ledger has none for that run, forgetting a missing answer is a no-op, and the run is
closed last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from hygiene.checklist import (
    Answer,
    AttestationRefused,
    Checklist,
    ChecklistItem,
    attestation_drafts,
    refusal_draft,
    rule_entries,
)
from hygiene.enforcement import RunContext
from hygiene.ledger import Entry, EntryDraft, EntryKind, Ledger
from hygiene.planner import Decision

#: the form's own fields; every other field of an answer is a checkbox, of this checklist or of another
FORM_FIELDS = frozenset({"attester_name", "attester_role", "note"})
#: `outcome` of the RUN_FINISHED that closes a run another run found unfinished
INTERRUPTED = "interrupted"
RECORDED_LATE = "attested; recorded after an interruption"


class AnswerInbox(Protocol):
    """Where answers wait for the run that asked (Prefect's run inputs, in the flow)."""

    def has_ended(self, flow_run: str) -> bool: ...

    def left_answer(self, flow_run: str) -> Mapping[str, Any] | None: ...

    def forget(self, flow_run: str) -> None: ...


@dataclass(frozen=True)
class Interrupted:
    checklist: Checklist
    flow_run: str | None
    #: the answer's attestations are on record already (the crash came after them)
    answered: bool


def answer_from(values: Mapping[str, Any], checklist: Checklist) -> Answer:
    """The form's values as an answer to `checklist`: ticked checkboxes, fields that are not its own, who."""
    fields = checklist.by_field()
    return Answer(
        ticked=frozenset(name for name in fields if values.get(name) is True),
        unknown=frozenset(name for name in values if name not in fields and name not in FORM_FIELDS),
        attester_name=str(values.get("attester_name") or ""),
        role=str(values.get("attester_role") or ""),
        note=str(values.get("note") or ""),
    )


def interrupted_runs(ledger: Ledger, ctx: RunContext) -> list[Interrupted]:
    """Earlier runs of `ctx`'s rule and system that started and never finished, with the checklists they recorded."""
    started: dict[str, Entry] = {}
    finished: set[str] = set()
    answered: set[str] = set()
    items: dict[str, dict[str, ChecklistItem]] = {}
    digests: dict[str, str] = {}
    kinds = {EntryKind.RUN_STARTED, EntryKind.RUN_FINISHED, EntryKind.DECISION, EntryKind.ATTESTATION}
    for entry in rule_entries(ledger, ctx.controller, ctx.rule.ref, kinds):
        if entry.payload.get("system") != ctx.system or entry.run_id == ctx.run_id:
            continue
        if entry.kind is EntryKind.RUN_STARTED:
            started[entry.run_id] = entry
        elif entry.kind is EntryKind.RUN_FINISHED:
            finished.add(entry.run_id)
        elif entry.kind is EntryKind.ATTESTATION:
            answered.add(entry.run_id)
        elif "item" in entry.payload and "deadline" in entry.payload:
            items.setdefault(entry.run_id, {}).setdefault(str(entry.payload["item"]), _recorded_item(ctx, entry))
            if entry.payload.get("source_digest"):
                digests[entry.run_id] = str(entry.payload["source_digest"])
    return [
        Interrupted(
            _recorded_checklist(ctx, start, items.get(run_id, {}), digests.get(run_id)),
            _flow_run(start),
            run_id in answered,
        )
        for run_id, start in started.items()
        if run_id not in finished
    ]


def _recorded_item(ctx: RunContext, entry: Entry) -> ChecklistItem:
    """An item as its DECISION entry recorded it; only what an attestation needs (no date or kind to show)."""
    deadline = entry.payload.get("deadline")
    return ChecklistItem(
        field=str(entry.payload["item"]),
        record=entry.record or "",
        subject=entry.subject,
        kind=ctx.rule.covers.records,
        dated="",
        decision=Decision(entry.payload["decision"]),
        deadline=None if deadline is None else datetime.fromisoformat(str(deadline)),
    )


def _recorded_checklist(
    ctx: RunContext, start: Entry, items: Mapping[str, ChecklistItem], source_digest: str | None
) -> Checklist:
    return Checklist(
        controller=ctx.controller,
        rule_ref=ctx.rule.ref,
        system=ctx.system,
        run_id=start.run_id,
        as_of=datetime.fromisoformat(str(start.payload["as_of"])),
        items=tuple(items.values()),
        source_digest=source_digest,
    )


def _flow_run(start: Entry) -> str | None:
    flow_run = start.payload.get("flow_run")
    return None if flow_run is None else str(flow_run)


def record_answer(
    ctx: RunContext, ledger: Ledger, checklist: Checklist, values: Mapping[str, Any], inbox: AnswerInbox
) -> list[EntryDraft]:
    """Record the answer, then forget it: never the other way round, or a crash between loses it.

    A refused answer is recorded as a refusal, forgotten (it holds a name) and raised.
    """
    assert ctx.flow_run is not None, "an answer belongs to the flow run that asked"
    try:
        drafts = attestation_drafts(ctx, checklist, answer_from(values, checklist), ledger)
    except AttestationRefused as refusal:
        ledger.append([refusal_draft(ctx, checklist, str(refusal))])
        inbox.forget(ctx.flow_run)
        raise
    ledger.append(drafts)
    inbox.forget(ctx.flow_run)
    return drafts


def recover_interrupted(ctx: RunContext, ledger: Ledger, inbox: AnswerInbox) -> int:
    """Record the answers interrupted runs received, forget them, close those runs; the answers recorded.

    A run whose flow run has not ended (still waiting, or running elsewhere) is left alone: it closes itself.
    """
    recorded = 0
    for run in interrupted_runs(ledger, ctx):
        if run.flow_run is not None and not inbox.has_ended(run.flow_run):
            continue
        asked = replace(ctx, run_id=run.checklist.run_id, flow_run=run.flow_run)
        values = None if run.flow_run is None else inbox.left_answer(run.flow_run)
        answered = run.answered
        if values is not None and not answered and run.checklist.items:
            answered = _record_late(asked, ledger, run.checklist, values, inbox)
            recorded += answered
        elif values is not None and run.flow_run is not None:
            inbox.forget(run.flow_run)
        outcome = RECORDED_LATE if answered else INTERRUPTED
        payload = {"items": len(run.checklist.items), "outcome": outcome, "closed_by": ctx.run_id}
        ledger.append([asked.draft(EntryKind.RUN_FINISHED, payload)])
    return recorded


def _record_late(
    asked: RunContext, ledger: Ledger, checklist: Checklist, values: Mapping[str, Any], inbox: AnswerInbox
) -> bool:
    try:
        record_answer(asked, ledger, checklist, values, inbox)
    except AttestationRefused:
        return False
    return True
