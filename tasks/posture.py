"""What Prefect knows of the rule runs, read for the posture; `hygiene.posture` itself never asks Prefect.

The ledger cannot tell of a run that died before it wrote its `run_finished` entry (or before it wrote anything),
nor of a run paused for a person. Prefect can: each rule flow run carries the controller and rule ref as its
parameters, so the newest runs of the rule flows are read, those of one controller kept, and their states reduced
to the few words the posture needs.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterStartTime,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort

from hygiene.posture import OrchestratedRun, RunState

#: the flows that run a rule on its schedule (see deployments/)
RULE_FLOWS = ("enforce-rule", "attest", "review-rule", "detect-rule")
#: how many of the newest rule runs are read: enough for a month of every controller's daily and monthly runs
RECENT_RUNS = 1000
#: the most flow runs the Prefect API returns for one request
_PAGE = 200

_STATES = {
    StateType.COMPLETED: RunState.COMPLETED,
    StateType.FAILED: RunState.FAILED,
    StateType.CRASHED: RunState.FAILED,
    StateType.PAUSED: RunState.PAUSED,
    StateType.RUNNING: RunState.RUNNING,
    StateType.PENDING: RunState.RUNNING,
    StateType.CANCELLING: RunState.RUNNING,
    StateType.CANCELLED: RunState.CANCELLED,
}


@task(name="read rule runs from Prefect", persist_result=False, cache_policy=NO_CACHE)
def orchestrated_runs(controller: str, limit: int = RECENT_RUNS) -> list[OrchestratedRun]:
    """The controller's rule runs among the newest `limit` that have started, newest first."""
    runs: list[FlowRun] = []
    with get_client(sync_client=True) as client:
        while len(runs) < limit:
            page = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=list(RULE_FLOWS))),
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(is_null_=False)),
                sort=FlowRunSort.START_TIME_DESC,
                limit=min(_PAGE, limit - len(runs)),
                offset=len(runs),
            )
            runs += page
            if len(page) < _PAGE:
                break
    return [found for run in runs if (found := _of(run, controller)) is not None]


def _of(run: FlowRun, controller: str) -> OrchestratedRun | None:
    parameters = run.parameters
    state = _STATES.get(run.state.type) if run.state is not None else None
    if parameters.get("controller") != controller or not isinstance(parameters.get("rule_ref"), str) or not state:
        return None
    return OrchestratedRun(
        flow_run_id=str(run.id),
        rule_ref=str(parameters["rule_ref"]).upper(),
        state=state,
        started_at=run.start_time,
        ended_at=run.end_time,
        dry_run=parameters.get("dry_run") is True,
    )
