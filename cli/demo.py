"""`hygiene demo`: what `make demo` runs on the embedded default, in a scratch folder `.demo/`.

Everything the demo touches is synthetic and recreated on each run (so it runs twice in a row): seeded systems
under `.demo/`, its own ledger, demo-only pseudonym keys, and Prefect's temporary local server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.table import Table

from cli.output import console, user_errors
from hygiene.cadence import next_runs
from hygiene.errors import HygieneError
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_all
from hygiene.policy import Policy
from hygiene.settings import Settings
from hygiene.windows import window_for
from sandbox.seed_files import calmo_folder

WORKSPACE = Path(".demo")
CONTROLLERS = ("clienti", "stressfri", "calmo", "balance", "balansekonomi")


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


def prepare_workspace() -> Path:
    """A fresh `.demo/` with its own ledger and demo-only keys; real keys in the environment are left alone."""
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.mkdir()
    os.environ["HYGIENE_DATABASE_URL"] = f"sqlite:///{WORKSPACE.resolve()}/hygiene.db"
    for controller in CONTROLLERS:
        os.environ.setdefault(f"HYGIENE_KEY_{controller.upper()}", f"demo-only-key-{controller}-not-secret")
    return WORKSPACE.resolve()


def seed_calmo(workspace: Path, now: datetime) -> None:
    drive = calmo_folder(workspace / "calmo-drive", seed=2026, now=now, invoices=60, logbooks=16)
    os.environ["HYGIENE_CALMO_INVOICES"] = str(drive.root / "fakturaer")
    os.environ["HYGIENE_CALMO_LOGBOOKS"] = str(drive.root / "klientlogboeger")


def run_rules(rules: list[tuple[str, str]], now: datetime) -> list[dict[str, Any]]:
    """Each automated rule once as a dry run (what would happen), then for real."""
    from flows.enforce import enforce_rule

    results: list[dict[str, Any]] = []
    for dry_run in (True, False):
        console.rule("[bold]dry run: what would happen" if dry_run else "[bold]for real")
        for controller, ref in rules:
            results += enforce_rule(
                controller, ref, dry_run=dry_run, as_of=now, approved=True, pause_for_approval=False
            )
    return results


def summary_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="what the demo did (real runs)")
    for column in ("controller", "rule", "system", "kept", "deleted", "overdue", "held", "failed"):
        table.add_column(column)
    for r in results:
        if not r["dry_run"]:
            table.add_row(
                r["controller"],
                r["rule"],
                r["system"],
                str(r["counts"]["keep"]),
                str(r["deleted"]),
                str(r["overdue"]),
                str(r["counts"]["held"]),
                str(r["failed"]),
            )
    return table


def step(title: str, action: Callable[[], Any]) -> Any:
    console.rule(f"[bold cyan]{title}")
    return action()


@user_errors
def demo() -> None:
    """Run the demo: the five controllers' promises, then Calmo's folder rules through Prefect, with evidence."""
    now = datetime.now().astimezone()
    policies = load_all(policies_dir())
    console.rule(f"[bold]{len(policies)} controllers, {sum(len(p.rules) for p in policies)} rules")
    for policy in policies:
        show_promises(policy, now)
    workspace = step("preparing .demo/ (synthetic data, demo-only keys)", prepare_workspace)
    step("seeding Calmo's external drive: invoices and client logbooks", lambda: seed_calmo(workspace, now))
    results = step(
        "running Calmo K1 and K2 through Prefect", lambda: run_rules([("calmo", "K1"), ("calmo", "K2")], now)
    )
    console.print(summary_table(results))
    report = Ledger.from_settings(Settings()).verify()
    if not report.ok:
        raise HygieneError(f"chain broken at entry {report.broken_at}: {report.reason}")
    console.print(f"chain verified: {report.count} entries")
