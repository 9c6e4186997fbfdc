"""The flow every deleting rule runs: stream, plan, guard, delete in batches, verify, record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.approval import ask_for_approval
from flows.artifacts import (
    BatchProgress,
    created_through_api,
    link_evidence_report,
    publish_ledger_head,
    scheduled_for,
)
from hygiene.connector import ConnectorError, ReportsFindings
from hygiene.enforcement import (
    BatchResult,
    RunContext,
    RunPlan,
    RunReport,
    batches,
    record_findings,
    render_markdown,
    safety_verdict,
    undated_finding,
)
from hygiene.guards import refuse_weakened_guards
from hygiene.holds import HoldIndex, HoldStore
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.planner import PlanSummary
from hygiene.policies import rule_for_flow
from hygiene.policy import Action, Policy, Rule
from hygiene.runs import interval_not_reached
from hygiene.settings import Settings
from hygiene.suppression import ReappearanceWatch, SuppressionList, WatchedConnector
from integrations.registry import connector_for
from tasks.enforcement import delete_batch, finish_run, plan_records, start_run

#: what a finding says when a subject erased from the system is back in it, not through a signup form
REAPPEARED = {"finding": "reappeared_after_erasure"}


@flow(name="enforce-rule", persist_result=False, log_prints=False)
def enforce_rule(
    controller: str,
    rule_ref: str,
    dry_run: bool = False,
    as_of: datetime | None = None,
    approved: bool = False,
    pause_for_approval: bool = True,
) -> list[dict[str, Any]]:
    """Enforce one rule on every system it covers; parameters are names and flags only, never personal data.

    A parameter that would weaken a guard (a future `as_of`, `approved` through the API) is refused here, in the
    flow, so a run created through the Prefect API is refused like one from the command line.
    """
    refuse_weakened_guards(
        as_of=as_of, now=datetime.now(UTC), dry_run=dry_run, approved=approved, through_api=created_through_api()
    )
    policy, rule = rule_for_flow(policies_dir(), controller, rule_ref, {Action.DELETE}, "enforce-rule")
    settings = Settings()
    ledger = Ledger.from_settings(settings)
    moment = as_of or datetime.now().astimezone(policy.zone)
    due = scheduled_for()
    too_early = interval_not_reached(policy, rule, ledger, due) if due is not None else None
    if too_early:
        get_run_logger().info(too_early)
        return []
    reports = [
        enforce_on_system(policy, rule, system, settings, ledger, moment, dry_run, approved, pause_for_approval, due)
        for system in enforcement_order(policy, rule)
    ]
    publish_ledger_head(ledger)
    link_evidence_report(policy, settings, ledger)
    return [summary(report) for report in reports]


def enforce_on_system(
    policy: Policy,
    rule: Rule,
    system: str,
    settings: Settings,
    ledger: Ledger,
    as_of: datetime,
    dry_run: bool,
    approved: bool,
    pause_for_approval: bool,
    due: datetime | None = None,
) -> RunReport:
    logger = get_run_logger()
    ctx = RunContext(
        policy=policy,
        rule=rule,
        system=system,
        as_of=as_of,
        dry_run=dry_run,
        key=settings.key_for(policy.controller),
        scheduled_for=due,
    )
    suppression = SuppressionList(settings.database_url)
    watch = ReappearanceWatch(suppression.subjects(policy.controller, system), ctx.subject_pseudonym)
    start_run(ctx, ledger)
    found, acted, stopped = RunPlan(PlanSummary(), [], []), BatchResult(), None
    try:
        vendor = connector_for(policy, system)
        connector = WatchedConnector(vendor, watch)
        found = plan_records(ctx, connector, ledger, active_holds(ctx, ledger))
        record_findings(ctx, ledger, ((record, dict(REAPPEARED)) for record in watch.reappeared))
        if isinstance(vendor, ReportsFindings):
            record_findings(ctx, ledger, vendor.findings)
        undated = undated_finding(ctx, vendor)
        if undated is not None:
            ledger.append([undated])
            logger.warning(
                "%s %s on %s: %s record(s) have no %s, so their clock cannot start (not covered)",
                policy.controller,
                rule.ref,
                system,
                undated.payload["count"],
                undated.payload["field"],
            )
        logger.info(
            "%s %s on %s: %s; reappeared after erasure: %d",
            policy.controller,
            rule.ref,
            system,
            found.summary.as_dict(),
            len(watch.reappeared),
        )
        verdict = safety_verdict(rule, found)
        if verdict.needs_approval and not dry_run and not approved:
            approved_now = pause_for_approval and ask_for_approval(ctx, ledger, verdict.message)
            stopped = None if approved_now else f"{verdict.message}; not approved"
        if not dry_run and stopped is None:
            size = connector.capabilities.batch_size
            progress = BatchProgress(len(found.actionable), size, f"{policy.controller} {rule.ref} on {system}")
            for batch in batches(found.actionable, size):
                acted += delete_batch(ctx, connector, ledger, batch)
                progress.advance(len(batch))
    except ConnectorError as error:
        # the one-line error is the user's to act on; the evidence still closes the run and says why it stopped
        finish_run(ctx, ledger, found, acted, str(error))
        raise
    finally:
        suppression.add(policy.controller, system, acted.erased, rule.ref)
    report = finish_run(ctx, ledger, found, acted, stopped)
    logger.info(
        "%s %s on %s: deleted %d, failed %d, overdue %d",
        policy.controller,
        rule.ref,
        system,
        report.deleted,
        report.failed,
        len(report.overdue),
    )
    create_markdown_artifact(
        key=f"{policy.controller}-{rule.ref.lower()}-{system}".replace("_", "-"),
        markdown=render_markdown(report, rule),
        description=f"{policy.controller} {rule.ref} on {system}",
    )
    return report


def enforcement_order(policy: Policy, rule: Rule) -> list[str]:
    """The rule's systems, those another one reads its trigger from (option `newsletter`) last.

    Clienti's CRM finds C1's records through the newsletter's unsubscribes: were the list emptied first, a CRM
    deletion that failed would lose its trigger for good, while the other way round a rerun finds both again.
    """
    sources = {policy.systems[system].options.get("newsletter") for system in rule.covers.systems}
    return sorted(rule.covers.systems, key=lambda system: system in sources)


def active_holds(ctx: RunContext, ledger: Ledger) -> HoldIndex:
    """The controller's holds, or none where the system's option says holds do not keep its records."""
    return HoldStore(ledger).active_for(ctx.controller) if ctx.holds_apply else HoldIndex({}, {})


def summary(report: RunReport) -> dict[str, Any]:
    """What the flow returns: counts and pseudonyms only."""
    return {
        "controller": report.controller,
        "rule": report.rule_ref,
        "system": report.system,
        "run_id": report.run_id,
        "dry_run": report.dry_run,
        "counts": report.counts,
        "deleted": report.deleted,
        "failed": report.failed,
        "still_present": report.still_present,
        "overdue": len(report.overdue),
        "recovered": report.recovered,
        "stopped": report.stopped,
        "ledger_range": list(report.ledger_range) if report.ledger_range else None,
    }
