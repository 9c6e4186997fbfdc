"""Prefect tasks of the attestation path: compute a checklist, verify attested deletions against an export.

Which source a checklist comes from is decided here, from the system: a connector's records (a Webnode export, a
CRM register for paper) planned like any rule's; for a hand-kept system with no register, the financial years
of a bookkeeping review or one monthly sweep. Results stay in this process: nothing is persisted or cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from hygiene.checklist import (
    Checklist,
    ChecklistItem,
    Verification,
    attested_unverified,
    checklist_items,
    financial_years,
    is_bookkeeping_review,
    settled_records,
    sweep_item,
    verify_attested,
)
from hygiene.connector import Connector, response_digest
from hygiene.enforcement import RunContext, plan_run
from hygiene.holds import HoldStore
from hygiene.ledger import Ledger
from hygiene.planner import Planned, plan
from hygiene.policy import SystemKind
from integrations.registry import connector_for, has_register
from integrations.webnode import WebnodeConnector


@task(name="compute checklist", persist_result=False, cache_policy=NO_CACHE)
def build_checklist(ctx: RunContext, ledger: Ledger) -> Checklist:
    """What is due by hand now and not yet attested, as checklist items."""
    settled = settled_records(ledger, ctx.controller, ctx.rule.ref)
    kind = ctx.policy.systems[ctx.system].kind
    source_digest = None
    if kind is SystemKind.MANUAL and not has_register(ctx.policy, ctx.system):
        if not is_bookkeeping_review(ctx):
            sweep = sweep_item(ctx)
            return _checklist(ctx, [] if sweep.record in settled else [sweep], int(sweep.record in settled), None)
        planned: Iterable[Planned] = plan(financial_years(ctx), ctx.policy, ctx.rule, ctx.as_of)
    else:
        connector = connector_for(ctx.policy, ctx.system)
        planned = plan_run(ctx, connector, ledger, HoldStore(ledger).active_for(ctx.controller)).actionable
        source_digest = export_digest(connector)
    items, left_out = checklist_items(ctx, planned, settled, to_the_minute=kind is SystemKind.WEBNODE)
    return _checklist(ctx, items, left_out, source_digest)


def _checklist(ctx: RunContext, items: list[ChecklistItem], settled: int, source_digest: str | None) -> Checklist:
    return Checklist(
        controller=ctx.controller,
        rule_ref=ctx.rule.ref,
        system=ctx.system,
        run_id=ctx.run_id,
        as_of=ctx.as_of,
        items=tuple(items),
        settled=settled,
        source_digest=source_digest,
    )


def export_digest(connector: Connector) -> str | None:
    """SHA-256 of the export a checklist or a verification read; None for sources that are not one file."""
    if isinstance(connector, WebnodeConnector):
        return response_digest(connector.export_path.read_bytes())
    return None


def export_connector(ctx: RunContext, export_path: Path | None) -> WebnodeConnector | None:
    """The connector of the export to verify against: the given file, or the system's configured export."""
    if ctx.policy.systems[ctx.system].kind is not SystemKind.WEBNODE:
        return None
    if export_path is not None:
        return WebnodeConnector(export_path, tz=ctx.policy.zone)
    connector = connector_for(ctx.policy, ctx.system)
    assert isinstance(connector, WebnodeConnector)
    return connector


def has_later_export(ctx: RunContext, ledger: Ledger, connector: WebnodeConnector) -> bool:
    """Whether some attested deletion waits for verification and this export is not the one it was listed from."""
    digest = export_digest(connector)
    pending = attested_unverified(ledger, ctx.controller, ctx.rule.ref, ctx.system)
    return any(entry.payload.get("source_digest") != digest for entry in pending.values())


@task(name="verify against export", persist_result=False, cache_policy=NO_CACHE)
def verify_against_export(ctx: RunContext, ledger: Ledger, connector: WebnodeConnector) -> Verification:
    """Compare attested deletions with the export by record pseudonym, and record what was found."""
    assert ctx.rule.trigger is not None
    pending = attested_unverified(ledger, ctx.controller, ctx.rule.ref, ctx.system)
    present = {
        ctx.record_pseudonym(record) for record in connector.records(ctx.rule.covers.selection, ctx.rule.trigger.event)
    }
    digest = export_digest(connector)
    assert digest is not None
    result = verify_attested(ctx, pending, present, digest)
    ledger.append(result.drafts)
    return result
