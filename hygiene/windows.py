"""A rule gives every record a window: not before the legal minimum, and done by the promised deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hygiene.legal import answer_deadline, bookkeeping_anchor
from hygiene.periods import end_of_day, local_date, period_expiry, require_aware
from hygiene.policy import Action, Anchor, Policy, Rule, bound_parts, is_bookkeeping


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
    """Both bounds expire at the end of a local day (Regulation 1182/71 Art. 3(2)), in the controller's zone.

    A bound in hours is elapsed time from the trigger itself (K4's 72 hours). A rights request's deadline is
    the one `hygiene deadline` gives: its last day moves off weekends and public holidays (Art. 3(4)).
    """
    require_aware(trigger, f"rule {rule.ref}: trigger")
    start = anchor_date(policy, rule, trigger)
    return RecordWindow(
        trigger=trigger.astimezone(policy.zone),
        not_before=_bound(policy, rule.window.not_before, trigger, start),
        deadline=_deadline(policy, rule, trigger, start),
    )


def _deadline(policy: Policy, rule: Rule, trigger: datetime, start: date) -> datetime | None:
    text = rule.window.deadline
    if text is None or rule.action is not Action.ANSWER_REQUEST:
        return _bound(policy, text, trigger, start)
    return end_of_day(answer_deadline(start, policy.bound(text), policy.country), policy.zone)


def _bound(policy: Policy, text: str | None, trigger: datetime, start: date) -> datetime | None:
    """The latest of the bound's parts. A part in hours is elapsed time from the trigger itself; a bookkeeping
    part always runs from the end of the start's financial year (Clienti C4: 5 years after the customer ended,
    or the bookkeeping period of that year, whichever is later)."""
    if text is None:
        return None
    month, last_day = policy.year_end
    ends = []
    for part in bound_parts(text):
        period = policy.bound(part)
        if period.elapsed is not None:
            ends.append(period_expiry(trigger, period, policy.zone))
            continue
        begin = bookkeeping_anchor(start, policy.country, month, last_day) if is_bookkeeping(part) else start
        ends.append(end_of_day(period.add_to_date(begin), policy.zone))
    return max(ends)
