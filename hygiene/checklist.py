"""Checklists for the promises a person keeps by hand: Webnode's admin page, paper, the phone, the accountant.

A system without a deletion interface still gets a plan: its records (from an export or a register) are
planned like any other, and the DUE and OVERDUE ones become a checklist a person works through and attests.
Systems with no record data at all get the item their rule implies: a bookkeeping review lists the financial
years whose retention has run (S5), anything else is one sweep, "delete what is dated before the run" (S3).

An item carries only what a person needs to find the record: a date (the minute for a Webnode submission,
which is how its admin page lists them), a masked reference and the kind of record; never a name or a text.

Who attested is evidence too, but the ledger must not hold a name: the form asks for the attester's name and
the ledger keeps its keyed pseudonym (kind "attester") and the role given. The controller, who holds the key,
can prove who attested by recomputing the pseudonym from the name; anyone else reading the ledger cannot.

An item attested as done is settled: later checklists leave it out (a register still lists a course that ended
long ago), until a verification against a later export finds the record still there; then it is due again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from hygiene.cadence import previous_run
from hygiene.connector import Record
from hygiene.enforcement import RunContext
from hygiene.errors import HygieneError
from hygiene.ledger import Entry, EntryDraft, EntryKind, Ledger
from hygiene.planner import Decision, Planned
from hygiene.policy import Anchor
from hygiene.pseudonym import mask, pseudonym
from hygiene.windows import window_for

#: the pseudonym kind of the person who attests
ATTESTER = "attester"
#: how many financial years back a bookkeeping review looks; years attested as reviewed drop out
REVIEW_LOOKBACK_YEARS = 10
#: payload values of FINDING entries
STILL_PRESENT = "still_present"
REMINDER = "unanswered_checklist"
REFUSED = "attestation_refused"

#: the record attribute a register sets when an agreement, not the rule, governs the customer's material (B4)
AGREEMENT = "agreement"
_AGREEMENT_NOTES = {"all_in": "ALL-IN agreement: its terms govern the customer material"}
_FIELD_TAIL = 6
_LONG_DIGITS = re.compile(r"\d[\d ]{6,}\d")


class AttestationRefused(HygieneError):
    """An answer that cannot be recorded (unknown items, a second answer, no attester); nothing is recorded."""


class SameExport(HygieneError):
    """Verification was given the export the checklist came from, which proves nothing."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One thing to do by hand. `field` is the form's checkbox; `record` and `subject` are pseudonyms."""

    field: str
    record: str
    subject: str | None
    kind: str
    dated: str
    decision: Decision
    deadline: datetime | None

    @property
    def masked(self) -> str:
        return mask(self.record)


@dataclass(frozen=True)
class Checklist:
    controller: str
    rule_ref: str
    system: str
    run_id: str
    as_of: datetime
    items: tuple[ChecklistItem, ...]
    settled: int = 0
    source_digest: str | None = None

    def by_field(self) -> dict[str, ChecklistItem]:
        return {item.field: item for item in self.items}

    @property
    def overdue(self) -> list[ChecklistItem]:
        return [item for item in self.items if item.decision is Decision.OVERDUE]


@dataclass(frozen=True)
class Answer:
    """What a person answered: the ticked checkboxes, any field that is not a checkbox of the form, who, a note."""

    ticked: frozenset[str]
    unknown: frozenset[str]
    attester_name: str
    role: str
    note: str = ""


# ---- what is due --------------------------------------------------------------------------------------------


def financial_years(ctx: RunContext, lookback: int = REVIEW_LOOKBACK_YEARS) -> list[Record]:
    """One record per financial year up to `as_of`, dated on its last day, for a bookkeeping review (S5)."""
    month, day = ctx.policy.year_end
    last = ctx.as_of.astimezone(ctx.policy.zone).year
    return [
        Record(f"fy{year}", "", datetime.combine(date(year, month, day), time(12), tzinfo=ctx.policy.zone))
        for year in range(last - lookback, last + 1)
    ]


def is_bookkeeping_review(ctx: RunContext) -> bool:
    trigger = ctx.rule.trigger
    return trigger is not None and trigger.anchor is Anchor.FINANCIAL_YEAR_END


