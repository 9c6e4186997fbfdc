"""What a run's page in the Prefect UI shows beside its Markdown report: progress and the evidence report's link.

Artifacts live in Prefect's database, so they carry counts and names only, never a record.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from prefect.artifacts import create_link_artifact, create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext

from hygiene.policy import Policy
from hygiene.report import Quarter, report_dir
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


def link_evidence_report(policy: Policy, settings: Settings) -> None:
    """Link the run to the evidence report of the quarter its entries fall in, the document an auditor is given."""
    controller, quarter = policy.controller, Quarter.of(datetime.now(policy.zone))
    path = (report_dir(settings.reports_dir, controller, quarter) / "report.html").resolve()
    create_link_artifact(
        key=f"{controller}-evidence-report".replace("_", "-"),
        link=path.as_uri(),
        link_text=f"Evidence report {controller} {quarter}",
        description=f"written by `hygiene report --controller {controller} --quarter {quarter}`",
    )


def scheduled_for() -> datetime | None:
    """When a deployment's schedule meant this run to start, or None when a person or a script started it."""
    context = FlowRunContext.get()
    run = None if context is None else context.flow_run
    if run is None or not run.auto_scheduled or run.expected_start_time is None:
        return None
    return run.expected_start_time
