"""Plan, guard, act, verify, record: the path every deleting rule takes on one system.

Each step is a plain function over the Connector protocol and the ledger, so the Prefect flow that strings
them together stays a list of named steps and the steps are tested without Prefect. Evidence is written as
the run goes: an intent before a batch is touched, an outcome with the vendor's receipt and the re-read proof
after. A run killed between the two leaves open intents; the next run closes them from what the system
holds now (gone: the deletion happened; still there: it did not, and the record is planned again), so
nothing is deleted twice and no evidence is lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from pydantic import SecretStr

from hygiene.connector import AbsenceProof, Connector, CountsUndated, Receipt, Record, response_digest
from hygiene.holds import HoldIndex
from hygiene.ledger import Entry, EntryDraft, EntryKind, Ledger
from hygiene.planner import Decision, Planned, PlanSummary, plan
from hygiene.policy import Exemption, Policy, Rule
from hygiene.pseudonym import RECORD, SUBJECT, mask, pseudonym
from hygiene.windows import window_for

#: evidence is appended in transactions of this many entries
_FLUSH_EVERY = 1000


@dataclass(frozen=True)
class RunContext:
    policy: Policy
    rule: Rule
    system: str
    as_of: datetime
    dry_run: bool
    key: SecretStr
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: the Prefect flow run carrying this run, when there is one: the evidence names it so that an answer left
    #: in that run's input can be found again after a crash
    flow_run: str | None = None
    #: when the deployment's schedule meant this run to start; None for a run started by hand or a script
    scheduled_for: datetime | None = None

    @property
    def controller(self) -> str:
        return self.policy.controller

    @property
    def holds_apply(self) -> bool:
        """Whether legal holds keep this system's records; see `holds_apply`."""
        return holds_apply(self.policy, self.system)

    def record_pseudonym(self, record: Record) -> str:
        # the system is part of the id: a HubSpot contact 17 and a Mailchimp member 17 are different records
        return pseudonym(self.key, RECORD, f"{self.system}:{record.record_id}")

    def subject_pseudonym(self, record: Record) -> str:
        return pseudonym(self.key, SUBJECT, record.subject)

    def draft(self, kind: EntryKind, payload: Mapping[str, object], record: Record | None = None) -> EntryDraft:
        return self.draft_about(
            kind,
            {"system": self.system, **payload},
            subject=None if record is None else self.subject_pseudonym(record),
            record=None if record is None else self.record_pseudonym(record),
        )

    def draft_about(
        self, kind: EntryKind, payload: Mapping[str, object], *, subject: str | None, record: str | None
    ) -> EntryDraft:
        """An entry of this run about a record already named by its pseudonyms (a checklist item, an entry)."""
        return EntryDraft(
            controller=self.controller,
            run_id=self.run_id,
            kind=kind,
            rule_ref=self.rule.ref,
            subject=subject,
            record=record,
            payload=payload,
        )


def holds_apply(policy: Policy, system: str) -> bool:
    """False when the system's option `holds: ignore` says a hold does not keep its records.

    Clienti C1: where a legal hold or the bookkeeping duty applies the person is still removed from the mailing
    list (the list is marketing use, which must end), and only the CRM record is kept. A hold names a subject
    across systems, so the list system opts out of holds instead of every hold naming its systems.
    """
    return policy.systems[system].options.get("holds") != "ignore"


@dataclass
class RunPlan:
    """What a run found: counts per decision, and the records to act on (in memory only, never persisted)."""

    summary: PlanSummary
    actionable: list[Planned]
    overdue: list[str]
    recovered: int = 0


@dataclass
class BatchResult:
    deleted: int = 0
    failed: int = 0
    still_present: int = 0
    #: subject pseudonyms of the records proven erased, for the suppression list
    erased: list[str] = field(default_factory=list)

    def __iadd__(self, other: BatchResult) -> BatchResult:
        self.deleted += other.deleted
        self.failed += other.failed
        self.still_present += other.still_present
        self.erased += other.erased
        return self


@dataclass(frozen=True)
class SafetyVerdict:
    needs_approval: bool
    message: str


