"""Review rules: list what is due for a person's review, and delete what a person marked not relevant.

Clienti C2: "Kontakter bliver opdateret minimum hver 12. måned eller slettet hvis ikke relevant længere". A
contact not updated for 11 months is due for review and goes on a list (by masked pseudonym); past 12 months
it is overdue. A person reviews it in the CRM: updating it restarts its clock, ticking the rule's
`review_property` (e.g. `marked_not_relevant`) marks it for deletion, which the next run carries out through the
ordinary enforcement steps. Ticking the box itself updates the contact, so a marked contact is deleted whatever
its age; holds and exemptions still keep it.

Balansekonomi E2 takes the same path without a review property: every unsubscribed member is listed, so the
review sees each withdrawal honoured, and nothing is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hygiene.connector import Connector, Record
from hygiene.enforcement import Evidence, RunContext, RunPlan, reason_kind
from hygiene.holds import HoldIndex
from hygiene.ledger import EntryKind, Ledger
from hygiene.planner import Decision, HoldReason, Planned, PlanSummary, cutoffs_for, decide
from hygiene.policy import Exemption

#: the value a yes/no property holds when ticked (HubSpot stores booleans as "true"/"false")
TICKED = "true"


@dataclass
class ReviewPlan:
    """`run.actionable` holds the records marked not relevant; `listed` the pseudonyms due for review."""

    run: RunPlan
    listed: list[str] = field(default_factory=list)


def plan_review(ctx: RunContext, connector: Connector, ledger: Ledger, holds: HoldIndex) -> ReviewPlan:
    """Stream once: each record is marked (delete unless held), due for review (listed), or not yet due."""
    rule, evidence = ctx.rule, Evidence(ledger)
    assert rule.trigger is not None
    review_property = rule.covers.selection.get("review_property")
    cutoffs = cutoffs_for(ctx.policy, rule, ctx.as_of)
    found = ReviewPlan(RunPlan(summary=PlanSummary(), actionable=[], overdue=[]))

    def hold_reason(record: Record) -> str | None:
        return holds.reason_for(subject=ctx.subject_pseudonym(record), record=ctx.record_pseudonym(record))

    for record in connector.records(rule.covers.selection, rule.trigger.event):
        planned = decide(record, cutoffs, rule, hold_reason)
        if review_property and record.attributes.get(review_property, "").lower() == TICKED:
            planned = _marked(record, rule.exemptions, hold_reason)
            if planned.decision is Decision.DUE:
                found.run.actionable.append(planned)
        elif planned.decision in (Decision.DUE, Decision.OVERDUE):
            reference = ctx.record_pseudonym(record)
            found.listed.append(reference)
            if planned.decision is Decision.OVERDUE:
                found.run.overdue.append(reference)
            evidence.add(
                ctx.draft(
                    EntryKind.DECISION, {"decision": "review", "overdue": planned.decision is Decision.OVERDUE}, record
                )
            )
        if planned.decision is Decision.HELD:
            evidence.add(ctx.draft(EntryKind.DECISION, {"decision": "held", "reason": reason_kind(planned)}, record))
        found.run.summary.add(planned.decision, record.trigger)
    evidence.flush()
    return found


def _marked(record: Record, exemptions: tuple[Exemption, ...], hold_reason: HoldReason) -> Planned:
    """A record a person marked not relevant: due now, unless an exemption or a hold keeps it."""
    exemption = record.attributes.get("exemption")
    if exemption is not None and exemption in exemptions:
        return Planned(record, Decision.HELD, exemption)
    reason = hold_reason(record)
    return Planned(record, Decision.HELD, reason) if reason else Planned(record, Decision.DUE, "marked_not_relevant")
