"""The steps of flows/enforce.py and flows/attest.py without Prefect, and wrappers that die at a chosen call.

The campaigns run thousands of runs and kill many of them; a Prefect flow run per case would cost seconds of
orchestration for nothing the campaigns measure. The steps are the same functions the flow's tasks call; where
the attest flow keeps an answer in Prefect's run inputs, the campaign keeps it in files (`FileInbox`), which
survive a SIGKILL as Prefect's database does.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from hygiene.answers import record_answer, recover_interrupted
from hygiene.checklist import Checklist, checklist_drafts
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
from hygiene.ledger import Entry, EntryDraft, EntryKind, Ledger
from hygiene.policy import Policy
from hygiene.settings import Settings
from tasks.attestation import build_checklist, export_connector, has_later_export, verify_against_export


def run_context(policy: Policy, ref: str, system: str, as_of: datetime, flow_run: str | None = None) -> RunContext:
    rule = policy.rule(ref)
    assert rule is not None, f"{policy.controller} has no rule {ref}"
    key = Settings().key_for(policy.controller)
    return RunContext(policy=policy, rule=rule, system=system, as_of=as_of, dry_run=False, key=key, flow_run=flow_run)


def enforce(
    policy: Policy, ref: str, system: str, connector: Connector, ledger: Ledger, as_of: datetime, batch_size: int
) -> RunReport:
    """Start, plan (closing open intents), delete batch by batch with intents and outcomes, finish."""
    ctx = run_context(policy, ref, system, as_of)
    start_run(ctx, ledger)
    holds = HoldStore(ledger).active_for(ctx.controller) if ctx.holds_apply else HoldIndex({}, {})
    found = plan_run(ctx, connector, ledger, holds)
    acted = BatchResult()
    for batch in batches(found.actionable, batch_size):
        acted += act_on_batch(ctx, connector, ledger, batch)
    return finish_run(ctx, ledger, found, acted)


def attest(
    policy: Policy, ref: str, system: str, ledger: Ledger, as_of: datetime, inbox: FileInbox, person: Person
) -> None:
    """One attest run as the flow makes it: recover, verify a later export, list, ask, record, forget, finish."""
    ctx = run_context(policy, ref, system, as_of, flow_run=uuid.uuid4().hex)
    assert ctx.flow_run is not None
    start_run(ctx, ledger)
    recover_interrupted(ctx, ledger, inbox)
    connector = export_connector(ctx, None)
    if connector is not None and has_later_export(ctx, ledger, connector):
        verify_against_export.fn(ctx, ledger, connector)
    checklist = build_checklist.fn(ctx, ledger)
    ledger.append(checklist_drafts(ctx, checklist))
    if checklist.items:
        inbox.give(ctx.flow_run, person(checklist))
        answer = inbox.left_answer(ctx.flow_run)
        assert answer is not None
        record_answer(ctx, ledger, checklist, answer, inbox)
    ledger.append([ctx.draft(EntryKind.RUN_FINISHED, {"items": len(checklist.items), "outcome": "attested"})])


#: what a person answers to a checklist: the form's values
Person = Callable[[Checklist], dict[str, Any]]


class Dying:
    """Counts steps and SIGKILLs its own process at step `fatal_call` (0: never)."""

    def __init__(self, fatal_call: int) -> None:
        self.fatal_call = fatal_call
        self.calls = 0

    def step(self) -> None:
        self.calls += 1
        if self.calls == self.fatal_call:
            os.kill(os.getpid(), signal.SIGKILL)


class DyingLedger(Ledger):
    """A ledger whose process dies just before or just after one of its appends."""

    def __init__(self, url: str, dying: Dying) -> None:
        super().__init__(url)
        self.dying = dying

    def append(self, drafts: Sequence[EntryDraft]) -> list[Entry]:
        self.dying.step()
        written = super().append(drafts)
        self.dying.step()
        return written


class FileInbox:
    """Answers kept as Prefect keeps run inputs, one file per flow run; forgetting moves it to `forgotten/`.

    Moves are renames, so a SIGKILL never leaves an answer half given or half forgotten, and the campaign can
    tell every answer a person gave (both folders) from the ones still holding a name (`waiting/`).
    """

    def __init__(self, root: Path, dying: Dying | None = None) -> None:
        self.waiting, self.forgotten = root / "waiting", root / "forgotten"
        self.waiting.mkdir(parents=True, exist_ok=True)
        self.forgotten.mkdir(parents=True, exist_ok=True)
        self.dying = dying or Dying(0)

    def give(self, flow_run: str, values: Mapping[str, Any]) -> None:
        self.dying.step()
        draft = self.waiting / f"{flow_run}.part"
        draft.write_text(json.dumps(values), encoding="utf-8")
        draft.replace(self.waiting / f"{flow_run}.json")

    def has_ended(self, flow_run: str) -> bool:
        return True  # a campaign run is over when the next one starts: it died, or it finished

    def left_answer(self, flow_run: str) -> dict[str, Any] | None:
        self.dying.step()
        path = self.waiting / f"{flow_run}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def forget(self, flow_run: str) -> None:
        self.dying.step()
        path = self.waiting / f"{flow_run}.json"
        if path.exists():
            path.replace(self.forgotten / path.name)

    def given(self) -> dict[str, dict[str, Any]]:
        """Every answer given, by flow run."""
        paths = [*self.waiting.glob("*.json"), *self.forgotten.glob("*.json")]
        return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in paths}

    def left(self) -> int:
        return len(list(self.waiting.glob("*.json")))


class DiesAtCall:
    """A connector that SIGKILLs its own process at its `fatal_call`-th step.

    Every record streamed, every id deleted and every id verified is a step, and deletion is passed on one id
    at a time, so the death can fall before a batch, inside it (some records gone, no outcome written) or
    after it. `fatal_call` 0 never dies.
    """

    def __init__(self, inner: Connector, fatal_call: int) -> None:
        self.inner = inner
        self.capabilities: Capabilities = inner.capabilities
        self.step = Dying(fatal_call).step

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