def sweep_item(ctx: RunContext) -> ChecklistItem:
    """The one item of a monthly sweep with no per-record data (S3): delete what is dated before the run day.

    Its deadline is that of the oldest message the sweep is for, one dated at the previous scheduled run (older
    ones were the previous sweep's): for S3's monthly run and its "1 month + 7 days", the run day plus the week
    of grace. Counted from the run day itself, a sweep answered a month late would be recorded as on time.
    """
    zone = ctx.policy.zone
    day = ctx.as_of.astimezone(zone).date()
    start_of_day = datetime.combine(day, time(0), tzinfo=zone)
    record = Record(f"before:{day.isoformat()}", "", start_of_day)
    previous = None if ctx.rule.cadence is None else previous_run(ctx.rule.cadence, start_of_day, zone)
    window = window_for(ctx.policy, ctx.rule, previous or start_of_day)
    reference = ctx.record_pseudonym(record)
    return ChecklistItem(
        field=_field(reference, _FIELD_TAIL),
        record=reference,
        subject=None,
        kind=f"{ctx.rule.covers.records}: delete every one dated before {day.isoformat()}",
        dated=day.isoformat(),
        decision=Decision.DUE,
        deadline=window.deadline,
    )


def checklist_items(
    ctx: RunContext, planned: Iterable[Planned], settled: set[str], *, to_the_minute: bool
) -> tuple[list[ChecklistItem], int]:
    """The DUE and OVERDUE records not yet settled as items, and how many were left out as settled."""
    drafts: list[tuple[str, Planned]] = []
    left_out = 0
    for entry in planned:
        if entry.decision not in (Decision.DUE, Decision.OVERDUE):
            continue
        reference = ctx.record_pseudonym(entry.record)
        if reference in settled:
            left_out += 1
        else:
            drafts.append((reference, entry))
    tail = _unique_tail([reference for reference, _ in drafts])
    return [_item(ctx, reference, entry, tail, to_the_minute) for reference, entry in drafts], left_out


def _item(ctx: RunContext, reference: str, planned: Planned, tail: int, to_the_minute: bool) -> ChecklistItem:
    record = planned.record
    assert record.trigger is not None  # the planner refuses undated records
    local = record.trigger.astimezone(ctx.policy.zone)
    note = _AGREEMENT_NOTES.get(record.attributes.get(AGREEMENT, "")) if ctx.rule.covers.exception else None
    return ChecklistItem(
        field=_field(reference, tail),
        record=reference,
        subject=ctx.subject_pseudonym(record) if record.subject else None,
        kind=ctx.rule.covers.records if note is None else f"{ctx.rule.covers.records} ({note})",
        dated=local.strftime("%Y-%m-%d %H:%M") if to_the_minute else local.date().isoformat(),
        decision=planned.decision,
        deadline=window_for(ctx.policy, ctx.rule, record.trigger).deadline,
    )


def instruction(ctx: RunContext) -> str:
    """What the person is asked to do, with the rule's exception (what is returned or kept, not shredded)."""
    system = ctx.policy.systems[ctx.system]
    text = (
        f"In {system.description}: delete or shred each item below (find it by its date and kind; the "
        "reference is its masked pseudonym), then tick it, give your name and role, and submit. "
        "Leave an item unticked if it is not done; it stays on the next checklist."
    )
    exception = ctx.rule.covers.exception
    return text if exception is None else f"{text} Except: {' '.join(exception.split())}"


def _field(reference: str, tail: int) -> str:
    """`item_4f2a9c`: the end of the pseudonym, as `mask` shows it, so the form and the checklist match."""
    return "item_" + reference[-tail:]


def _unique_tail(references: list[str]) -> int:
    """The shortest pseudonym tail (from 6 hex) that tells the items apart; a collision lengthens all fields."""
    tail = _FIELD_TAIL
    while len({reference[-tail:] for reference in references}) < len(references):
        tail += 2
    return tail


def settled_records(ledger: Ledger, controller: str, rule_ref: str) -> set[str]:
    """Records attested as done under the rule and not found still present by a later verification."""
    settled: set[str] = set()
    for entry in rule_entries(ledger, controller, rule_ref, {EntryKind.ATTESTATION, EntryKind.FINDING}):
        if entry.kind is EntryKind.ATTESTATION and entry.payload.get("done") is True:
            settled.add(entry.record or "")
        elif entry.payload.get("finding") == STILL_PRESENT:
            settled.discard(entry.record or "")
    return settled