class Evidence:
    """Buffers drafts and appends them in batched transactions."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.pending: list[EntryDraft] = []

    def add(self, draft: EntryDraft) -> None:
        self.pending.append(draft)
        if len(self.pending) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> list[Entry]:
        written = self.ledger.append(self.pending) if self.pending else []
        self.pending = []
        return written


def start_run(ctx: RunContext, ledger: Ledger) -> None:
    ledger.append(
        [
            ctx.draft(
                EntryKind.RUN_STARTED,
                {
                    "as_of": ctx.as_of.isoformat(),
                    "dry_run": ctx.dry_run,
                    "action": ctx.rule.action.value,
                    **({} if ctx.flow_run is None else {"flow_run": ctx.flow_run}),
                    **({} if ctx.scheduled_for is None else {"scheduled_for": ctx.scheduled_for.isoformat()}),
                    **({} if ctx.holds_apply else {"holds": "ignored on this system (system option holds: ignore)"}),
                },
            )
        ]
    )


def plan_run(ctx: RunContext, connector: Connector, ledger: Ledger, holds: HoldIndex) -> RunPlan:
    """Stream the system once: decide every record, record the held ones, close intents a crash left open."""
    rule, evidence, summary = ctx.rule, Evidence(ledger), PlanSummary()
    open_intents = {
        e.record: e for e in ledger.open_intents(ctx.controller, rule.ref) if e.payload.get("system") == ctx.system
    }
    seen_open: set[str] = set()
    actionable: list[Planned] = []
    overdue: list[str] = []

    def hold_reason(record: Record) -> str | None:
        return holds.reason_for(subject=ctx.subject_pseudonym(record), record=ctx.record_pseudonym(record))

    assert rule.trigger is not None
    records = connector.records(rule.covers.selection, rule.trigger.event)
    for planned in plan(
        _noting_open(records, ctx, open_intents, seen_open), ctx.policy, rule, ctx.as_of, hold_reason, summary
    ):
        if planned.decision is Decision.HELD:
            evidence.add(
                ctx.draft(EntryKind.DECISION, {"decision": "held", "reason": reason_kind(planned)}, planned.record)
            )
        elif planned.decision in (Decision.DUE, Decision.OVERDUE):
            actionable.append(planned)
            if planned.decision is Decision.OVERDUE:
                overdue.append(ctx.record_pseudonym(planned.record))
            if ctx.dry_run:
                evidence.add(
                    ctx.draft(
                        EntryKind.DECISION,
                        {"decision": planned.decision.value, "would": rule.action.value},
                        planned.record,
                    )
                )
    recovered = _close_open_intents(ctx, evidence, open_intents, seen_open)
    evidence.flush()
    return RunPlan(summary=summary, actionable=actionable, overdue=overdue, recovered=recovered)


def _noting_open(
    records: Iterable[Record], ctx: RunContext, open_intents: dict[str | None, Entry], seen: set[str]
) -> Iterator[Record]:
    """Pass records through; when a crash left intents open, note which of their records still exist."""
    for record in records:
        if open_intents:
            reference = ctx.record_pseudonym(record)
            if reference in open_intents:
                seen.add(reference)
        yield record


def _close_open_intents(
    ctx: RunContext, evidence: Evidence, open_intents: dict[str | None, Entry], seen: set[str]
) -> int:
    for reference, intent in open_intents.items():
        still_there = reference in seen
        result = "not_executed" if still_there else "deleted"
        detail = (
            "the record was still present after the interruption and is planned again"
            if still_there
            else "absent when the system was listed again after the interruption"
        )
        evidence.add(
            EntryDraft.outcome(
                intent,
                run_id=ctx.run_id,
                payload={
                    "system": ctx.system,
                    "result": result,
                    "detail": detail,
                    "proof_digest": response_digest(f"relisted:{ctx.run_id}:{reference}:{still_there}"),
                },
            )
        )
    return len(open_intents)


def record_findings(ctx: RunContext, ledger: Ledger, found: Iterable[tuple[Record, dict[str, object]]]) -> int:
    """A FINDING entry per (record, details); details name a kind and a field, never a value. Returns the count."""
    evidence = Evidence(ledger)
    count = 0
    for record, details in found:
        evidence.add(ctx.draft(EntryKind.FINDING, details, record))
        count += 1
    evidence.flush()
    return count


#: the FINDING of records a rule's selection matches that have no date to start its clock
UNDATED = "trigger_missing"


def undated_finding(ctx: RunContext, connector: Connector) -> EntryDraft | None:
    """A count of the records the run could not cover for want of a trigger date, or None when there are none."""
    if ctx.rule.trigger is None or not isinstance(connector, CountsUndated):
        return None
    count = connector.undated(ctx.rule.covers.selection, ctx.rule.trigger.event)
    payload = {"finding": UNDATED, "system": ctx.system, "field": ctx.rule.trigger.event, "count": count}
    return ctx.draft(EntryKind.FINDING, payload) if count else None


def reason_kind(planned: Planned) -> str:
    """Holds carry free text a person wrote; evidence keeps only which kind of exemption applied."""
    return planned.reason if planned.reason in set(Exemption) - {Exemption.LEGAL_HOLD} else Exemption.LEGAL_HOLD.value


def safety_verdict(rule: Rule, found: RunPlan) -> SafetyVerdict:
    """A run that would delete an unusual share or number of what it saw waits for a person's approval."""
    limit, seen, due = rule.safety_limit, found.summary.seen, len(found.actionable)
    share = due / seen if seen else 0.0
    if due > limit.max_count or (due > 10 and share > limit.max_share):
        return SafetyVerdict(
            True,
            f"rule {rule.ref} would delete {due} of {seen} records ({share:.0%}), above "
            f"its safety limit ({limit.max_share:.0%} or {limit.max_count} records)",
        )
    return SafetyVerdict(False, f"{due} of {seen} records ({share:.0%}) within the safety limit")


