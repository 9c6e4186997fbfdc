"""The attest flow: what is due by hand, asked of a person in the Prefect UI, answered into the evidence.

For each system a rule covers: compute the checklist (hygiene.checklist, tasks.attestation), record it (one
DECISION per item), show it as an artifact, and pause for a run-input form with a checkbox per item, the
attester's name and role, and an optional note. The answer becomes one ATTESTATION per item; the name only as
its keyed pseudonym, and the answer itself is then deleted from Prefect's database, in that order: a run that
dies after the answer came leaves it in Prefect, and the next run of the rule records it under the run that
asked and closes that run (hygiene.answers) before it builds its own checklist.

Reminders: the pause waits until the rule's next scheduled run. Unanswered by then, the run writes a reminder
FINDING (and an OVERDUE decision for each item whose deadline passed meanwhile) and ends; Prefect marks it
"never resumed". The next scheduled run of the deployment computes the checklist again and asks again: items
not attested are still on it, now OVERDUE once their deadline has passed.

Webnode (S1): a later export proves the deletion. `verify_export` compares the attested submissions with an
export by record pseudonym: VERIFICATION for each one gone, a FINDING for each one still there (due again). The
monthly `attest` run does the same first, whenever the configured export is newer than the one last listed.

`demo_answer=True` (for `make demo`) answers the form through Prefect's API as soon as the run pauses: it
ticks every item as done, by the attester "demo" in the role "demo".
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout, ObjectNotFound
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.input.actions import delete_flow_run_input, read_flow_run_input
from pydantic import ConfigDict, Field, create_model

from hygiene.answers import record_answer, recover_interrupted
from hygiene.cadence import next_runs
from hygiene.checklist import (
    Checklist,
    checklist_drafts,
    instruction,
    overdue_drafts,
    reminder_draft,
    render_checklist,
    render_verification,
)
from hygiene.enforcement import RunContext, start_run
from hygiene.errors import HygieneError
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import rule_for_flow
from hygiene.policy import Action, Policy, Rule
from hygiene.settings import Settings
from tasks.attestation import build_checklist, export_connector, has_later_export, verify_against_export

#: how often a paused run looks for an answer
POLL_SECONDS = 10
#: how long a checklist of a rule without a schedule waits for its answer
UNSCHEDULED_WAIT = timedelta(days=7)
#: the attester and role of the answers `demo_answer` gives
DEMO = "demo"
_DEMO_WAIT_SECONDS = 120.0
#: the outcome of a dry run's checklist: recorded and shown, asked of nobody
DRY_RUN_OUTCOME = "dry run: not asked"


class NothingToVerify(HygieneError):
    pass


class AttestationForm(RunInput):
    """The fixed part of every attestation form; the checkboxes are added per checklist (`form_for`).

    Extra fields are accepted by the form so that an answer naming items of another checklist reaches the
    flow, which refuses it with one clear line instead of Prefect's schema error.
    """

    model_config = ConfigDict(extra="allow")

    attester_name: str = Field("", title="Your name", description="Kept only as a keyed pseudonym.")
    attester_role: str = Field("owner", title="Your role", description="e.g. owner, employee, accountant")
    note: str = Field("", title="Note (optional)", description="No names, emails, phone numbers or message texts.")


def form_for(checklist: Checklist, description: str) -> type[AttestationForm]:
    """A form with one checkbox per item, named by its masked reference (`item_4f2a9c`)."""
    boxes: dict[str, Any] = {
        item.field: (bool, Field(False, title=f"{item.dated} · {item.masked} · {item.kind}"))
        for item in checklist.items
    }
    model = create_model("Attestation", __base__=AttestationForm, **boxes)
    return model.with_initial_data(description=description)


@flow(name="attest", persist_result=False, log_prints=False)
def attest(
    controller: str,
    rule_ref: str,
    as_of: datetime | None = None,
    demo_answer: bool = False,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Ask a person to do and attest what a hand-kept rule makes due; parameters carry no personal data.

    A dry run (`hygiene preflight`) builds, records and shows the checklist but asks nobody: it completes at once
    instead of pausing until the next scheduled run.
    """
    policy, rule = _attested_rule(controller, rule_ref)
    settings = Settings()
    ledger = Ledger.from_settings(settings)
    moment = as_of or datetime.now().astimezone(policy.zone)
    return [
        attest_on_system(_context(policy, rule, system, settings, moment, dry_run), ledger, demo_answer)
        for system in rule.covers.systems
    ]


