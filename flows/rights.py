"""Rights requests as flows: erase a subject, export a subject, and watch the answer deadlines.

`erase_subject` and `export_subject` take a request id and nothing else: Prefect stores flow parameters, so
the email never reaches its database. The identity is decrypted inside the run (hygiene.requests) and lives
in memory only; logs and the flow's return value hold counts, system names and request ids.

Each flow fans out to every system of the controller's policy (tasks.rights): systems a connector can search
by person are searched and acted on, the others are listed as work for a person. A controller that promises
an ID check first (Calmo K3) gets a pause form in the UI (`IdentityCheck`) unless the check was attested
already (`hygiene request verify-id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import SecretStr

from flows.artifacts import publish_ledger_head
from hygiene.delivery import seal_working_copy
from hygiene.errors import HygieneError
from hygiene.holds import HoldStore
from hygiene.ledger import EntryKind, Ledger
from hygiene.letters import export_document
from hygiene.locations import policies_dir
from hygiene.matching import email_address
from hygiene.policies import load_policy
from hygiene.policy import Policy
from hygiene.requests import (
    AWAITING_BY_HAND,
    IdentityCipher,
    IdentityNotVerified,
    Request,
    RequestKind,
    RequestStore,
    needs_identity_check,
)
from hygiene.rights import SystemAnswer, SystemStatus, totals
from hygiene.settings import Settings
from tasks.rights import Identity, erase_on_system, export_from_system, rights_context

#: how long a request waits in the UI for the ID check before the run stops (the request stays open)
IDENTITY_TIMEOUT = timedelta(days=7)
#: how often a paused run asks the server for the answer
POLL_SECONDS = 2
#: a request this many days or fewer from its deadline is warned about
WARN_DAYS = 7


class WrongKind(HygieneError):
    pass


class IdentityCheck(RunInput):
    """The form shown in the UI for Calmo's K3: a person checked a photo ID. The image is never stored."""

    id_checked: bool = False
    role: str = "owner"


@dataclass(frozen=True)
class RequestRun:
    """What every rights flow starts from: the open request, its policy, the stores and the key."""

    request: Request
    policy: Policy
    store: RequestStore
    ledger: Ledger
    key: SecretStr
    as_of: datetime

    def identity(self) -> Identity:
        """The requester's address, checked again (a request stored before addresses were validated may hold
        none), and the full name if the request gave one, for probable matches a person checks."""
        where = f"request {self.request.request_id}"
        return Identity(
            email_address(self.store.identity(self.request, self.key), where), self.store.name(self.request, self.key)
        )


def start(request_id: str, kinds: set[RequestKind]) -> RequestRun:
    """Load an open request of one of `kinds`, after its identity gate."""
    settings = Settings()
    ledger = Ledger.from_settings(settings)
    store = RequestStore(ledger)
    request = store.get_open(request_id)
    if request.kind not in kinds:
        wanted = " or ".join(sorted(kind.value for kind in kinds))
        raise WrongKind(f"request {request_id} is a {request.kind.value} request, not {wanted}")
    policy = load_policy(policies_dir(), request.controller)
    request = identity_gate(store, request, policy)
    now = datetime.now().astimezone(policy.zone)
    return RequestRun(request, policy, store, ledger, settings.key_for(policy.controller), now)


def identity_gate(store: RequestStore, request: Request, policy: Policy) -> Request:
    """Calmo K3: no data handed out or deleted before a person attests a photo-ID check, in the UI form."""
    if not needs_identity_check(policy) or request.identity_checked_at is not None:
        return request
    answer = pause_flow_run(
        wait_for_input=IdentityCheck.with_initial_data(
            description=f"**Identity check, request {request.request_id}.** Check the requester's photo ID "
            "against the request (do not keep the image), then tick and give your role."
        ),
        timeout=int(IDENTITY_TIMEOUT.total_seconds()),
        poll_interval=POLL_SECONDS,
        key=f"identity-{request.request_id}",
    )
    request = store.verify_identity(request.request_id, answer.role, checked=answer.id_checked)
    if not answer.id_checked:
        raise IdentityNotVerified(f"request {request.request_id}: the photo ID was not confirmed; nothing was done")
    return request


@flow(name="erase-subject", persist_result=False, log_prints=False)
def erase_subject(request_id: str) -> dict[str, Any]:
    """Erase one person from every system of the controller, except what the law keeps; then close."""
    run = start(request_id, {RequestKind.ERASURE})
    logger = get_run_logger()
    earlier = run.store.earlier_erasure(run.request)
    if earlier is not None and earlier.closed_at is not None:
        day = earlier.closed_at.date()
        run.store.close(request_id, "already_erased", {"already_erased_on": day.isoformat(), "systems": []})
        logger.info("request %s: the person was already erased on %s (request %s)", request_id, day, earlier.request_id)
        return result(run, "already_erased", [], already_erased_on=day)
    holds = HoldStore(run.ledger).active_for(run.policy.controller)
    subject_hold = holds.by_subject.get(run.request.subject)
    identity = run.identity()
    answers = [
        erase_on_system(
            rights_context(run.policy, system, run.key, request_id, run.as_of),
            identity,
            run.ledger,
            holds,
            subject_hold,
        )
        for system in run.policy.systems
    ]
    outcome = "held" if subject_hold else ("erased" if totals(answers)["found"] else "nothing_found")
    return finish(run, outcome, answers, held_reason=subject_hold)


