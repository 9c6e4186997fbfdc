"""Deciding, record by record, what a rule asks for at a given time.

The window bounds move monotonically with the trigger date, so the planner turns them around once per run:
it finds the last trigger day whose `not_before` has expired and the last whose deadline has, and then
classifies each record by two comparisons of its trigger against those instants. That keeps planning a
stream in constant memory at hundreds of thousands of records a second, without period arithmetic per record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from hygiene.connector import Record
from hygiene.errors import HygieneError
from hygiene.periods import require_aware
from hygiene.policy import Policy, Rule
from hygiene.windows import window_for

#: how far back the turning-around search looks: longer than any window a policy can hold
_SEARCH_DAYS = 40 * 366


class Decision(StrEnum):
    KEEP = "keep"
    DUE = "due"
    OVERDUE = "overdue"
    HELD = "held"


class PlanningError(HygieneError):
    pass


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Triggers before `due_before` have passed `not_before`; triggers before `overdue_before` are overdue."""

    due_before: float
    overdue_before: float | None


@dataclass(frozen=True, slots=True)
class Planned:
    record: Record
    decision: Decision
    reason: str | None = None


@dataclass
class PlanSummary:
    counts: Counter[Decision] = field(default_factory=Counter)
    #: the earliest trigger of an overdue record: how long the worst-kept promise has been broken
    oldest_overdue: datetime | None = None

    def add(self, decision: Decision, trigger: datetime | None = None) -> None:
        self.counts[decision] += 1
        if decision is Decision.OVERDUE and trigger is not None:
            self.oldest_overdue = trigger if self.oldest_overdue is None else min(self.oldest_overdue, trigger)

    @property
    def seen(self) -> int:
        return sum(self.counts.values())

    @property
    def actionable(self) -> int:
        return self.counts[Decision.DUE] + self.counts[Decision.OVERDUE]

    def as_dict(self) -> dict[str, int]:
        return {decision.value: self.counts[decision] for decision in Decision}


HoldReason = Callable[[Record], str | None]


def no_holds(_: Record) -> str | None:
    return None


def cutoffs_for(policy: Policy, rule: Rule, as_of: datetime) -> Cutoffs:
    require_aware(as_of, "as_of")
    if rule.trigger is None:
        raise PlanningError(f"{policy.controller}: rule {rule.ref} has no trigger, so it gives records no window")
    overdue_day = _last_trigger_day(policy, rule, as_of, bound="deadline") if rule.window.deadline else None
    if rule.window.not_before is None:
        # nothing to wait for but the event itself: a record is never due before its trigger
        due_before = as_of.timestamp()
    else:
        due_before = _start_of_next_day(_last_trigger_day(policy, rule, as_of, bound="not_before"), policy)
    return Cutoffs(
        due_before=due_before,
        overdue_before=None if overdue_day is None else _start_of_next_day(overdue_day, policy),
    )


def _start_of_next_day(day: date, policy: Policy) -> float:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=policy.zone).timestamp()


def _last_trigger_day(policy: Policy, rule: Rule, as_of: datetime, *, bound: str) -> date:
    """The latest local trigger day whose bound has expired by `as_of` (binary search: bounds are monotone)."""

    def expired(day: date) -> bool:
        window = window_for(policy, rule, datetime.combine(day, time(12), tzinfo=policy.zone))
        limit = window.not_before if bound == "not_before" else window.deadline
        return limit is None or limit < as_of

    high = as_of.astimezone(policy.zone).date()
    if expired(high):
        return high
    low = high - timedelta(days=_SEARCH_DAYS)
    while (high - low).days > 1:
        middle = low + (high - low) / 2
        if expired(middle):
            low = middle
        else:
            high = middle
    return low


def decide(record: Record, cutoffs: Cutoffs, rule: Rule, hold_reason: HoldReason) -> Planned:
    if record.trigger is None:
        raise PlanningError(f"rule {rule.ref}: a record has no {rule.trigger.event if rule.trigger else 'date'}")
    moment = record.trigger.timestamp()
    if moment >= cutoffs.due_before:
        return Planned(record, Decision.KEEP)
    exemption = record.attributes.get("exemption")
    if exemption is not None and exemption in rule.exemptions:
        return Planned(record, Decision.HELD, exemption)
    reason = hold_reason(record)
    if reason is not None:
        return Planned(record, Decision.HELD, reason)
    overdue = cutoffs.overdue_before is not None and moment < cutoffs.overdue_before
    return Planned(record, Decision.OVERDUE if overdue else Decision.DUE)


def plan(
    records: Iterable[Record],
    policy: Policy,
    rule: Rule,
    as_of: datetime,
    hold_reason: HoldReason = no_holds,
    summary: PlanSummary | None = None,
) -> Iterator[Planned]:
    """Decide each record of a stream; `summary`, when given, counts the decisions as they pass."""
    cutoffs = cutoffs_for(policy, rule, as_of)
    for record in records:
        planned = decide(record, cutoffs, rule, hold_reason)
        if summary is not None:
            summary.add(planned.decision, record.trigger)
        yield planned
