"""The flow every deleting rule runs: stream, plan, guard, delete in batches, verify, record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.approval import ask_for_approval
from hygiene.enforcement import BatchResult, RunContext, RunReport, batches, render_markdown, safety_verdict
from hygiene.holds import HoldStore
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import find_rule, load_policy
from hygiene.policy import Action, Policy, Rule
from hygiene.settings import Settings
from integrations.registry import connector_for
from tasks.enforcement import delete_batch, finish_run, plan_records, start_run


class NotADeletingRule(Exception):
    pass


@flow(name="enforce-rule", persist_result=False, log_prints=False)
def enforce_rule(
    controller: str,
    rule_ref: str,
    dry_run: bool = False,
    as_of: datetime | None = None,
    approved: bool = False,
    pause_for_approval: bool = True,
) -> list[dict[str, Any]]:
    """Enforce one rule on every system it covers; parameters are names and flags only, never personal data."""
    policy = load_policy(policies_dir(), controller)
    rule = find_rule(policy, rule_ref)
    if rule.action is not Action.DELETE:
        raise NotADeletingRule(f"{controller}: rule {rule.ref} is '{rule.action.value}', not a deletion")
    settings = Settings()
    ledger = Ledger.from_settings(settings)
    moment = as_of or datetime.now().astimezone(policy.zone)
    reports = [
        enforce_on_system(policy, rule, system, settings, ledger, moment, dry_run, approved, pause_for_approval)
        for system in rule.covers.systems
    ]
    return [summary(report) for report in reports]


def enforce_on_system(policy: Policy, rule: Rule, system: str, settings: Settings, ledger: Ledger,
                      as_of: datetime, dry_run: bool, approved: bool, pause_for_approval: bool) -> RunReport:
    logger = get_run_logger()
    connector = connector_for(policy, system)
    ctx = RunContext(policy=policy, rule=rule, system=system, as_of=as_of, dry_run=dry_run,
                     key=settings.key_for(policy.controller))
    holds = HoldStore(ledger).active_for(policy.controller)
    start_run(ctx, ledger)
    found = plan_records(ctx, connector, ledger, holds)
    logger.info("%s %s on %s: %s", policy.controller, rule.ref, system, found.summary.as_dict())
    acted, stopped = BatchResult(), None
    verdict = safety_verdict(rule, found)
    if verdict.needs_approval and not dry_run and not approved:
        approved_now = pause_for_approval and ask_for_approval(ctx, ledger, verdict.message)
        stopped = None if approved_now else f"{verdict.message}; not approved"
    if not dry_run and stopped is None:
        for batch in batches(found.actionable, connector.capabilities.batch_size):
            acted += delete_batch(ctx, connector, ledger, batch)
    report = finish_run(ctx, ledger, found, acted, stopped)
    logger.info("%s %s on %s: deleted %d, failed %d, overdue %d", policy.controller, rule.ref, system,
                report.deleted, report.failed, len(report.overdue))
    create_markdown_artifact(
        key=f"{policy.controller}-{rule.ref.lower()}-{system}".replace("_", "-"),
        markdown=render_markdown(report, rule),
        description=f"{policy.controller} {rule.ref} on {system}",
    )
    return report


def summary(report: RunReport) -> dict[str, Any]:
    """What the flow returns: counts and pseudonyms only."""
    return {
        "controller": report.controller, "rule": report.rule_ref, "system": report.system,
        "run_id": report.run_id, "dry_run": report.dry_run, "counts": report.counts,
        "deleted": report.deleted, "failed": report.failed, "still_present": report.still_present,
        "overdue": len(report.overdue), "recovered": report.recovered, "stopped": report.stopped,
        "ledger_range": list(report.ledger_range) if report.ledger_range else None,
    }
