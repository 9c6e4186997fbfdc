"""Prefect tasks of the rights path: search one system for one person, then erase or export what was found.

The person's email (and full name, if the request gave one) reaches a task only inside an `Identity`, whose
repr is masked, so neither a task's inputs, a log line nor a traceback can show it. Tasks persist nothing and
cache nothing.

A system is searched when its connector offers `SubjectSearch`; a system kept by hand (paper, the phone) or a
read-only one (Webnode's admin page) gets a FINDING that a person must search, delete and attest, and the
reply lists it. Erasure honours GDPR Art. 17(3): legal holds ((e), hygiene.holds) and the bookkeeping duty
((b), hygiene.rights); the rest goes through the enforcement path's permanent deletion
(`hygiene.enforcement.act_on_batch`: intent, delete, re-read, outcome), and the erased subject joins the
suppression list so it cannot come back by an import.

Where a connector can read text for a name (`NameSearch`), a record that names the person but matched none of
their identifiers is a probable match: it is neither deleted nor exported, but recorded as a FINDING (the
record's pseudonym, its masked reference) and listed in the answer as a by-hand item, so an erasure waits for
`hygiene request attest` and the letter says that place is searched by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from hygiene.connector import Connector, ConnectorError, NameSearch, Record, SubjectSearch
from hygiene.enforcement import RunContext, act_on_batch, batches, holds_apply
from hygiene.errors import HygieneError
from hygiene.holds import HoldIndex
from hygiene.ledger import EntryKind, Ledger
from hygiene.planner import Decision, Planned
from hygiene.policy import Action, Policy, Rule, SystemKind
from hygiene.rights import Disposition, SystemAnswer, SystemStatus, verdict_for
from hygiene.suppression import SuppressionList
from integrations.registry import connector_for

#: what a FINDING says of a system nobody can search by machine
BY_HAND = "manual system: a person must search and attest"
#: what a FINDING and the answer say of a record that names the person without their identifier
PROBABLE = "names the person but holds none of their identifiers: a person must check it"


@dataclass(frozen=True, slots=True)
class Identity:
    """The requester's email and full name (if given), in memory only; `repr` never shows them."""

    email: str = field(repr=False)
    name: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return "Identity(<in memory only>)"


def rights_rule(policy: Policy) -> Rule:
    """The rule a request's evidence cites (C6, S7, B7, E1; Calmo's K3), as a deleting rule for the intents."""
    for action in (Action.ANSWER_REQUEST, Action.VERIFY_IDENTITY):
        rule = next((r for r in policy.rules if r.action is action), None)
        if rule is not None:
            return rule.model_copy(update={"action": Action.DELETE})
    raise HygieneError(f"{policy.controller}: the policy has no rule for rights requests (action answer_request)")


def rights_context(policy: Policy, system: str, key: SecretStr, request_id: str, as_of: datetime) -> RunContext:
    """A run context whose entries carry the request id as their run id, so one request reads as one run."""
    return RunContext(
        policy=policy, rule=rights_rule(policy), system=system, as_of=as_of, dry_run=False, key=key, run_id=request_id
    )


def searchable(ctx: RunContext, ledger: Ledger) -> tuple[Connector | None, SystemAnswer | None]:
    """The system's connector when it can be searched by person; otherwise the answer that says why not."""
    if ctx.policy.systems[ctx.system].kind is SystemKind.MANUAL:
        return None, by_hand(ctx, ledger)
    try:
        connector = connector_for(ctx.policy, ctx.system)
    except ConnectorError as error:
        return None, unreachable(ctx, ledger, str(error))
    if not isinstance(connector, SubjectSearch):
        return None, by_hand(ctx, ledger)
    return connector, None


def by_hand(ctx: RunContext, ledger: Ledger, count: int | None = None) -> SystemAnswer:
    payload: dict[str, Any] = {"finding": "manual_system", "detail": BY_HAND}
    if count is not None:
        payload["records"] = count
    ledger.append([ctx.draft(EntryKind.FINDING, payload)])
    return SystemAnswer(ctx.system, SystemStatus.BY_HAND, found=count or 0, by_hand=count or 0, note=BY_HAND)


def probable_matches(
    ctx: RunContext, connector: Connector, identity: Identity, exact: set[str], ledger: Ledger
) -> list[str]:
    """Masked references of the records naming the person that no identifier matched, each a FINDING."""
    if identity.name is None or not isinstance(connector, NameSearch):
        return []
    found = [(rid, masked) for rid, masked in connector.mentions_of(identity.name) if rid not in exact]
    # the record by its pseudonym; no subject: a name is not proof of whose record it is
    drafts = [
        ctx.draft_about(
            EntryKind.FINDING,
            {"system": ctx.system, "finding": "probable_match", "where": masked, "detail": PROBABLE},
            subject=None,
            record=ctx.record_pseudonym(Record(rid, rid, None)),
        )
        for rid, masked in found
    ]
    if drafts:
        ledger.append(drafts)
    return [masked for _, masked in found]


def _with_probable(answer: SystemAnswer, probable: list[str]) -> SystemAnswer:
    if probable:
        answer.probable = probable
        answer.by_hand += len(probable)
        answer.note = PROBABLE if answer.note is None else f"{answer.note}; {len(probable)} {PROBABLE}"
    return answer