def rule_entries(ledger: Ledger, controller: str, rule_ref: str, kinds: set[EntryKind]) -> Iterator[Entry]:
    return (entry for entry in ledger.entries(controller=controller, kinds=kinds) if entry.rule_ref == rule_ref)


# ---- evidence -----------------------------------------------------------------------------------------------


def checklist_drafts(ctx: RunContext, checklist: Checklist) -> list[EntryDraft]:
    """The checklist itself as evidence: one DECISION per item, with what is asked and by when."""
    return [
        _draft(
            ctx,
            EntryKind.DECISION,
            item,
            {
                "decision": item.decision.value,
                "would": ctx.rule.action.value,
                "item": item.field,
                "deadline": None if item.deadline is None else item.deadline.isoformat(),
                **({} if checklist.source_digest is None else {"source_digest": checklist.source_digest}),
            },
        )
        for item in checklist.items
    ]


def overdue_drafts(ctx: RunContext, checklist: Checklist, now: datetime) -> list[EntryDraft]:
    """Items whose deadline passed while the checklist waited unanswered: a broken promise, recorded as such."""
    return [
        _draft(
            ctx,
            EntryKind.DECISION,
            item,
            {
                "decision": Decision.OVERDUE.value,
                "item": item.field,
                "reason": "deadline passed without an attestation",
            },
        )
        for item in checklist.items
        if item.decision is Decision.DUE and item.deadline is not None and item.deadline < now
    ]


def reminder_draft(ctx: RunContext, checklist: Checklist, next_ask: datetime | None) -> EntryDraft:
    return ctx.draft(
        EntryKind.FINDING,
        {
            "finding": REMINDER,
            "checklist_run": checklist.run_id,
            "items": len(checklist.items),
            "overdue": len(checklist.overdue),
            "asks_again": None if next_ask is None else next_ask.isoformat(),
        },
    )


def refusal_draft(ctx: RunContext, checklist: Checklist, reason: str) -> EntryDraft:
    return ctx.draft(EntryKind.FINDING, {"finding": REFUSED, "checklist_run": checklist.run_id, "reason": reason})


def attestation_drafts(ctx: RunContext, checklist: Checklist, answer: Answer, ledger: Ledger) -> list[EntryDraft]:
    """One ATTESTATION per item of the checklist, done or not, by the attester's pseudonym and role.

    The whole answer is refused, and nothing recorded, when it names items that are not on this checklist (it
    was given for another one, or tampered with), when the checklist was answered before (by run and item), or
    when it names no attester.
    """
    if answer.unknown:
        raise AttestationRefused(
            f"{checklist.controller} {checklist.rule_ref}: the answer names {len(answer.unknown)} item(s) that are "
            f"not on checklist {checklist.run_id}; nothing was recorded, answer this checklist's own form"
        )
    if not answer.attester_name.strip():
        raise AttestationRefused(
            f"{checklist.controller} {checklist.rule_ref}: the attester's name is required; nothing was recorded"
        )
    answered = _answered_items(ledger, checklist)
    if answered:
        raise AttestationRefused(
            f"{checklist.controller} {checklist.rule_ref}: checklist {checklist.run_id} was already answered "
            f"({len(answered)} item(s) on record); this second answer is refused and nothing was recorded"
        )
    attester = pseudonym(ctx.key, ATTESTER, answer.attester_name)
    common: dict[str, Any] = {
        "attester": attester,
        "role": answer.role.strip()[:80] or "unstated",
        "checklist_run": checklist.run_id,
        "source_digest": checklist.source_digest,
    }
    note = safe_note(answer.note)
    if note:
        common["note"] = note
    return [
        _draft(ctx, EntryKind.ATTESTATION, item, {**common, "item": item.field, "done": item.field in answer.ticked})
        for item in checklist.items
    ]


def _answered_items(ledger: Ledger, checklist: Checklist) -> set[str]:
    fields = {item.record for item in checklist.items}
    return {
        entry.record or ""
        for entry in ledger.entries(
            controller=checklist.controller, run_id=checklist.run_id, kinds={EntryKind.ATTESTATION}
        )
        if entry.record in fields
    }


def safe_note(note: str) -> str | None:
    """A note goes into the evidence only if it holds no email or phone-like number; long notes are cut.

    The form asks for no names in the note; this catches the slips a machine can see.
    """
    text = " ".join(note.split())[:200]
    if not text or "@" in text or _LONG_DIGITS.search(text):
        return None
    return text


