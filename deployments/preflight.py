"""Every deployment `hygiene deploy` creates, run once now as a dry run through Prefect: what `hygiene preflight` does.

A scheduled rule that fails only when its schedule fires is found by nobody until an auditor asks, so each
deployment is registered with the server exactly as `hygiene deploy` registers it (`deployments.serve`), a flow
run is created from it with the one override `dry_run: true`, and that flow run is executed here by Prefect's
engine, its flow loaded from the deployment's entrypoint as a runner loads it. The deployment's parameters, its
entrypoint and the flow's validation of both are what is exercised; schedules are not (the run starts now).

The run is executed in this process rather than in a runner's child process: a child process imports Prefect
and the flows again (seconds each on a loaded machine), and the run, its states and its logs on the server are
the same. A run that fails is one line, its final state and the first line of the error that ended it; Prefect's
console log (where it prints tracebacks) is silenced meanwhile, and the run's log on the server keeps it all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.flow_engine import run_flow
from prefect.flows import load_flow_from_entrypoint
from prefect.logging.handlers import PrefectConsoleHandler

from deployments.generate import DeploymentSpec
from deployments.serve import runner_deployment
from hygiene.errors import HygieneError

#: the parameters a preflight run overrides: every scheduled flow takes `dry_run` and then deletes nothing
DRY_RUN: dict[str, Any] = {"dry_run": True}
COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class Outcome:
    """One deployment's preflight: its final state as Prefect names the type, and why when it did not complete."""

    name: str
    flow: str
    state: str
    message: str

    @property
    def completed(self) -> bool:
        return self.state == COMPLETED

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def preflight(specs: list[DeploymentSpec]) -> list[Outcome]:
    """Run each deployment once, in order; one run's failure never stops the others."""
    with console_logs_silenced():
        return [run_once(spec) for spec in specs]


def run_once(spec: DeploymentSpec) -> Outcome:
    """Register the deployment as `hygiene deploy` does, create a dry-run flow run from it, and run that here."""
    registered = runner_deployment(spec)
    flow_name = registered.flow_name or spec.entrypoint
    deployment_id = registered.apply()
    assert isinstance(deployment_id, UUID), "applied outside an event loop"
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
        flow_run = client.create_flow_run_from_deployment(deployment_id, parameters=DRY_RUN)
    try:
        assert deployment.entrypoint is not None, "a deployment hygiene registers always names its entrypoint"
        flow: Flow[..., Any] = load_flow_from_entrypoint(deployment.entrypoint, use_placeholder_flow=False)
        state = run_flow(flow, flow_run=flow_run, return_type="state")
    except Exception as error:  # the engine refused to start the run: report it like a failed run
        with get_client(sync_client=True) as client:
            server_state = client.read_flow_run(flow_run.id).state
        kind = server_state.type.value if server_state is not None and server_state.is_final() else "FAILED"
        return Outcome(spec.name, flow_name, kind, one_line(error))
    assert isinstance(state, State), "a synchronous flow returns its final state"
    return Outcome(spec.name, flow_name, state.type.value, "" if state.is_completed() else reason(state))


def reason(state: State[Any]) -> str:
    """The one line that says why a run did not complete: the error that ended it, else Prefect's own message."""
    error = state.result(raise_on_failure=False) if state.is_failed() or state.is_crashed() else None
    if isinstance(error, BaseException):
        return one_line(error)
    return first_line(state.message or "") or state.type.value.lower()


def one_line(error: BaseException) -> str:
    """A product error is already the user's one line; anything else is named by its class."""
    text = first_line(str(error))
    if isinstance(error, HygieneError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


@contextmanager
def console_logs_silenced() -> Iterator[None]:
    """Prefect's console handler prints a failed run's traceback; the one-line outcome replaces it."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)
