"""The steps of flows/enforce.py without Prefect, and a connector wrapper that dies at a chosen call.

The campaigns run thousands of runs and kill many of them; a Prefect flow run per case would cost seconds of
orchestration for nothing the campaigns measure. The steps are the same functions the flow's tasks call.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from hygiene.connector import AbsenceProof, Capabilities, Connector, Receipt, Record
from hygiene.enforcement import (
    BatchResult,
    RunContext,
    RunReport,
    act_on_batch,
    batches,
    finish_run,
    plan_run,
    start_run,
)
from hygiene.holds import HoldIndex, HoldStore
from hygiene.ledger import Ledger
from hygiene.policy import Policy
from hygiene.settings import Settings


def enforce(
    policy: Policy, ref: str, system: str, connector: Connector, ledger: Ledger, as_of: datetime, batch_size: int
) -> RunReport:
    """Start, plan (closing open intents), delete batch by batch with intents and outcomes, finish."""
    rule = policy.rule(ref)
    assert rule is not None, f"{policy.controller} has no rule {ref}"
    ctx = RunContext(
        policy=policy, rule=rule, system=system, as_of=as_of, dry_run=False, key=Settings().key_for(policy.controller)
    )
    start_run(ctx, ledger)
    holds = HoldStore(ledger).active_for(ctx.controller) if ctx.holds_apply else HoldIndex({}, {})
    found = plan_run(ctx, connector, ledger, holds)
    acted = BatchResult()
    for batch in batches(found.actionable, batch_size):
        acted += act_on_batch(ctx, connector, ledger, batch)
    return finish_run(ctx, ledger, found, acted)


class DiesAtCall:
    """A connector that SIGKILLs its own process at its `fatal_call`-th step.

    Every record streamed, every id deleted and every id verified is a step, and deletion is passed on one id
    at a time, so the death can fall before a batch, inside it (some records gone, no outcome written) or
    after it. `fatal_call` 0 never dies.
    """

    def __init__(self, inner: Connector, fatal_call: int) -> None:
        self.inner = inner
        self.capabilities: Capabilities = inner.capabilities
        self.fatal_call = fatal_call
        self.calls = 0

    def step(self) -> None:
        self.calls += 1
        if self.calls == self.fatal_call:
            os.kill(os.getpid(), signal.SIGKILL)

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        for record in self.inner.records(selection, trigger):
            self.step()
            yield record

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        receipts: list[Receipt] = []
        for record_id in record_ids:
            self.step()
            receipts += self.inner.delete([record_id])
        return receipts

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        self.step()
        return self.inner.verify_absent(record_ids)