@flow(name="export-subject", persist_result=False, log_prints=False)
def export_subject(request_id: str) -> dict[str, Any]:
    """Gather everything every system holds on one person into a sealed working copy, for delivery."""
    run = start(request_id, {RequestKind.ACCESS, RequestKind.PORTABILITY})
    identity = run.identity()
    answers, found = [], {}
    for system in run.policy.systems:
        ctx = rights_context(run.policy, system, run.key, request_id, run.as_of)
        answer, records = export_from_system(ctx, identity, run.ledger)
        answers.append(answer)
        if records:
            found[system] = records
    document = export_document(run.policy, request_id, found)
    cipher = IdentityCipher(run.policy.controller, run.key)
    seal_working_copy(cipher, request_id, {"export": document, "answers": [a.as_dict() for a in answers]})
    counts = totals(answers)
    run.store.record(run.request, "exported", {"systems": [a.as_dict() for a in answers], "totals": counts})
    get_run_logger().info(
        "request %s: %d record(s) gathered from %d system(s)", request_id, counts["found"], len(found)
    )
    return result(run, "exported", answers)


def finish(
    run: RequestRun, outcome: str, answers: list[SystemAnswer], held_reason: str | None = None
) -> dict[str, Any]:
    """Close the request (its identity deleted) unless a system could not be searched: then it stays open.

    An erasure with places only a person can search (a paper archive, Webnode's admin page) stays open too,
    until someone attests that part (`hygiene request attest`): closing it here would leave that work tracked
    by nobody. A person under a hold is erased nowhere, so nothing waits for a hand then.
    """
    counts = totals(answers)
    payload = {"systems": [a.as_dict() for a in answers], "totals": counts}
    closed = False
    if counts["unreachable"]:
        run.store.record(run.request, "incomplete", payload)
        outcome = "incomplete"
    elif counts["by_hand"] and run.request.kind is RequestKind.ERASURE and outcome != "held":
        run.store.record(run.request, AWAITING_BY_HAND, {**payload, "outcome": outcome})
    else:
        run.store.close(run.request.request_id, outcome, payload)
        closed = True
    get_run_logger().info("request %s: %s; %s", run.request.request_id, outcome, counts)
    return result(run, outcome, answers, held_reason=held_reason, closed=closed)


def result(
    run: RequestRun,
    outcome: str,
    answers: list[SystemAnswer],
    *,
    already_erased_on: date | None = None,
    held_reason: str | None = None,
    closed: bool = True,
) -> dict[str, Any]:
    """What the flow returns: counts, kinds and dates, never the person; the ledger head goes on the run's page."""
    publish_ledger_head(run.ledger)
    by_hand = [a.system for a in answers if a.status is SystemStatus.BY_HAND or a.by_hand]
    return {
        "request": run.request.request_id,
        "controller": run.policy.controller,
        "kind": run.request.kind.value,
        "outcome": outcome,
        "closed": closed and outcome not in ("incomplete", "exported"),
        "awaiting_by_hand": not closed and outcome != "incomplete",
        "totals": totals(answers),
        "systems": [a.as_dict() for a in answers],
        "by_hand": by_hand,
        "already_erased_on": already_erased_on,
        "held_reason": held_reason,
    }


@flow(name="watch-deadlines", persist_result=False, log_prints=False)
def watch_deadlines() -> dict[str, Any]:
    """Warn of requests near their deadline and mark overdue ones (a FINDING, once per request)."""
    store = RequestStore(Ledger.from_settings(Settings()))
    policies: dict[str, Policy] = {}
    warned, overdue = [], []
    for request in store.list_open():
        policy = policies.setdefault(request.controller, load_policy(policies_dir(), request.controller))
        left = request.days_left(datetime.now().astimezone(policy.zone).date())
        if left < 0:
            overdue.append(request.request_id)
            if not _marked_overdue(store, request):
                store.record(
                    request,
                    "overdue",
                    {"finding": "request_overdue", "deadline": request.due.isoformat()},
                    kind=EntryKind.FINDING,
                )
        elif left <= WARN_DAYS:
            warned.append(request.request_id)
    logger = get_run_logger()
    if warned or overdue:
        logger.warning(
            "rights requests: %d due within %d days %s, %d overdue %s",
            len(warned),
            WARN_DAYS,
            warned,
            len(overdue),
            overdue,
        )
    create_markdown_artifact(
        key="rights-request-deadlines",
        markdown=deadline_page(warned, overdue),
        description="rights requests near or past their deadline",
    )
    return {"warned": warned, "overdue": overdue}


def _marked_overdue(store: RequestStore, request: Request) -> bool:
    entries = store.ledger.entries(run_id=request.request_id, kinds={EntryKind.FINDING})
    return any(entry.payload.get("finding") == "request_overdue" for entry in entries)


def deadline_page(warned: list[str], overdue: list[str]) -> str:
    lines = [
        "# Rights requests: deadlines",
        "",
        f"Due within {WARN_DAYS} days: **{len(warned)}**; overdue: **{len(overdue)}**.",
        "",
    ]
    lines += [f"- overdue: `{request_id}`" for request_id in overdue]
    lines += [f"- due soon: `{request_id}`" for request_id in warned]
    return "\n".join(lines)
