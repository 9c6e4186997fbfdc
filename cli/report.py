"""`hygiene report`: a controller's quarterly evidence report for an auditor, as report.html and report.md."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from cli.output import console, user_errors
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.report import Quarter, report_dir, write_report
from hygiene.settings import Settings


@user_errors
def report(
    controller: str = typer.Option(..., "--controller", help="The controller, e.g. calmo."),
    quarter: str = typer.Option(..., "--quarter", help="The quarter, e.g. 2026Q4."),
    out: str | None = typer.Option(None, "--out", help="Directory to write into (default: HYGIENE_REPORTS_DIR)."),
) -> None:
    """Write the evidence report of one controller and quarter: rules, runs, overdue, holds, attestations."""
    policy = load_policy(policies_dir(), controller)
    period = Quarter.parse(quarter)
    settings = Settings()
    target = Path(out) if out else report_dir(settings.reports_dir, policy.controller, period)
    write_report(policy, period, Ledger.from_settings(settings), target, datetime.now().astimezone())
    console.print(f"wrote {target / 'report.html'} and {target / 'report.md'}")
