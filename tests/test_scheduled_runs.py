"""The Prefect server this product starts creates the scheduled flow runs of a deployment whose schedule is due.

Every promise is kept on schedule only because the server's scheduler service turns each deployment's schedule
into SCHEDULED flow runs. With a SQLAlchemy the installed Prefect does not support, that service fails on every
loop (`Can't evaluate bulk DML statement`) while the API keeps answering, so nothing looks wrong until no rule
has run. The test server of the session runs no services, so this starts `prefect server start` the way
`make ui` and `hygiene serve` do (`deployments.server.start_server`), on the session's already migrated
database so that it starts in seconds.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.schedules import IntervalSchedule
from pydantic import SecretStr

from deployments.server import api_url, client_of, start_server, stop_server
from sandbox.runner import free_port

#: the scheduler service's fast loop, for deployments changed in the last seconds, runs every 5 s
WITHIN_SECONDS = 90.0


def scheduled_runs(client: SyncPrefectClient, deployment_id: UUID) -> list[StateType | None]:
    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    return [run.state_type for run in runs]


def test_a_deployment_with_a_due_schedule_gets_scheduled_runs_from_the_server(
    prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", prefect_server)
    home, port, auth = tmp_path / "prefect", free_port(), SecretStr("hygiene:scheduler-test")
    server = start_server(home, "127.0.0.1", port, auth)
    try:
        with client_of(api_url("127.0.0.1", port), auth), get_client(sync_client=True) as client:
            flow_id = client.create_flow_from_name("scheduler-probe")
            deployment_id = client.create_deployment(
                flow_id=flow_id,
                name="every-minute",
                entrypoint="flows/none.py:none",
                schedules=[DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(minutes=1)))],
            )
            try:
                deadline, states = time.monotonic() + WITHIN_SECONDS, list[StateType | None]()
                while not states and time.monotonic() < deadline:
                    time.sleep(1)
                    states = scheduled_runs(client, deployment_id)
            finally:  # the session's database is shared: leave no deployment that keeps being scheduled
                client.delete_deployment(deployment_id)
    finally:
        stop_server(server)
    log = (home / "server.log").read_text(encoding="utf-8", errors="replace")
    assert states, f"no flow run scheduled within {WITHIN_SECONDS:.0f} s; the server's log ends:\n{log[-3000:]}"
    assert set(states) == {StateType.SCHEDULED}
    assert "InvalidRequestError" not in log
