"""`hygiene run`: one rule, now, through Prefect (the temporary local server when none is configured)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table

from cli.output import JsonOption, console, emit_json, user_errors
from deployments.server import authenticated_temporary_server
from hygiene.errors import HygieneError
from hygiene.guards import refuse_future_as_of
from hygiene.locations import policies_dir
from hygiene.periods import parse_datetime
from hygiene.policies import find_rule, load_policy


@user_errors
def run(
    controller: str,
    ref: str,
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and record; delete nothing."),
    as_of: str | None = typer.Option(None, "--as-of", help="Plan as of this ISO datetime (with offset)."),
    approve: bool = typer.Option(False, "--approve", help="Approve a run above the rule's safety limit."),
    json: bool = JsonOption,
) -> None:
    """Enforce one rule of a controller now."""
    policy = load_policy(policies_dir(), controller)
    rule = find_rule(policy, ref)
    moment = parse_datetime(as_of, "--as-of") if as_of is not None else None
    if not dry_run:
        refuse_future_as_of(moment, datetime.now(UTC), what="--as-of", dry_run_hint="add --dry-run")
    from flows.enforce import enforce_rule  # Prefect loads only for commands that run flows

    with authenticated_temporary_server():
        results: list[dict[str, Any]] = enforce_rule(
            policy.controller, rule.ref, dry_run=dry_run, as_of=moment, approved=approve, pause_for_approval=False
        )
    if json:
        emit_json(results)
    else:
        print_results(results)
    stopped = [r["stopped"] for r in results if r["stopped"]]
    if stopped:
        raise HygieneError(f"{stopped[0]}: nothing was deleted; rerun with --approve after checking the plan")


def print_results(results: list[dict[str, Any]]) -> None:
    table = Table(title="run")
    for column in ("rule", "system", "keep", "due", "overdue", "held", "deleted", "failed", "evidence"):
        table.add_column(column)
    for r in results:
        counts = r["counts"]
        table.add_row(
            r["rule"],
            r["system"],
            *(str(counts[k]) for k in ("keep", "due", "overdue", "held")),
            str(r["deleted"]) + (" (dry run)" if r["dry_run"] else ""),
            str(r["failed"]),
            "–".join(map(str, r["ledger_range"] or [])),
        )
    console.print(table)
