"""`hygiene demo`: what `make demo` runs on the embedded default."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.table import Table

from cli.output import console, user_errors
from hygiene.cadence import next_runs
from hygiene.locations import policies_dir
from hygiene.policies import load_all
from hygiene.policy import Policy
from hygiene.windows import window_for


def show_promises(policy: Policy, now: datetime) -> None:
    """Each rule with the window it gives a record whose clock started a year ago, and its next runs."""
    sample = (now - timedelta(days=365)).astimezone(policy.zone)
    table = Table(title=f"{policy.name}: trigger {sample:%Y-%m-%d} → window; next runs ({policy.timezone})")
    for column in ("ref", "action", "not before", "deadline", "next runs"):
        table.add_column(column)
    for rule in policy.rules:
        window = window_for(policy, rule, sample) if rule.trigger else None
        runs = next_runs(rule.cadence, now, 2, policy.zone) if rule.cadence else []
        table.add_row(
            rule.ref,
            rule.action.value,
            f"{window.not_before:%Y-%m-%d}" if window and window.not_before else "-",
            f"{window.deadline:%Y-%m-%d}" if window and window.deadline else "-",
            ", ".join(f"{r:%Y-%m-%d %H:%M}" for r in runs) or "on demand",
        )
    console.print(table)


@user_errors
def demo() -> None:
    """Run the demo: the five controllers' promises, their windows and their next runs."""
    now = datetime.now().astimezone()
    policies = load_all(policies_dir())
    console.rule(f"[bold]{len(policies)} controllers, {sum(len(p.rules) for p in policies)} rules")
    for policy in policies:
        show_promises(policy, now)
