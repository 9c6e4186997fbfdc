"""The flow of a review rule: list what is due for review, delete what a person marked not relevant.

Clienti C2 (contacts reviewed every 12 months, deleted when no longer relevant) and Balansekonomi E2 (every
withdrawn consent listed for review). The review list is a Prefect table artifact by masked pseudonym: a person
finds the contact from its pseudonym with `hygiene` and the controller's key, while the UI holds nothing that
names anyone. Deletion goes through the same steps as enforce-rule (intent, permanent deletion, re-read,
outcome), and every erased subject goes on the suppression list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.enforce import REAPPEARED, active_holds, summary
from hygiene.enforcement import BatchResult, RunContext, batches, record_findings
from hygiene.guards import refuse_future_as_of
from hygiene.holds import HoldIndex
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import rule_for_flow
from hygiene.policy import Action, Policy, Rule
from hygiene.pseudonym import mask
from hygiene.review import ReviewPlan, plan_review
from hygiene.settings import Settings
from hygiene.suppression import ReappearanceWatch, SuppressionList, WatchedConnector
from integrations.registry import connector_for
from tasks.enforcement import delete_batch, finish_run, start_run

#: rows of the review table shown in the UI; the ledger has every one
REVIEW_ROWS = 500


@flow(name="review-rule", persist_result=False, log_prints=False)
def review_rule(
    controller: str, rule_ref: str, as_of: datetime | None = None, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Review one rule on every system it covers; parameters are names only, never personal data.

    A review run deletes what a person marked, so it plans as of now at the latest, like enforce-rule; a dry
    run lists what is due for review and deletes nothing, not even what a person marked not relevant.
    """
    if not dry_run:
        refuse_future_as_of(as_of, datetime.now(UTC), what="as_of", dry_run_hint="dry_run=true")
    policy, rule = rule_for_flow(policies_dir(), controller, rule_ref, {Action.FLAG_FOR_REVIEW}, "review-rule")
    settings = Settings()
    ledger = Ledger.from_settings(settings)
    moment = as_of or datetime.now().astimezone(policy.zone)
    return [review_on_system(policy, rule, system, settings, ledger, moment, dry_run) for system in rule.covers.systems]


def review_on_system(
    policy: Policy, rule: Rule, system: str, settings: Settings, ledger: Ledger, as_of: datetime, dry_run: bool
) -> dict[str, Any]:
    ctx = RunContext(
        policy=policy, rule=rule, system=system, as_of=as_of, dry_run=dry_run, key=settings.key_for(policy.controller)
    )
    suppression = SuppressionList(settings.database_url)
    watch = ReappearanceWatch(suppression.subjects(policy.controller, system), ctx.subject_pseudonym)
    connector = WatchedConnector(connector_for(policy, system), watch)
    start_run(ctx, ledger)
    found = plan_for_review(ctx, connector, ledger, active_holds(ctx, ledger))
    record_findings(ctx, ledger, ((record, dict(REAPPEARED)) for record in watch.reappeared))
    acted = BatchResult()
    marked = [] if dry_run else found.run.actionable
    try:
        for batch in batches(marked, connector.capabilities.batch_size):
            acted += delete_batch(ctx, connector, ledger, batch)
    finally:
        suppression.add(policy.controller, system, acted.erased, rule.ref)
    report = finish_run(ctx, ledger, found.run, acted)
    get_run_logger().info(
        "%s %s on %s: %d due for review (%d overdue), %d marked and deleted",
        policy.controller,
        rule.ref,
        system,
        len(found.listed),
        len(found.run.overdue),
        acted.deleted,
    )
    publish_review(ctx, found, acted)
    return {**summary(report), "review": len(found.listed)}


@task(name="stream and list for review", persist_result=False, cache_policy=NO_CACHE)
def plan_for_review(ctx: RunContext, connector: WatchedConnector, ledger: Ledger, holds: HoldIndex) -> ReviewPlan:
    return plan_review(ctx, connector, ledger, holds)


def publish_review(ctx: RunContext, found: ReviewPlan, acted: BatchResult) -> None:
    key = f"{ctx.controller}-{ctx.rule.ref.lower()}-{ctx.system}-review".replace("_", "-")
    overdue = set(found.run.overdue)
    create_table_artifact(
        key=key,
        table=[{"record": mask(ref), "overdue": ref in overdue} for ref in found.listed[:REVIEW_ROWS]],
        description=f"{ctx.controller} {ctx.rule.ref} on {ctx.system}: due for review, by masked pseudonym",
    )
    create_markdown_artifact(
        key=f"{key}-summary",
        markdown="\n".join(
            [
                f"# {ctx.controller} {ctx.rule.ref} on {ctx.system}: review",
                "",
                f"> {ctx.rule.title}",
                "",
                f"Due for review: **{len(found.listed)}** ({len(overdue)} past the deadline); "
                f"marked not relevant and deleted: **{acted.deleted}** (failed: {acted.failed}).",
                *(
                    ["", f"Only the first {REVIEW_ROWS} are in the table; the ledger has all."]
                    if len(found.listed) > REVIEW_ROWS
                    else []
                ),
            ]
        ),
    )
