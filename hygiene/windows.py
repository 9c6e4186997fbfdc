"""A rule gives every record a window: not before the legal minimum, and done by the promised deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hygiene.legal import bookkeeping_anchor
from hygiene.periods import end_of_day, local_date, require_aware
from hygiene.policy import Anchor, Policy, Rule, bound_parts, is_bookkeeping


@dataclass(frozen=True, slots=True)
class RecordWindow:
    trigger: datetime
    not_before: datetime | None
    deadline: datetime | None


def anchor_date(policy: Policy, rule: Rule, trigger: datetime) -> date:
    """The local date the rule's clock runs from: the event's day, or the end of its financial year."""
    day = local_date(trigger, policy.zone)
    if rule.trigger is not None and rule.trigger.anchor is Anchor.FINANCIAL_YEAR_END:
        month, last_day = policy.year_end
        return bookkeeping_anchor(day, policy.country, month, last_day)
    return day


def window_for(policy: Policy, rule: Rule, trigger: datetime) -> RecordWindow:
    """Both bounds expire at the end of a local day (Regulation 1182/71 Art. 3(2)), in the controller's zone."""
    require_aware(trigger, f"rule {rule.ref}: trigger")
    start = anchor_date(policy, rule, trigger)
    return RecordWindow(
        trigger=trigger.astimezone(policy.zone),
        not_before=_bound(policy, rule.window.not_before, start),
        deadline=_bound(policy, rule.window.deadline, start),
    )


def _bound(policy: Policy, text: str | None, start: date) -> datetime | None:
    """The latest of the bound's parts; a bookkeeping part always runs from the end of the start's financial year
    (Clienti C4: 5 years after the customer ended, or the bookkeeping period of that year, whichever is later)."""
    if text is None:
        return None
    month, last_day = policy.year_end
    ends = (
        policy.bound(part).add_to_date(
            bookkeeping_anchor(start, policy.country, month, last_day) if is_bookkeeping(part) else start
        )
        for part in bound_parts(text)
    )
    return end_of_day(max(ends), policy.zone)
