"""`hygiene attest`: compute a hand-kept rule's checklist now and wait for a person's answer in the Prefect UI."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.output import JsonOption, console, emit_json, user_errors
from hygiene.locations import policies_dir
from hygiene.periods import parse_datetime
from hygiene.policies import find_rule, load_policy


@user_errors
def attest(
    controller: str,
    ref: str,
    as_of: str | None = typer.Option(None, "--as-of", help="Compute as of this ISO datetime (with offset)."),
    demo_answer: bool = typer.Option(
        False, "--demo-answer", help="Answer the form at once: every item done, by the role 'demo'."
    ),
    json: bool = JsonOption,
) -> None:
    """Ask for the attestation a rule kept by hand needs (Webnode's admin page, paper, the phone)."""
    policy = load_policy(policies_dir(), controller)
    rule = find_rule(policy, ref)
    moment = parse_datetime(as_of, "--as-of") if as_of is not None else None
    from flows.attest import attest as attest_flow  # Prefect loads only for commands that run flows

    results: list[dict[str, Any]] = attest_flow(policy.controller, rule.ref, as_of=moment, demo_answer=demo_answer)
    if json:
        emit_json(results)
        return
    table = Table(title="attest")
    for column in ("rule", "system", "items", "overdue", "already attested", "outcome", "evidence"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r["rule"],
            r["system"],
            str(r["items"]),
            str(r["overdue"]),
            str(r["settled"]),
            r["outcome"],
            "–".join(map(str, r["ledger_range"])),
        )
    console.print(table)
