"""What a run's page in the Prefect UI shows beside its Markdown report: progress, the ledger head after the
run, and the evidence report's link.

Artifacts live in Prefect's database, so they carry counts and names only, never a record.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext

from hygiene.ledger import Ledger
from hygiene.ledger_head import recorded_heads
from hygiene.policy import Policy
from hygiene.report import Quarter, report_dir, write_report
from hygiene.settings import Settings


class BatchProgress:
    """A progress bar on the run's page for runs long enough to watch: those that act in more than one batch."""

    def __init__(self, total: int, batch_size: int, description: str) -> None:
        self.total, self.done, self.description = total, 0, description
        self.artifact: UUID | None = None
        if total > batch_size:
            created = create_progress_artifact(progress=0.0, description=f"{description}: 0 of {total}")
            assert isinstance(created, UUID), "called from a synchronous flow"
            self.artifact = created

    def advance(self, count: int) -> None:
        self.done += count
        if self.artifact is not None:
            update_progress_artifact(
                self.artifact,
                progress=100.0 * self.done / self.total,
                description=f"{self.description}: {self.done} of {self.total}",
            )


def publish_ledger_head(ledger: Ledger) -> None:
    """The ledger head after this run's entries, on the run's page: an anchor outside the evidence database, so a
    later `hygiene ledger verify --head` proves the ledger still holds what this run wrote."""
    head = ledger.head()
    create_markdown_artifact(
        key="ledger-head",
        markdown=f"# Evidence ledger head\n\n{head.line()}\n",
        description=f"ledger head after this run: entry {head.seq}",
    )


def link_evidence_report(policy: Policy, settings: Settings, ledger: Ledger) -> Path | None:
    """Write the evidence report of the quarter the run's entries fall in (the document an auditor is given),
    with this run in it, into the configured reports folder, and link the run's page to it: a link to a file
    that was never written, or that lies wherever the worker happened to start, shows the auditor nothing."""
    now = datetime.now(policy.zone)
    controller, quarter = policy.controller, Quarter.of(now)
    try:
        target = report_dir(settings.reports_dir, controller, quarter)
        page = write_report(policy, quarter, ledger, target, now, recorded_heads(settings.reports_dir))
    except OSError as exc:  # the run's work is done and recorded; only its link is lost, and the log says why
        get_run_logger().warning("evidence report not written (%s: %s); no link", type(exc).__name__, exc.strerror)
        return None
    create_link_artifact(
        key=f"{controller}-evidence-report".replace("_", "-"),
        link=page.as_uri(),
        link_text=f"Evidence report {controller} {quarter}",
        description=f"written at this run's end; `hygiene report --controller {controller} --quarter {quarter}` "
        "writes it again",
    )
    return page


def scheduled_for() -> datetime | None:
    """When a deployment's schedule meant this run to start, or None when a person or a script started it."""
    context = FlowRunContext.get()
    run = None if context is None else context.flow_run
    if run is None or not run.auto_scheduled or run.expected_start_time is None:
        return None
    return run.expected_start_time


def created_through_api() -> bool:
    """True when this run was created through the Prefect API (a deployment, the UI, a script), not by this process.

    A run of a deployment, or one a runner executes by id, was asked for by whoever could reach the API; a flow
    called in this process (`hygiene run`) was started by the person at this machine.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return False
    run = context.flow_run
    return run.deployment_id is not None or os.environ.get("PREFECT__FLOW_RUN_ID") == str(run.id)