def batches(items: Sequence[Planned], size: int) -> Iterator[list[Planned]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, max(size, 1))):
        yield chunk


def overdue_deadline(ctx: RunContext, planned: Planned) -> dict[str, str]:
    """An overdue record's deadline, so the evidence shows how late the deletion came (a date, never the record)."""
    if planned.decision is not Decision.OVERDUE or planned.record.trigger is None:
        return {}
    deadline = window_for(ctx.policy, ctx.rule, planned.record.trigger).deadline
    return {} if deadline is None else {"deadline": deadline.isoformat()}


def act_on_batch(ctx: RunContext, connector: Connector, ledger: Ledger, batch: Sequence[Planned]) -> BatchResult:
    """Intent, permanent deletion, re-read, outcome: one batch, evidence on both sides of the vendor call."""
    intents = ledger.append(
        [
            EntryDraft.intent(
                controller=ctx.controller,
                run_id=ctx.run_id,
                rule_ref=ctx.rule.ref,
                action=ctx.rule.action.value,
                record=ctx.record_pseudonym(p.record),
                subject=ctx.subject_pseudonym(p.record),
                payload={
                    "system": ctx.system,
                    "decision": p.decision.value,
                    "permanent": connector.capabilities.permanent_delete,
                    **overdue_deadline(ctx, p),
                },
            )
            for p in batch
        ]
    )
    ids = [p.record.record_id for p in batch]
    receipts = {r.record_id: r for r in connector.delete(ids)}
    proofs = {p.record_id: p for p in connector.verify_absent(ids)}
    result = BatchResult()
    outcomes = [
        EntryDraft.outcome(intent, run_id=ctx.run_id, payload=_outcome(ctx, receipts.get(rid), proofs.get(rid), result))
        for intent, rid in zip(intents, ids, strict=True)
    ]
    ledger.append(outcomes)
    if connector.capabilities.permanent_delete:
        result.erased = [
            ctx.subject_pseudonym(p.record)
            for p, outcome in zip(batch, outcomes, strict=True)
            if str(outcome.payload["result"]).startswith("deleted")
        ]
    return result


