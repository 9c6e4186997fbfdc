"""Above the safety limit a run pauses for a person's approval in the Prefect UI, and resumes with the answer."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

from hygiene.ledger import EntryKind, Ledger
from sandbox.seed_files import FolderManifest
from tests.test_enforce_folders import AS_OF, calmo_drive, remaining

__all__ = ["calmo_drive"]


def paused_run(timeout: float = 60) -> UUID:
    """The one flow run waiting in PAUSED, as the UI lists it."""
    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(flow_run_filter=paused)
            if runs:
                return runs[0].id
            time.sleep(0.5)
    raise AssertionError("no flow run paused for approval")


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
    thread = run_in_background(results, controller="calmo", rule_ref="K1", as_of=AS_OF)
    flow_run_id = paused_run()
    assert remaining(calmo_drive, "invoice") == before, "nothing is deleted while the run waits"
    resume_flow_run(flow_run_id, run_input={"approve": approve, "role": "data protection officer"})
    thread.join(timeout=60)
    [result] = results
    if approve:
        assert result["deleted"] > 0 and result["stopped"] is None
    else:
        assert result["deleted"] == 0 and "not approved" in result["stopped"]
        assert remaining(calmo_drive, "invoice") == before
    answers = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.ATTESTATION]
    assert [a.payload["approved"] for a in answers] == [approve]
