"""A run killed with SIGKILL between an intent and its outcome: the rerun finishes the job, nothing twice."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hygiene.ledger import EntryKind, Ledger
from hygiene.planner import Decision
from sandbox.seed_files import FolderManifest
from tests.test_enforce_folders import AS_OF, calmo_drive, expected, remaining

__all__ = ["calmo_drive"]

# The steps of flows/enforce.py, run without Prefect so the process can die at an exact point.
CRASHING_RUN = """
import os, signal, sys
from datetime import datetime
from hygiene import enforcement
from hygiene.holds import HoldStore
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.settings import Settings
from integrations.registry import connector_for

point, as_of = sys.argv[1], datetime.fromisoformat(sys.argv[2])
policy = load_policy(policies_dir(), "calmo")
settings = Settings()
ledger = Ledger.from_settings(settings)
inner = connector_for(policy, "logbooks")


class DiesMidBatch:
    capabilities = inner.capabilities

    def records(self, selection, trigger):
        return inner.records(selection, trigger)

    def delete(self, ids):
        if point == "after_delete":
            inner.delete(ids)
        os.kill(os.getpid(), signal.SIGKILL)

    def verify_absent(self, ids):
        return inner.verify_absent(ids)


ctx = enforcement.RunContext(policy=policy, rule=policy.rule("K2"), system="logbooks", as_of=as_of,
                             dry_run=False, key=settings.key_for("calmo"))
enforcement.start_run(ctx, ledger)
found = enforcement.plan_run(ctx, DiesMidBatch(), ledger, HoldStore(ledger).active_for("calmo"))
for batch in enforcement.batches(found.actionable, 500):
    enforcement.act_on_batch(ctx, DiesMidBatch(), ledger, batch)
"""


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("point", ["before_delete", "after_delete"])
def test_a_rerun_after_sigkill_finishes_without_doing_anything_twice(
    calmo_drive: FolderManifest, database_url: str, point: str, tmp_path: Path
) -> None:
    from flows.enforce import enforce_rule

    truth = expected(calmo_drive, "logbook", "K2")
    killed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, point, AS_OF.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    ledger = Ledger(database_url)
    assert len(ledger.open_intents("calmo", "K2")) == len(truth[Decision.DUE] | truth[Decision.OVERDUE]) > 0

    [rerun] = enforce_rule("calmo", "K2", as_of=AS_OF, approved=True, pause_for_approval=False)

    assert remaining(calmo_drive, "logbook") == truth[Decision.KEEP]
    assert ledger.open_intents("calmo", "K2") == []
    assert ledger.verify().ok
    deletions = Counter(
        e.record
        for e in ledger.entries(controller="calmo", kinds=[EntryKind.OUTCOME])
        if e.payload.get("result") == "deleted"
    )
    assert set(deletions.values()) == {1}, "every record is deleted exactly once"
    assert len(deletions) == len(truth[Decision.DUE] | truth[Decision.OVERDUE])
    assert rerun["recovered"] == len(deletions)
    assert rerun["deleted"] == (len(deletions) if point == "before_delete" else 0)