def unreachable(ctx: RunContext, ledger: Ledger, reason: str) -> SystemAnswer:
    ledger.append([ctx.draft(EntryKind.FINDING, {"finding": "system_unreachable", "detail": reason})])
    return SystemAnswer(ctx.system, SystemStatus.UNREACHABLE, note=reason)


@task(name="erase on system", persist_result=False, cache_policy=NO_CACHE)
def erase_on_system(
    ctx: RunContext, identity: Identity, ledger: Ledger, holds: HoldIndex, subject_hold: str | None
) -> SystemAnswer:
    """Find the person, keep what Art. 17(3) keeps (with the reason and until when), delete the rest for good."""
    connector, answer = searchable(ctx, ledger)
    if connector is None:
        assert answer is not None
        return answer
    try:
        return _erase(ctx, connector, identity, ledger, holds, subject_hold)
    except ConnectorError as error:
        return unreachable(ctx, ledger, str(error))


def _erase(
    ctx: RunContext,
    connector: Connector,
    identity: Identity,
    ledger: Ledger,
    holds: HoldIndex,
    subject_hold: str | None,
) -> SystemAnswer:
    assert isinstance(connector, SubjectSearch)
    records = list(connector.records_of(identity.email))
    probable = probable_matches(ctx, connector, identity, {record.record_id for record in records}, ledger)

    def hold_reason(record: Record) -> str | None:
        if subject_hold is not None:
            return subject_hold
        if not holds_apply(ctx.policy, ctx.system):
            return None
        return holds.reason_for(subject=ctx.subject_pseudonym(record), record=ctx.record_pseudonym(record))

    answer = SystemAnswer(ctx.system, SystemStatus.SEARCHED, found=len(records))
    erasable = []
    for record in records:
        verdict = verdict_for(ctx.policy, ctx.system, record, ctx.as_of, hold_reason)
        if verdict.disposition is Disposition.ERASE:
            erasable.append(Planned(record, Decision.DUE))
            continue
        answer.keep(verdict)
        until = None if verdict.until is None else verdict.until.isoformat()
        payload: dict[str, object] = {
            "decision": "held",
            "reason": verdict.disposition.value,
            "until": until,
            "rule": verdict.rule_ref,
        }
        ledger.append([ctx.draft(EntryKind.DECISION, payload, record)])
    if erasable and not (connector.capabilities.permanent_delete and connector.capabilities.batch_size > 0):
        # read-only systems (Webnode's admin page): a person deletes, the next export verifies
        manual = by_hand(ctx, ledger, len(erasable))
        answer.by_hand, answer.note = manual.by_hand, manual.note
        return _with_probable(answer, probable)
    suppression = SuppressionList(ledger.url)
    for batch in batches(erasable, connector.capabilities.batch_size):
        result = act_on_batch(ctx, connector, ledger, batch)
        answer.deleted += result.deleted
        answer.failed += result.failed + result.still_present
        suppression.add(ctx.controller, ctx.system, result.erased, ctx.rule.ref)
    return _with_probable(answer, probable)


@task(name="export from system", persist_result=False, cache_policy=NO_CACHE)
def export_from_system(
    ctx: RunContext, identity: Identity, ledger: Ledger
) -> tuple[SystemAnswer, list[Mapping[str, object]]]:
    """Everything the system holds on the person, field by field; the counts go to the answer."""
    connector, answer = searchable(ctx, ledger)
    if connector is None:
        assert answer is not None
        return answer, []
    assert isinstance(connector, SubjectSearch)
    try:
        ids = [record.record_id for record in connector.records_of(identity.email)]
        found = list(connector.export(ids)) if ids else []
        probable = probable_matches(ctx, connector, identity, set(ids), ledger)
    except ConnectorError as error:
        return unreachable(ctx, ledger, str(error)), []
    return _with_probable(SystemAnswer(ctx.system, SystemStatus.SEARCHED, found=len(found)), probable), found


def affected_subjects(policy: Policy, systems: list[str]) -> dict[str, set[str]]:
    """For a breach: every subject each system holds, streamed once (the values stay in memory)."""
    affected: dict[str, set[str]] = {}
    for system in systems:
        if system not in policy.systems:
            known = ", ".join(policy.systems)
            raise HygieneError(f"--systems: {policy.controller} has no system {system!r}: known are {known}")
        if policy.systems[system].kind is SystemKind.MANUAL:
            raise HygieneError(
                f"--systems: {system} is kept by hand; list the people it holds by hand and leave it out here"
            )
        selection, trigger = _stream_of(policy, system)
        connector = connector_for(policy, system)
        affected[system] = {record.subject for record in connector.records(selection, trigger)}
    return affected


def _stream_of(policy: Policy, system: str) -> tuple[dict[str, str], str]:
    """How to list what a system holds: a CRM or an audience whole; other systems as a rule reads them
    (Gmail by its customer folders, a sheet by its date column), since they have no "everything" listing."""
    if policy.systems[system].kind in (SystemKind.MAILCHIMP, SystemKind.HUBSPOT):
        return {}, ""
    rule = next((r for r in policy.rules if system in r.covers.systems and r.trigger is not None), None)
    if rule is None or rule.trigger is None:
        return {}, "date"
    return dict(rule.covers.selection), rule.trigger.event
