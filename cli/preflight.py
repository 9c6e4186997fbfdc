"""`hygiene preflight`: every deployment `hygiene deploy` would create, run once now as a dry run through Prefect.

Without `--sandbox` the runs go to the systems the environment configures; with it, to the demo's world built
afresh in a temporary folder (emulators seeded through the SDKs, files, demo-only keys, its own ledger), so it
works on a fresh clone with no set-up and leaves nothing behind. The Prefect server is the one `PREFECT_API_URL`
names (checked first), else Prefect's temporary local server, as for `hygiene run`.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from cli.demo import prepare_workspace, scene
from cli.output import JsonOption, console, emit_json, user_errors
from deployments.generate import DeploymentSpec, deployment_specs
from deployments.server import configured_api_url, require_reachable
from hygiene.errors import HygieneError
from hygiene.locations import policies_dir
from hygiene.policies import load_all
from hygiene.policy import Policy

if TYPE_CHECKING:
    from deployments.preflight import Outcome


@user_errors
def preflight(
    sandbox: bool = typer.Option(False, "--sandbox", help="Run against a freshly seeded sandbox (the demo's world)."),
    json: bool = JsonOption,
) -> None:
    """Run every deployment once now as a dry run; one line each; exit 0 only when every one completed."""
    policies = load_all(policies_dir())
    specs = deployment_specs(policies)
    url = configured_api_url()
    if url is not None:
        require_reachable(url)
    from deployments.preflight import preflight as run_all  # Prefect loads only for commands that run flows

    outcomes = in_sandbox(policies, specs) if sandbox else run_all(specs)
    if json:
        emit_json({"deployments": [outcome.as_dict() for outcome in outcomes]})
    else:
        print_outcomes(outcomes)
    failed = [outcome for outcome in outcomes if not outcome.completed]
    if failed:
        raise HygieneError(f"{len(failed)} of {len(outcomes)} deployments did not complete")


def in_sandbox(policies: list[Policy], specs: list[DeploymentSpec]) -> list[Outcome]:
    """Each controller's deployments inside that controller's systems, as the demo sets them up."""
    from deployments.preflight import preflight as run_all

    now = datetime.now().astimezone()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="hygiene-preflight-") as scratch:
        workspace = prepare_workspace(Path(scratch) / "world")
        for policy in policies:
            with scene(policy, workspace, now):
                outcomes += run_all(of_controller(specs, policy))
    return outcomes


def of_controller(specs: list[DeploymentSpec], policy: Policy) -> list[DeploymentSpec]:
    return [spec for spec in specs if spec.controller == policy.controller]


def print_outcomes(outcomes: list[Outcome]) -> None:
    """One line per deployment (never wrapped into a table cell), the reason last so it may run on."""
    done = sum(outcome.completed for outcome in outcomes)
    out = Console(width=max(console.width, 120), soft_wrap=True, highlight=False)
    out.print(f"preflight: {len(outcomes)} deployments, each run once now as a dry run", style="bold")
    if outcomes:
        name = max(len(outcome.name) for outcome in outcomes)
        flow = max(len(outcome.flow) for outcome in outcomes)
        for outcome in outcomes:
            line = f"{outcome.name:<{name}}  {outcome.flow:<{flow}}  {outcome.state:<9}  {outcome.message}"
            out.print(line.rstrip(), markup=False, style=None if outcome.completed else "red")
    out.print(f"{done} of {len(outcomes)} completed")
