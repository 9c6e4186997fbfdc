"""Above the safety limit a run pauses for a person's approval in the Prefect UI, and resumes with the answer."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from prefect.flow_runs import resume_flow_run

from hygiene.ledger import EntryKind, Ledger
from sandbox.seed_files import FolderManifest
from tests.paused_runs import PAUSE_LIMIT_SECONDS, now, wait_for_paused_run
from tests.test_enforce_folders import AS_OF, calmo_drive, remaining

__all__ = ["calmo_drive"]


def run_in_background(results: list[Any], **parameters: Any) -> threading.Thread:
    from flows.enforce import enforce_rule

    thread = threading.Thread(target=lambda: results.extend(enforce_rule(**parameters)), daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("approve", [True, False])
def test_a_run_above_the_safety_limit_waits_for_approval_in_the_ui(
    calmo_drive: FolderManifest, database_url: str, approve: bool
) -> None:
    before = remaining(calmo_drive, "invoice")
    results: list[Any] = []
    since = now()
    thread = run_in_background(results, controller="calmo", rule_ref="K1", as_of=AS_OF)
    flow_run_id = wait_for_paused_run("enforce-rule", since)
    assert remaining(calmo_drive, "invoice") == before, "nothing is deleted while the run waits"
    resume_flow_run(flow_run_id, run_input={"approve": approve, "role": "data protection officer"})
    thread.join(timeout=PAUSE_LIMIT_SECONDS)
    assert not thread.is_alive(), "the resumed run did not finish"
    [result] = results
    if approve:
        assert result["deleted"] > 0 and result["stopped"] is None
    else:
        assert result["deleted"] == 0 and "not approved" in result["stopped"]
        assert remaining(calmo_drive, "invoice") == before
    answers = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.ATTESTATION]
    assert [a.payload["approved"] for a in answers] == [approve]