@flow(name="verify-export", persist_result=False, log_prints=False)
def verify_export(controller: str, rule_ref: str, export_path: str | None = None) -> list[dict[str, Any]]:
    """Check attested deletions against a later export (the given file, or the system's configured export)."""
    policy, rule = _attested_rule(controller, rule_ref)
    settings = Settings()
    ledger = Ledger.from_settings(settings)
    moment = datetime.now().astimezone(policy.zone)
    results = []
    for system in rule.covers.systems:
        ctx = _context(policy, rule, system, settings, moment, dry_run=False)
        connector = export_connector(ctx, Path(export_path) if export_path else None)
        if connector is not None:
            start_run(ctx, ledger)
            result = verify_against_export(ctx, ledger, connector)
            _finish(ctx, ledger, {"verified": result.verified, "still_present": len(result.still_present)})
            _publish(ctx, "verification", render_verification(ctx, result))
            results.append(
                {
                    "system": system,
                    "run_id": ctx.run_id,
                    "verified": result.verified,
                    "still_present": len(result.still_present),
                }
            )
    if not results:
        raise NothingToVerify(f"{controller}: rule {rule.ref} covers no system with an export to verify against")
    return results


def attest_on_system(ctx: RunContext, ledger: Ledger, demo_answer: bool) -> dict[str, Any]:
    logger = get_run_logger()
    start_run(ctx, ledger)
    recorded_late = recover_interrupted(ctx, ledger, PrefectInbox(ctx.system))
    if recorded_late:
        logger.info(
            "%s %s on %s: recorded %d answer(s) an interrupted run received",
            ctx.controller,
            ctx.rule.ref,
            ctx.system,
            recorded_late,
        )
    connector = export_connector(ctx, None)
    if connector is not None and has_later_export(ctx, ledger, connector):
        verify_against_export(ctx, ledger, connector)
    checklist = build_checklist(ctx, ledger)
    ledger.append(checklist_drafts(ctx, checklist))
    page = render_checklist(checklist, ctx.rule.title, instruction(ctx))
    _publish(ctx, "checklist", page)
    logger.info(
        "%s %s on %s: %d item(s) to attest, %d overdue",
        ctx.controller,
        ctx.rule.ref,
        ctx.system,
        len(checklist.items),
        len(checklist.overdue),
    )
    if not checklist.items:
        outcome = "nothing due"
    elif ctx.dry_run:
        outcome = DRY_RUN_OUTCOME
    else:
        outcome = ask_and_record(ctx, ledger, checklist, page, demo_answer)
    _finish(ctx, ledger, {"items": len(checklist.items), "outcome": outcome})
    return {
        "controller": ctx.controller,
        "rule": ctx.rule.ref,
        "system": ctx.system,
        "run_id": ctx.run_id,
        "items": len(checklist.items),
        "overdue": len(checklist.overdue),
        "settled": checklist.settled,
        "outcome": outcome,
        "ledger_range": list(ledger.range_of(ctx.run_id) or ()),
    }


def ask_and_record(ctx: RunContext, ledger: Ledger, checklist: Checklist, page: str, demo_answer: bool) -> str:
    """Pause for the form until the next scheduled run; record the answer, or a reminder when none came."""
    form = form_for(checklist, page)
    wait = reminder_wait(ctx.rule, ctx.policy)
    if demo_answer:
        _answer_for_demo(checklist)
    try:
        response = pause_flow_run(
            wait_for_input=form,
            timeout=max(int(wait.total_seconds()), 1),
            poll_interval=1 if demo_answer else POLL_SECONDS,
            key=pause_key(ctx.system),
        )
    except FlowPauseTimeout:
        return _remind(ctx, ledger, checklist, wait)
    drafts = record_answer(ctx, ledger, checklist, response.model_dump(), PrefectInbox(ctx.system))
    done = sum(1 for draft in drafts if draft.payload["done"])
    get_run_logger().info("%s %s: attested %d of %d item(s) as done", ctx.controller, ctx.rule.ref, done, len(drafts))
    return "attested"


def reminder_wait(rule: Rule, policy: Policy) -> timedelta:
    """Until the rule's next scheduled run, when the deployment asks again; a week for an unscheduled rule."""
    now = datetime.now().astimezone(policy.zone)
    if rule.cadence is None:
        return UNSCHEDULED_WAIT
    return max(next_runs(rule.cadence, now, 1, policy.zone)[0] - now, timedelta(minutes=1))