def _draft(ctx: RunContext, kind: EntryKind, item: ChecklistItem, payload: Mapping[str, Any]) -> EntryDraft:
    return ctx.draft_about(kind, {"system": ctx.system, **payload}, subject=item.subject, record=item.record)


# ---- verification against a later export --------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    verified: int
    still_present: list[str]
    drafts: list[EntryDraft]


def attested_unverified(ledger: Ledger, controller: str, rule_ref: str, system: str) -> dict[str, Entry]:
    """The latest done-attestation of each record not yet checked against a later export."""
    pending: dict[str, Entry] = {}
    kinds = {EntryKind.ATTESTATION, EntryKind.VERIFICATION, EntryKind.FINDING}
    for entry in rule_entries(ledger, controller, rule_ref, kinds):
        if entry.record is None or entry.payload.get("system") != system:
            continue
        if entry.kind is EntryKind.ATTESTATION and entry.payload.get("done") is True:
            pending[entry.record] = entry
        elif entry.kind is EntryKind.VERIFICATION or entry.payload.get("finding") == STILL_PRESENT:
            pending.pop(entry.record, None)
    return pending


def verify_attested(
    ctx: RunContext, pending: Mapping[str, Entry], present: set[str], export_digest: str
) -> Verification:
    """A VERIFICATION for each attested record the export no longer holds, a FINDING for each it still holds.

    An export identical to the one a checklist came from proves nothing, so it is refused.
    """
    if pending and all(entry.payload.get("source_digest") == export_digest for entry in pending.values()):
        raise SameExport(
            f"{ctx.controller} {ctx.rule.ref}: this is the export the checklist was made from; take "
            "a new export from Webnode's admin page after the deletion and verify that one"
        )
    drafts: list[EntryDraft] = []
    found: list[str] = []
    for reference, attestation in pending.items():
        if attestation.payload.get("source_digest") == export_digest:
            continue
        payload = {"system": ctx.system, "attested_in": attestation.run_id, "export_digest": export_digest}
        if reference in present:
            found.append(reference)
            drafts.append(
                _pseudonymous(
                    ctx,
                    EntryKind.FINDING,
                    attestation,
                    {
                        **payload,
                        "finding": STILL_PRESENT,
                        "detail": "attested as deleted, but the later export still holds it; it is due again",
                    },
                )
            )
        else:
            drafts.append(_pseudonymous(ctx, EntryKind.VERIFICATION, attestation, {**payload, "result": "absent"}))
    return Verification(verified=len(drafts) - len(found), still_present=found, drafts=drafts)


def _pseudonymous(ctx: RunContext, kind: EntryKind, about: Entry, payload: Mapping[str, Any]) -> EntryDraft:
    return ctx.draft_about(kind, payload, subject=about.subject, record=about.record)


# ---- what a person sees -------------------------------------------------------------------------------------


def render_checklist(checklist: Checklist, title: str, instruction: str) -> str:
    """The checklist page in the UI and the form's description: dates, masked references, kinds; no names."""
    lines = [f"# {checklist.controller} {checklist.rule_ref}: {title}", "", instruction, ""]
    if not checklist.items:
        lines.append("Nothing is due: no checklist this time.")
    else:
        lines += ["| tick | date | reference | record | status | deadline |", "|---|---|---|---|---|---|"]
        lines += [
            f"| `{item.field}` | {item.dated} | `{item.masked}` | {item.kind} | {item.decision.value} | "
            f"{'-' if item.deadline is None else f'{item.deadline:%Y-%m-%d}'} |"
            for item in checklist.items
        ]
    if checklist.overdue:
        lines += ["", f"**Overdue: {len(checklist.overdue)} item(s) past their deadline (a broken promise).**"]
    if checklist.settled:
        lines += ["", f"Left out: {checklist.settled} item(s) already attested as done."]
    lines += ["", f"Checklist run `{checklist.run_id}`."]
    return "\n".join(lines)


def render_verification(ctx: RunContext, result: Verification) -> str:
    lines = [
        f"# {ctx.controller} {ctx.rule.ref}: verification against a later export",
        "",
        f"Attested and now absent: **{result.verified}**; still present: **{len(result.still_present)}**.",
    ]
    if result.still_present:
        lines += ["", "## Still present (attested as deleted): due again", ""]
        lines += [f"- `{mask(reference)}`" for reference in result.still_present]
    return "\n".join(lines)
