"""The planner's decisions agree with each record's window, and holds and exemptions win over deletion."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hygiene.connector import Record
from hygiene.planner import Decision, PlanningError, PlanSummary, plan
from hygiene.policies import load_policy
from hygiene.policy import Policy, Rule
from hygiene.windows import window_for

POLICIES = Path(__file__).resolve().parents[1] / "policies"
CLIENTI = load_policy(POLICIES, "clienti")

moments = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


def _expected(policy: Policy, rule: Rule, trigger: datetime, as_of: datetime) -> Decision:
    window = window_for(policy, rule, trigger)
    if trigger >= as_of:
        return Decision.KEEP
    if window.not_before is not None and as_of <= window.not_before:
        return Decision.KEEP
    if window.deadline is not None and as_of > window.deadline:
        return Decision.OVERDUE
    return Decision.DUE


@settings(max_examples=300, deadline=None)
@given(trigger=moments, as_of=moments, ref=st.sampled_from(["C1", "C2", "C3", "C4"]))
def test_every_decision_agrees_with_the_records_window(trigger: datetime, as_of: datetime, ref: str) -> None:
    rule = CLIENTI.rule(ref)
    assert rule is not None
    [planned] = plan([Record("r", "s", trigger)], CLIENTI, rule, as_of)
    assert planned.decision is _expected(CLIENTI, rule, trigger, as_of)


def test_an_unsubscribe_six_days_ago_is_overdue_four_days_ago_due_and_now_kept() -> None:
    rule = CLIENTI.rule("C1")
    assert rule is not None
    as_of = datetime(2026, 11, 23, 12, tzinfo=UTC)
    records = [Record(str(days), "s", as_of - timedelta(days=days)) for days in (0, 4, 6)]
    decisions = {p.record.record_id: p.decision for p in plan(records, CLIENTI, rule, as_of)}
    assert decisions == {"0": Decision.KEEP, "4": Decision.DUE, "6": Decision.OVERDUE}


def test_a_customer_ended_23_months_ago_is_kept() -> None:
    rule = CLIENTI.rule("C3")
    assert rule is not None
    as_of = datetime(2026, 11, 23, 12, tzinfo=UTC)
    [planned] = plan([Record("r", "s", datetime(2025, 1, 1, tzinfo=UTC))], CLIENTI, rule, as_of)
    assert planned.decision is Decision.KEEP


def test_a_legal_hold_keeps_a_due_record_with_its_reason() -> None:
    rule = CLIENTI.rule("C1")
    assert rule is not None
    as_of = datetime(2026, 11, 23, 12, tzinfo=UTC)
    record = Record("r", "s", as_of - timedelta(days=10))
    [planned] = plan([record], CLIENTI, rule, as_of, hold_reason=lambda r: "dispute over an invoice")
    assert (planned.decision, planned.reason) == (Decision.HELD, "dispute over an invoice")


def test_an_exemption_the_rule_honours_holds_the_record() -> None:
    rule = CLIENTI.rule("C1")
    assert rule is not None
    as_of = datetime(2026, 11, 23, 12, tzinfo=UTC)
    record = Record("r", "s", as_of - timedelta(days=10), {"exemption": "bookkeeping_duty"})
    [planned] = plan([record], CLIENTI, rule, as_of)
    assert (planned.decision, planned.reason) == (Decision.HELD, "bookkeeping_duty")


def test_an_exemption_the_rule_does_not_name_is_ignored() -> None:
    rule = CLIENTI.rule("C4")
    assert rule is not None
    as_of = datetime(2026, 11, 23, 12, tzinfo=UTC)
    record = Record("r", "s", datetime(2019, 1, 1, tzinfo=UTC), {"exemption": "bookkeeping_duty"})
    [planned] = plan([record], CLIENTI, rule, as_of)
    assert planned.decision is Decision.OVERDUE


def test_the_summary_counts_every_decision_of_the_stream() -> None:
    rule = CLIENTI.rule("C1")
    assert rule is not None
    as_of = datetime(2026, 11, 23, 12, tzinfo=UTC)
    summary = PlanSummary()
    records = (Record(str(i), "s", as_of - timedelta(days=i % 8)) for i in range(800))
    for _ in plan(records, CLIENTI, rule, as_of, summary=summary):
        pass
    assert summary.seen == 800
    assert summary.as_dict() == {"keep": 100, "due": 500, "overdue": 200, "held": 0}
    assert summary.oldest_overdue == as_of - timedelta(days=7)


def test_a_record_without_a_date_stops_the_plan() -> None:
    rule = CLIENTI.rule("C1")
    assert rule is not None
    with pytest.raises(PlanningError, match="has no unsubscribed_at"):
        list(plan([Record("r", "s", None)], CLIENTI, rule, datetime(2026, 1, 1, tzinfo=UTC)))