def _outcome(
    ctx: RunContext, receipt: Receipt | None, proof: AbsenceProof | None, tally: BatchResult
) -> dict[str, object]:
    absent = proof is not None and proof.absent
    if receipt is not None and receipt.ok and absent:
        tally.deleted += 1
        result = "deleted"
    elif absent:
        tally.deleted += 1
        result = "deleted_unconfirmed_receipt"
    elif receipt is not None and receipt.ok:
        tally.still_present += 1
        result = "still_present"
    else:
        tally.failed += 1
        result = "failed"
    return {
        "system": ctx.system,
        "result": result,
        "receipt": None if receipt is None else receipt.detail,
        "receipt_digest": None if receipt is None else receipt.digest,
        "proof": None if proof is None else proof.detail,
        "proof_digest": None if proof is None else proof.digest,
    }


@dataclass(frozen=True)
class RunReport:
    controller: str
    rule_ref: str
    system: str
    run_id: str
    dry_run: bool
    counts: dict[str, int]
    deleted: int
    failed: int
    still_present: int
    overdue: list[str]
    recovered: int
    ledger_range: tuple[int, int] | None
    stopped: str | None = None

    @property
    def overdue_masked(self) -> list[str]:
        return [mask(reference) for reference in self.overdue]


def finish_run(
    ctx: RunContext, ledger: Ledger, found: RunPlan, acted: BatchResult, stopped: str | None = None
) -> RunReport:
    counts = found.summary.as_dict()
    oldest = found.summary.oldest_overdue
    ledger.append(
        [
            ctx.draft(
                EntryKind.RUN_FINISHED,
                {
                    "counts": counts,
                    **({} if oldest is None else {"oldest_overdue_deadline": _deadline_of(ctx, oldest)}),
                    "deleted": acted.deleted,
                    "failed": acted.failed,
                    "still_present": acted.still_present,
                    "recovered_intents": found.recovered,
                    "stopped": stopped,
                    "dry_run": ctx.dry_run,
                },
            )
        ]
    )
    return RunReport(
        controller=ctx.controller,
        rule_ref=ctx.rule.ref,
        system=ctx.system,
        run_id=ctx.run_id,
        dry_run=ctx.dry_run,
        counts=counts,
        deleted=acted.deleted,
        failed=acted.failed,
        still_present=acted.still_present,
        overdue=found.overdue,
        recovered=found.recovered,
        ledger_range=ledger.range_of(ctx.run_id),
        stopped=stopped,
    )


def _deadline_of(ctx: RunContext, trigger: datetime) -> str | None:
    deadline = window_for(ctx.policy, ctx.rule, trigger).deadline
    return None if deadline is None else deadline.isoformat()


def render_markdown(report: RunReport, rule: Rule) -> str:
    """The run's page in the UI: counts, what is overdue (by masked pseudonym) and where the evidence is."""
    lines = [
        f"# {report.controller} {report.rule_ref} on {report.system}{' (dry run)' if report.dry_run else ''}",
        "",
        f"> {rule.title}",
        "",
        "| decision | records |",
        "|---|---|",
        *(f"| {decision} | {count} |" for decision, count in report.counts.items()),
        "",
        f"Deleted and proven absent: **{report.deleted}**; failed: {report.failed}; "
        f"still present after deletion: {report.still_present}.",
    ]
    if report.stopped:
        lines += ["", f"**Stopped:** {report.stopped}"]
    if report.recovered:
        lines += ["", f"Closed {report.recovered} intents left open by an interrupted run."]
    if report.overdue:
        lines += ["", f"## Overdue: {len(report.overdue)} records past their deadline (a broken promise)", ""]
        lines += [f"- `{reference}`" for reference in report.overdue_masked[:200]]
        if len(report.overdue) > 200:
            lines.append(f"- … and {len(report.overdue) - 200} more (see the ledger)")
    if report.ledger_range:
        first, last = report.ledger_range
        lines += ["", f"Evidence: ledger entries {first}–{last}, run `{report.run_id}`."]
    return "\n".join(lines)
