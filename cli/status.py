"""`hygiene status`: every promise, kept or not, in the terminal; the same rows as the posture artifact."""

from __future__ import annotations

import os
from datetime import datetime

import typer

from cli.output import JsonOption, console, emit_json, user_errors
from hygiene.errors import HygieneError
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_all, load_policy
from hygiene.posture import OrchestratedRun, as_json, read_posture, terminal_lines
from hygiene.settings import Settings

#: what a terminal is assumed to hold; --json keeps the full texts
WIDTH = 80


@user_errors
def status(
    controller: str | None = typer.Option(None, "--controller", help="One controller (default: all)."),
    json: bool = JsonOption,
) -> None:
    """Show each promise's state: kept, overdue, waiting for a person, failing, not set up, no period."""
    directory = policies_dir()
    policies = [load_policy(directory, controller)] if controller else load_all(directory)
    ledger = Ledger.from_settings(Settings())
    api = os.environ.get("PREFECT_API_URL")
    postures = [
        read_posture(policy, ledger, prefect_runs(policy.controller, api), datetime.now(policy.zone), ui_url(api))
        for policy in policies
    ]
    if json:
        emit_json([{**as_json(found), "prefect_asked": api is not None} for found in postures])
        return
    if api is None:
        console.print("PREFECT_API_URL is not set: states come from the ledger alone.")
    for found in postures:
        for line in terminal_lines(found, WIDTH):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        console.print()


def prefect_runs(controller: str, api: str | None) -> list[OrchestratedRun]:
    """Prefect's word on the rule runs, only from a server the user named: the temporary one holds no history."""
    if api is None:
        return []
    import httpx

    from tasks.posture import orchestrated_runs  # Prefect loads only when a server is named

    try:
        return orchestrated_runs.fn(controller)
    except httpx.HTTPError as exc:
        raise HygieneError(f"PREFECT_API_URL {api} does not answer ({type(exc).__name__})") from None


def ui_url(api: str | None) -> str | None:
    return api.rstrip("/").removesuffix("/api") if api else None
