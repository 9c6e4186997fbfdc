"""Serve the generated deployments from one process: Prefect's `serve(...)` of each flow's `to_deployment(...)`.

The serving process is its own worker: it polls the server for the deployments' scheduled runs and runs them
here, so one machine needs no work pool. To scale out, deploy `prefect.yaml` to the `hygiene` work pool instead.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import CronSchedule, RRuleSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.runner import Runner

from deployments.generate import COLLISION_STRATEGY, RUNS_AT_ONCE, DeploymentSpec
from hygiene.policies import load_policy
from hygiene.policy import Policy
from hygiene.readiness import missing


def flow_at(entrypoint: str) -> Flow[Any, Any]:
    """The flow an entrypoint names, imported as a module of this package (the process need not run in the repo)."""
    path, name = entrypoint.split(":")
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
    assert isinstance(flow, Flow), f"{entrypoint} is not a Prefect flow"
    return flow


def prefect_schedule(schedule: dict[str, str]) -> CronSchedule | RRuleSchedule:
    if "cron" in schedule:
        return CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    return RRuleSchedule(rrule=schedule["rrule"], timezone=schedule["timezone"])


def runner_deployment(spec: DeploymentSpec) -> RunnerDeployment:
    deployment = flow_at(spec.entrypoint).to_deployment(
        name=spec.name,
        schedules=[prefect_schedule(spec.schedule)],
        parameters=spec.parameters,
        description=spec.description,
        tags=list(spec.tags),
        concurrency_limit=ConcurrencyLimitConfig(
            limit=RUNS_AT_ONCE, collision_strategy=ConcurrencyLimitStrategy(COLLISION_STRATEGY)
        ),
    )
    assert isinstance(deployment, RunnerDeployment), "called outside an event loop"
    return deployment


def runner_deployments(specs: list[DeploymentSpec]) -> list[RunnerDeployment]:
    return [runner_deployment(spec) for spec in specs]


class InterruptibleRunner(Runner):
    """A runner that SIGTERM stops as Ctrl-C does: it pauses the deployments and leaves its loop cleanly.

    Prefect's own handler calls a coroutine without awaiting it and exits from inside the event loop.
    """

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt


def ready(
    specs: list[DeploymentSpec], policies: Path, environ: Mapping[str, str] = os.environ
) -> tuple[list[DeploymentSpec], list[str]]:
    """The deployments whose runs have what they need from the environment, and one line for each of the rest
    (served, a run of those could only fail; see hygiene.readiness)."""
    loaded: dict[str, Policy] = {}
    served, refused = [], []
    for spec in specs:
        policy = loaded.get(spec.controller) or loaded.setdefault(
            spec.controller, load_policy(policies, spec.controller)
        )
        rule = policy.rule(spec.rule_ref)
        assert rule is not None, f"{spec.name}: generated from a rule the policy no longer has"
        problems = missing(policy, rule, environ)
        if problems:
            refused.append(f"{spec.name} not served: {'; '.join(problems)}")
        else:
            served.append(spec)
    return served, refused


class AlreadyEnded(logging.Filter):
    """At shutdown Prefect's runner kills the process of every flow run it started; one whose process ended a
    moment before is logged as an error with a traceback (ProcessLookupError) although nothing went wrong, so a
    clean Ctrl-C would look broken. The record becomes the one line that says what happened."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ProcessLookupError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "flow run '%s': its process had already ended when the runner stopped"
            record.exc_info, record.exc_text = None, None
        return True


def serve_deployments(specs: list[DeploymentSpec]) -> None:
    """Register the deployments with the server and run their scheduled runs until interrupted."""
    shutdown = logging.getLogger("prefect.runner.process_manager")
    if not any(isinstance(existing, AlreadyEnded) for existing in shutdown.filters):
        shutdown.addFilter(AlreadyEnded())
    runner = InterruptibleRunner(pause_on_shutdown=True)
    for deployment in runner_deployments(specs):
        runner.add_deployment(deployment)
    asyncio.run(runner.start())