def _remind(ctx: RunContext, ledger: Ledger, checklist: Checklist, wait: timedelta) -> str:
    now = datetime.now().astimezone(ctx.policy.zone)
    overdue = overdue_drafts(ctx, checklist, now)
    ledger.append([reminder_draft(ctx, checklist, now), *overdue])
    get_run_logger().warning(
        "%s %s on %s: checklist %s unanswered after %s; %d item(s) now overdue; the next scheduled run asks again",
        ctx.controller,
        ctx.rule.ref,
        ctx.system,
        ctx.run_id,
        wait,
        len(overdue) + len(checklist.overdue),
    )
    _publish(
        ctx,
        "reminder",
        f"# {ctx.controller} {ctx.rule.ref}: checklist unanswered\n\n"
        f"{len(checklist.items)} item(s) were not attested; {len(overdue)} passed their "
        "deadline while waiting. The next scheduled run asks again.",
    )
    return "unanswered"


def pause_key(system: str) -> str:
    return f"attest-{system}".replace("_", "-")


@dataclass(frozen=True)
class PrefectInbox:
    """The answers of attest runs as Prefect keeps them: the input of the run that paused, under its pause key.

    An answer holds the attester's name, so it is deleted from Prefect's database once it is on record.
    """

    system: str

    @property
    def key(self) -> str:
        return f"paused-{pause_key(self.system)}-response"

    def has_ended(self, flow_run: str) -> bool:
        """Final (completed, failed, cancelled, crashed) or gone; a run still paused or running closes itself."""
        with get_client(sync_client=True) as client:
            try:
                state = client.read_flow_run(UUID(flow_run)).state
            except ObjectNotFound:
                return True
        return state is None or state.is_final()

    def left_answer(self, flow_run: str) -> dict[str, Any] | None:
        value = read_flow_run_input(self.key, flow_run_id=UUID(flow_run))
        return value if isinstance(value, dict) else None

    def forget(self, flow_run: str) -> None:
        with contextlib.suppress(ObjectNotFound):
            delete_flow_run_input(key=self.key, flow_run_id=UUID(flow_run))


def _answer_for_demo(checklist: Checklist) -> None:
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    answer: dict[str, Any] = {item.field: True for item in checklist.items}
    answer |= {"attester_name": DEMO, "attester_role": DEMO, "note": "answered by the demo"}
    threading.Thread(target=answer_when_paused, args=(context.flow_run.id, answer), daemon=True).start()


def answer_when_paused(flow_run_id: UUID, run_input: dict[str, Any], limit: float = _DEMO_WAIT_SECONDS) -> None:
    """Resume `flow_run_id` with `run_input` once it is paused, as a person would from the UI."""
    give_up = time.monotonic() + limit
    with get_client(sync_client=True) as client:
        while time.monotonic() < give_up:
            state = client.read_flow_run(flow_run_id).state
            if state is not None and state.is_paused():
                resume_flow_run(flow_run_id, run_input=run_input)
                return
            time.sleep(0.2)


def _attested_rule(controller: str, rule_ref: str) -> tuple[Policy, Rule]:
    return rule_for_flow(policies_dir(), controller, rule_ref, {Action.ATTEST, Action.FLAG_FOR_REVIEW}, "attest")


def _context(policy: Policy, rule: Rule, system: str, settings: Settings, as_of: datetime, dry_run: bool) -> RunContext:
    context = FlowRunContext.get()
    return RunContext(
        policy=policy,
        rule=rule,
        system=system,
        as_of=as_of,
        dry_run=dry_run,
        key=settings.key_for(policy.controller),
        flow_run=None if context is None or context.flow_run is None else context.flow_run.id.hex,
    )


def _finish(ctx: RunContext, ledger: Ledger, payload: dict[str, Any]) -> None:
    ledger.append([ctx.draft(EntryKind.RUN_FINISHED, payload)])


def _publish(ctx: RunContext, what: str, markdown: str) -> None:
    key = f"{ctx.controller}-{ctx.rule.ref}-{ctx.system}-{what}".lower().replace("_", "-")
    create_markdown_artifact(key=key, markdown=markdown, description=f"{ctx.controller} {ctx.rule.ref} {what}")
