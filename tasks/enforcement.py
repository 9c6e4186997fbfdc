"""Prefect tasks of the enforcement path: each is one named step of hygiene.enforcement, seen in the UI.

Results hold records (ids and subjects) and live only in this process: nothing is persisted or cached.
The two steps that call the vendor keep the account's rate limit together with every other worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from hygiene import enforcement
from hygiene.connector import Connector
from hygiene.enforcement import BatchResult, RunContext, RunPlan, RunReport
from hygiene.holds import HoldIndex
from hygiene.ledger import Ledger
from hygiene.planner import Planned
from tasks.limits import account_pacing


@task(name="record run start", persist_result=False, cache_policy=NO_CACHE)
def start_run(ctx: RunContext, ledger: Ledger) -> None:
    enforcement.start_run(ctx, ledger)


@task(name="stream and plan", persist_result=False, cache_policy=NO_CACHE)
def plan_records(ctx: RunContext, connector: Connector, ledger: Ledger, holds: HoldIndex) -> RunPlan:
    with account_pacing(ctx.policy, ctx.system, connector):
        return enforcement.plan_run(ctx, connector, ledger, holds)


@task(name="delete batch", persist_result=False, cache_policy=NO_CACHE)
def delete_batch(ctx: RunContext, connector: Connector, ledger: Ledger, batch: Sequence[Planned]) -> BatchResult:
    with account_pacing(ctx.policy, ctx.system, connector):
        return enforcement.act_on_batch(ctx, connector, ledger, batch)


@task(name="record run end", persist_result=False, cache_policy=NO_CACHE)
def finish_run(
    ctx: RunContext, ledger: Ledger, found: RunPlan, acted: BatchResult, stopped: str | None = None
) -> RunReport:
    return enforcement.finish_run(ctx, ledger, found, acted, stopped)
