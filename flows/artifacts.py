"""What a run's page in the Prefect UI shows beside its Markdown report: progress and the evidence report's link.

Artifacts live in Prefect's database, so they carry counts and names only, never a record.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_link_artifact, create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext

from hygiene.ledger import Ledger
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


def link_evidence_report(policy: Policy, settings: Settings, ledger: Ledger) -> Path | None:
    """Write the evidence report of the quarter the run's entries fall in (the document an auditor is given),
    with this run in it, into the configured reports folder, and link the run's page to it: a link to a file
    that was never written, or that lies wherever the worker happened to start, shows the auditor nothing."""
    now = datetime.now(policy.zone)
    controller, quarter = policy.controller, Quarter.of(now)
    try:
        page = write_report(policy, quarter, ledger, report_dir(settings.reports_dir, controller, quarter), now)
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


def started_by_schedule() -> bool:
    """True when a deployment's schedule created this run, not a person or a script."""
    context = FlowRunContext.get()
    return context is not None and context.flow_run is not None and context.flow_run.auto_scheduled


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
