"""Finding the flow run a test is waiting on in PAUSED, as a person in the UI would: the newest run of one flow
that paused after the test began.

Every test shares one Prefect server, so "any paused run" can be a run another test left behind; and a loaded
machine can take a long time to bring a run to its pause. So the search is narrowed to one flow and to runs that
started after `since`, and it waits as long as the test's own timeout allows, unless `stop` says the run it
waits for has ended without pausing.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

#: longer than any run needs to reach its pause on a loaded machine, shorter than pytest's timeout
PAUSE_LIMIT_SECONDS = 240.0
#: the server's clock and ours are the same machine's, but start times are stamped by the server
CLOCK_SLACK = timedelta(seconds=2)


def now() -> datetime:
    return datetime.now(UTC)


def wait_for_paused_run(
    flow: str, since: datetime, timeout: float = PAUSE_LIMIT_SECONDS, stop: threading.Event | None = None
) -> UUID:
    """The newest run of `flow` started after `since` that is PAUSED; TimeoutError when none pauses in time."""
    wanted = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
        start_time=FlowRunFilterStartTime.model_validate({"after_": since - CLOCK_SLACK}),
    )
    give_up = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < give_up and not (stop is not None and stop.is_set()):
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])),
                flow_run_filter=wanted,
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
            if runs:
                return runs[0].id
            time.sleep(0.2)
    raise TimeoutError(f"no {flow} run paused")
