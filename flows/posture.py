"""The posture flow: each controller's promises, kept or not, as a keyed table artifact in the Prefect UI.

A keyed artifact (`posture-clienti`) keeps every version under its key, so the UI's Artifacts page shows the
latest posture and, behind it, its history. The table holds rule texts, states, dates and counts; the clocks
below the rules (requests, breaches, holds) go into its description by id and count, never naming anyone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.settings import PREFECT_UI_URL

from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_all, load_policy
from hygiene.posture import Posture, State, as_json, clock_lines, read_posture, rows
from hygiene.settings import Settings
from tasks.posture import orchestrated_runs


def artifact_key(controller: str) -> str:
    return f"posture-{controller}".replace("_", "-")


@flow(name="posture", persist_result=False, log_prints=False)
def posture(controller: str | None = None) -> list[dict[str, Any]]:
    """Write the posture of one controller, or of every controller when none is named."""
    directory = policies_dir()
    policies = [load_policy(directory, controller)] if controller else load_all(directory)
    ledger = Ledger.from_settings(Settings())
    ui_url = PREFECT_UI_URL.value()
    results = []
    for policy in policies:
        found = read_posture(
            policy, ledger, orchestrated_runs(policy.controller), datetime.now(policy.zone), ui_url or None
        )
        create_table_artifact(key=artifact_key(policy.controller), table=rows(found), description=description(found))
        get_run_logger().info("%s: %s", policy.controller, tally(found))
        results.append(as_json(found))
    return results


def description(found: Posture) -> str:
    lines = [f"**{found.name}**: {tally(found)}, at {found.as_of:%Y-%m-%d %H:%M %Z}.", ""]
    return "\n".join(lines + [f"- {line.strip()}" for line in clock_lines(found)])


def tally(found: Posture) -> str:
    counts = {state: sum(1 for rule in found.rules if rule.state is state) for state in State}
    return ", ".join(f"{count} {state.value}" for state, count in counts.items() if count)
