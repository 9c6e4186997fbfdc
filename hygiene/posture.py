"""The owner's view: every promise of one controller, kept or not, at a glance.

An owner does not read flow-run logs; they want one row per promise saying whether it is kept, and if not, what
to do: a promise that is *overdue* broke for some records, one *waiting for a person* needs a checklist answered,
an approval given or flagged records looked at, one *failing* ran before and now stops or crashes, one *not set
up* has never once run through (a system not connected, a register not named), and a rule with *no period
promised* has nothing to keep on a clock.

The state is computed each time from the evidence ledger and from what the orchestrator says about its runs,
never from a cache that could drift. The orchestrator matters only where the ledger cannot tell: a run that died
before it wrote `run_finished` (or before it wrote anything), and a run paused for a person. The flow layer reads
those runs from Prefect and passes them in as `OrchestratedRun`s, so this module stays free of Prefect.

Below the rules come the clocks that run outside any schedule: open rights requests with their days left,
running breach clocks, and active holds, as counts. Nothing here names a person: requests and breaches by their
random ids, holds only counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

from hygiene.answers import INTERRUPTED
from hygiene.breach import Recipient, promises_subject_notice
from hygiene.cadence import iterate_runs
from hygiene.ledger import Entry, EntryKind, Ledger
from hygiene.ledger_schema import parse_utc
from hygiene.planner import Decision
from hygiene.policy import Action, Policy, Rule
from hygiene.runs import RUN_KINDS, RunRecord, runs_from

#: the entry kinds the posture reads
POSTURE_KINDS = frozenset(
    {*RUN_KINDS, EntryKind.DECISION, EntryKind.ATTESTATION, EntryKind.REQUEST, EntryKind.HOLD}
    | {EntryKind.FINDING, EntryKind.DELIVERY}
)
#: the entries that record a checklist and its answer
CHECKLIST_KINDS = frozenset({EntryKind.DECISION, EntryKind.ATTESTATION})
#: a quote is shortened to this many characters in the rows
QUOTE_CHARS = 120
#: the end of the stop reason `flows.enforce` records when a run above its safety limit was not approved
NOT_APPROVED = "not approved"
WAITING_FOR_ANSWER = "waiting for an answer"


class State(StrEnum):
    KEPT = "kept"
    OVERDUE = "overdue"
    WAITING = "waiting for a person"
    FAILING = "failing"
    NOT_SET_UP = "not set up"
    NO_PERIOD = "no period promised"


class _Severity(IntEnum):
    """How a rule's systems combine: the worst of them is the rule's state."""

    KEPT = 0
    WAITING = 1
    OVERDUE = 2
    FAILING = 3


class RunState(StrEnum):
    """What the orchestrator says of a run, in the few words the posture needs."""

    COMPLETED = "completed"
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OrchestratedRun:
    """A flow run of one rule as the orchestrator knows it; parameters are names and flags only."""

    flow_run_id: str
    rule_ref: str
    state: RunState
    started_at: datetime | None
    ended_at: datetime | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class RulePosture:
    ref: str
    title: str
    quote: str
    state: State
    overdue: int = 0
    last_run: datetime | None = None
    outcome: str = "-"
    next_run: datetime | None = None
    #: days the oldest overdue record (or checklist item) is past its deadline
    oldest_overdue_days: int | None = None
    link: str | None = None

    @property
    def state_text(self) -> str:
        return f"overdue {self.overdue}" if self.state is State.OVERDUE else self.state.value


@dataclass(frozen=True)
class OpenRequest:
    request_id: str
    kind: str
    deadline: date
    days_left: int


@dataclass(frozen=True)
class BreachClock:
    breach_id: str
    recipient: str
    due: datetime
    hours_left: int


@dataclass(frozen=True)
class Posture:
    controller: str
    name: str
    as_of: datetime
    rules: list[RulePosture]
    requests: list[OpenRequest] = field(default_factory=list)
    breaches: list[BreachClock] = field(default_factory=list)
    holds_on_subjects: int = 0
    holds_on_records: int = 0


def compute_posture(
    policy: Policy,
    entries: Iterable[Entry],
    orchestrated: Sequence[OrchestratedRun],
    now: datetime,
    ui_url: str | None = None,
) -> Posture:
    """The posture of `policy`'s controller at `now` from its ledger entries (chain order) and its flow runs."""
    evidence = _Evidence.read(policy.controller, entries)
    requests = evidence.open_requests(now.astimezone(policy.zone).date())
    breaches = evidence.breach_clocks(policy, now)
    rules = [
        _rule_posture(policy, rule, evidence, orchestrated, now, ui_url, requests, breaches) for rule in policy.rules
    ]
    subjects, records = evidence.active_holds()
    return Posture(
        controller=policy.controller,
        name=policy.name,
        as_of=now,
        rules=rules,
        requests=requests,
        breaches=breaches,
        holds_on_subjects=subjects,
        holds_on_records=records,
    )


# ---- what the ledger holds ----------------------------------------------------------------------------------


@dataclass
class _Item:
    decision: str
    deadline: datetime | None
    done: bool = False


@dataclass
class _Evidence:
    """The entries of one controller the posture needs, gathered in one pass over the ledger."""

    runs: list[RunRecord]
    flow_runs: dict[str, str]
    #: checklist items per run id, keyed by their checkbox
    items: dict[str, dict[str, _Item]]
    requests: dict[str, dict[str, Any]]
    breaches: dict[str, dict[str, Any]]
    holds: dict[int, tuple[bool, bool]]

    @classmethod
    def read(cls, controller: str, entries: Iterable[Entry]) -> _Evidence:
        run_entries: list[Entry] = []
        found = cls([], {}, {}, {}, {}, {})
        for entry in entries:
            if entry.controller != controller:
                continue
            if entry.kind in RUN_KINDS:
                run_entries.append(entry)
                if entry.kind is EntryKind.RUN_STARTED and isinstance(entry.payload.get("flow_run"), str):
                    found.flow_runs[entry.run_id] = entry.payload["flow_run"]
            else:
                found._note(entry)
        found.runs = runs_from(run_entries)
        return found

    def _note(self, entry: Entry) -> None:
        payload = entry.payload
        if entry.kind is EntryKind.DECISION and "item" in payload:
            items = self.items.setdefault(entry.run_id, {})
            known = items.get(str(payload["item"]))
            deadline = payload.get("deadline")
            moment = datetime.fromisoformat(deadline) if isinstance(deadline, str) else None
            if known is None:
                items[str(payload["item"])] = _Item(str(payload.get("decision")), moment)
            else:  # an item that passed its deadline while its checklist waited, recorded as overdue later
                known.decision = str(payload.get("decision"))
        elif entry.kind is EntryKind.ATTESTATION and "item" in payload and payload.get("done") is True:
            checklist = str(payload.get("checklist_run") or entry.run_id)
            item = self.items.get(checklist, {}).get(str(payload["item"]))
            if item is not None:
                item.done = True
        elif entry.kind is EntryKind.REQUEST and isinstance(payload.get("request"), str):
            request = self.requests.setdefault(payload["request"], {})
            request.update({key: payload[key] for key in ("request_kind", "deadline") if key in payload})
            request["closed"] = request.get("closed") or payload.get("event") == "closed"
        elif entry.kind in (EntryKind.FINDING, EntryKind.DELIVERY) and isinstance(payload.get("breach"), str):
            breach = self.breaches.setdefault(payload["breach"], {"notified": set()})
            if payload.get("event") == "opened":
                breach["due"] = payload.get("authority_due")
            elif payload.get("event") == "notified":
                breach["notified"].add(payload.get("to"))
        elif entry.kind is EntryKind.HOLD and isinstance(payload.get("hold_id"), int):
            if payload.get("event") == "released":
                self.holds.pop(payload["hold_id"], None)
            elif payload.get("event") == "added":
                self.holds[payload["hold_id"]] = (entry.subject is not None, entry.record is not None)

    def open_requests(self, today: date) -> list[OpenRequest]:
        found = [
            OpenRequest(request_id, str(row.get("request_kind", "-")), day, (day - today).days)
            for request_id, row in self.requests.items()
            if not row.get("closed") and isinstance(row.get("deadline"), str)
            for day in [date.fromisoformat(row["deadline"])]
        ]
        return sorted(found, key=lambda r: (r.deadline, r.request_id))

    def breach_clocks(self, policy: Policy, now: datetime) -> list[BreachClock]:
        recipients = [Recipient.AUTHORITY] + ([Recipient.SUBJECTS] if promises_subject_notice(policy) else [])
        clocks = []
        for breach_id, row in self.breaches.items():
            if not isinstance(row.get("due"), str):
                continue
            due = parse_utc(row["due"])
            for recipient in recipients:
                if recipient.value not in row["notified"]:
                    left = (due - now) // timedelta(hours=1)
                    clocks.append(BreachClock(breach_id, recipient.value, due, left))
        return sorted(clocks, key=lambda c: (c.due, c.breach_id, c.recipient))

    def active_holds(self) -> tuple[int, int]:
        return sum(s for s, _ in self.holds.values()), sum(r for _, r in self.holds.values())


# ---- one rule -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    severity: _Severity
    outcome: str
    overdue: int = 0
    oldest_deadline: datetime | None = None
    #: the run got through: it finished and nothing stopped or failed it
    clean: bool = False


def _rule_posture(
    policy: Policy,
    rule: Rule,
    evidence: _Evidence,
    orchestrated: Sequence[OrchestratedRun],
    now: datetime,
    ui_url: str | None,
    requests: list[OpenRequest],
    breaches: list[BreachClock],
) -> RulePosture:
    base = RulePosture(rule.ref, rule.title, " ".join(rule.quote.text.split()), State.NO_PERIOD)
    if rule.cadence is None:
        return _unscheduled(base, rule, requests, breaches, now)
    # a verify-export run checks earlier attestations against an export; it is not one of the rule's own runs
    runs = [r for r in evidence.runs if r.rule_ref == rule.ref and not r.dry_run and "verified" not in r.outcome]
    latest: dict[str | None, RunRecord] = {}
    for run in runs:
        if run.system not in latest or run.started_at >= latest[run.system].started_at:
            latest[run.system] = run
    last_start = max((r.started_at for r in runs), default=None)
    next_run = next(iter(iterate_runs(rule.cadence, now, policy.zone, last_run=last_start)))
    newest = _newest_orchestrated(rule, orchestrated, last_start)
    verdicts = [
        _verdict(rule, run, evidence, _carrier(evidence, run, orchestrated, newest), now) for run in latest.values()
    ]
    if newest is not None and newest.started_at is not None:
        last_start = max(last_start or newest.started_at, newest.started_at)
    if newest is not None and newest.state is RunState.FAILED:
        verdicts.append(_Verdict(_Severity.FAILING, "the last run failed before it finished its evidence"))
    elif newest is not None and newest.state is RunState.PAUSED:
        verdicts.append(_Verdict(_Severity.WAITING, "paused for a person in the Prefect UI"))
    link_run = newest.flow_run_id if newest is not None else _latest_flow_run(evidence, latest.values())
    link = run_link(ui_url, link_run)
    if not verdicts:
        return _replace(base, State.NOT_SET_UP, outcome="never ran", next_run=next_run, link=link)
    worst = max(verdicts, key=lambda v: v.severity)
    ever_clean = any(_verdict(rule, r, evidence, None, now).clean for r in runs)
    state = {
        _Severity.KEPT: State.KEPT,
        _Severity.WAITING: State.WAITING,
        _Severity.OVERDUE: State.OVERDUE,
        _Severity.FAILING: State.FAILING if ever_clean else State.NOT_SET_UP,
    }[worst.severity]
    deadlines = [v.oldest_deadline for v in verdicts if v.oldest_deadline is not None]
    return _replace(
        base,
        state,
        overdue=sum(v.overdue for v in verdicts),
        last_run=last_start,
        outcome="; ".join(dict.fromkeys(v.outcome for v in sorted(verdicts, key=lambda v: -v.severity))),
        next_run=next_run,
        oldest_overdue_days=_days_past(min(deadlines), now) if deadlines else None,
        link=link,
    )


def _unscheduled(
    base: RulePosture, rule: Rule, requests: list[OpenRequest], breaches: list[BreachClock], now: datetime
) -> RulePosture:
    """Rules no schedule runs: requests and breaches have their own clocks; the rest promise no period."""
    if rule.action is Action.ANSWER_REQUEST:
        late = [r for r in requests if r.days_left < 0]
        outcome = f"{len(requests)} open request(s), {len(late)} past the deadline"
        oldest = max((-r.days_left for r in late), default=None)
        state = State.OVERDUE if late else State.KEPT
        return _replace(base, state, overdue=len(late), outcome=outcome, oldest_overdue_days=oldest)
    if rule.action is Action.NOTIFY:
        missed = [c for c in breaches if c.due < now]
        oldest = max((_days_past(c.due, now) for c in missed), default=None)
        state = State.OVERDUE if missed else State.WAITING if breaches else State.KEPT
        outcome = f"{len(breaches)} notice(s) to send, {len(missed)} past the 72 hours"
        return _replace(base, state, overdue=len(missed), outcome=outcome, oldest_overdue_days=oldest)
    return base


def _verdict(rule: Rule, run: RunRecord, evidence: _Evidence, flow: OrchestratedRun | None, now: datetime) -> _Verdict:
    payload = run.outcome
    if run.finished_at is None:
        # an attest run stays open while its checklist waits; without word from Prefect it is taken as waiting
        paused = flow.state is RunState.PAUSED if flow is not None else rule.action is Action.ATTEST
        if paused:
            return _checklist_verdict(evidence.items.get(run.run_id, {}), now, WAITING_FOR_ANSWER)
        if flow is not None and flow.state is RunState.RUNNING:
            return _Verdict(_Severity.KEPT, "running now")
        return _Verdict(_Severity.FAILING, "stopped before it finished (no run_finished entry)")
    stopped = payload.get("stopped")
    if isinstance(stopped, str) and stopped:
        if stopped.endswith(NOT_APPROVED):
            return _Verdict(_Severity.WAITING, "above its safety limit: waiting for approval")
        return _Verdict(_Severity.FAILING, "stopped with an error (see the run)")
    if "items" in payload:
        return _checklist_verdict(evidence.items.get(run.run_id, {}), now, str(payload.get("outcome", "-")))
    if "findings" in payload:
        flagged = run.number("findings")
        outcome = f"scanned {run.number('scanned')}, flagged {flagged}"
        return _Verdict(_Severity.WAITING if flagged else _Severity.KEPT, outcome, clean=True)
    if run.number("failed") or run.number("still_present"):
        outcome = f"deleted {run.number('deleted')}, failed {run.number('failed') + run.number('still_present')}"
        return _Verdict(_Severity.FAILING, outcome)
    counts = run.counts
    overdue = counts.get(Decision.OVERDUE.value, 0)
    oldest = payload.get("oldest_overdue_deadline")
    oldest_deadline = datetime.fromisoformat(oldest) if isinstance(oldest, str) else None
    if rule.action is Action.FLAG_FOR_REVIEW:
        due = counts.get(Decision.DUE.value, 0)
        outcome = f"{due + overdue} to review, deleted {run.number('deleted')}"
        severity = _Severity.OVERDUE if overdue else _Severity.WAITING if due else _Severity.KEPT
        return _Verdict(severity, outcome, overdue, oldest_deadline, clean=True)
    outcome = f"deleted {run.number('deleted')}, held {counts.get(Decision.HELD.value, 0)}"
    if overdue:
        outcome += f", {overdue} past the deadline"
    severity = _Severity.OVERDUE if overdue else _Severity.KEPT
    return _Verdict(severity, outcome, overdue, oldest_deadline, clean=True)


def _checklist_verdict(items: Mapping[str, _Item], now: datetime, outcome: str) -> _Verdict:
    """Items not attested as done are still to do; those past their deadline are a broken promise."""
    open_items = [item for item in items.values() if not item.done]
    late = [
        item
        for item in open_items
        if item.decision == Decision.OVERDUE.value or (item.deadline is not None and item.deadline < now)
    ]
    deadlines = [item.deadline for item in late if item.deadline is not None]
    severity = _Severity.OVERDUE if late else _Severity.WAITING if open_items else _Severity.KEPT
    return _Verdict(
        severity,
        f"{len(items)} item(s), {len(open_items)} open: {outcome}",
        overdue=len(late),
        oldest_deadline=min(deadlines, default=None),
        clean=outcome not in (WAITING_FOR_ANSWER, INTERRUPTED),
    )


def _newest_orchestrated(
    rule: Rule, orchestrated: Sequence[OrchestratedRun], last_start: datetime | None
) -> OrchestratedRun | None:
    """The rule's newest real flow run, unless a later run in the ledger started after it ended."""
    mine = [r for r in orchestrated if r.rule_ref == rule.ref and not r.dry_run and r.started_at is not None]
    newest = max(mine, key=lambda r: r.started_at or datetime.min, default=None)
    if newest is None or (newest.ended_at is not None and last_start is not None and last_start > newest.ended_at):
        return None
    return newest


def _carrier(
    evidence: _Evidence, run: RunRecord, orchestrated: Sequence[OrchestratedRun], newest: OrchestratedRun | None
) -> OrchestratedRun | None:
    """The flow run that carried a ledger run: named in its evidence, else the rule's newest if it began first."""
    flow_run = _flow_run(evidence, run)
    if flow_run is not None:
        return next((r for r in orchestrated if r.flow_run_id == flow_run), None)
    began_first = newest is not None and newest.started_at is not None and newest.started_at <= run.started_at
    return newest if began_first else None


def _flow_run(evidence: _Evidence, run: RunRecord) -> str | None:
    flow_run = evidence.flow_runs.get(run.run_id)
    return None if flow_run is None else str(UUID(flow_run))


def _latest_flow_run(evidence: _Evidence, runs: Iterable[RunRecord]) -> str | None:
    known = [(r.started_at, _flow_run(evidence, r)) for r in runs if _flow_run(evidence, r)]
    return max(known)[1] if known else None


def run_link(ui_url: str | None, flow_run_id: str | None) -> str | None:
    """The run's page in the Prefect UI; the bare flow run id when no UI address is known."""
    if flow_run_id is None:
        return None
    return f"{ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}" if ui_url else flow_run_id


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _days_past(deadline: datetime, now: datetime) -> int:
    return max((now - deadline).days, 0)


def _replace(base: RulePosture, state: State, **changes: Any) -> RulePosture:
    values = {**base.__dict__, "state": state, **changes}
    return RulePosture(**values)


# ---- how it is shown ----------------------------------------------------------------------------------------


def rows(posture: Posture, *, full_text: bool = False) -> list[dict[str, str]]:
    """One row per rule: the table artifact (quotes shortened) and `hygiene status --json` (`full_text`)."""
    zone = posture.as_of.tzinfo
    return [
        {
            "rule": rule.ref,
            "title": rule.title,
            "quote": rule.quote if full_text else shortened(rule.quote, QUOTE_CHARS),
            "state": rule.state_text,
            "last run": "-" if rule.last_run is None else f"{rule.last_run.astimezone(zone):%Y-%m-%d %H:%M}",
            "outcome": rule.outcome,
            "next run": "-" if rule.next_run is None else f"{rule.next_run.astimezone(zone):%Y-%m-%d %H:%M}",
            "oldest overdue": "-" if rule.oldest_overdue_days is None else f"{rule.oldest_overdue_days} days late",
            "run": rule.link or "-",
        }
        for rule in posture.rules
    ]


def clock_lines(posture: Posture) -> list[str]:
    """Below the rules: open requests, running breach clocks, active holds; ids and counts, never a person."""
    lines = [f"Open requests: {len(posture.requests)}"]
    lines += [
        f"  request {r.request_id} ({r.kind}): due {r.deadline:%Y-%m-%d}, {_days_left(r.days_left)}"
        for r in posture.requests
    ]
    lines.append(f"Running breach clocks: {len(posture.breaches)}")
    zone = posture.as_of.tzinfo
    lines += [
        f"  breach {c.breach_id}: notify {c.recipient} by {c.due.astimezone(zone):%Y-%m-%d %H:%M}, "
        + (f"{c.hours_left} hours left" if c.hours_left >= 0 else f"{-c.hours_left} hours late")
        for c in posture.breaches
    ]
    lines.append(f"Active holds: {posture.holds_on_subjects} on people, {posture.holds_on_records} on records")
    return lines


def _days_left(days: int) -> str:
    return f"{days} days left" if days >= 0 else f"{-days} days past the deadline"


def as_json(posture: Posture) -> dict[str, Any]:
    return {
        "controller": posture.controller,
        "as_of": posture.as_of.isoformat(timespec="seconds"),
        "rules": rows(posture, full_text=True),
        "requests": [
            {"request": r.request_id, "kind": r.kind, "deadline": r.deadline.isoformat(), "days_left": r.days_left}
            for r in posture.requests
        ],
        "breach_clocks": [
            {"breach": c.breach_id, "notify": c.recipient, "due": c.due.isoformat(), "hours_left": c.hours_left}
            for c in posture.breaches
        ],
        "holds": {"subjects": posture.holds_on_subjects, "records": posture.holds_on_records},
    }


def terminal_lines(posture: Posture, width: int = 80) -> list[str]:
    """The posture for a terminal `width` columns wide: one line per rule, texts cut, clocks below."""
    zone = posture.as_of.tzinfo
    header = f"{posture.name} ({posture.controller}) at {posture.as_of.astimezone(zone):%Y-%m-%d %H:%M}"
    lines = [header, f"{'rule':<4} {'state':<20} {'last run':<10} {'next run':<10} {'late':>5}  title"]
    for rule in posture.rules:
        late = "-" if rule.oldest_overdue_days is None else f"{rule.oldest_overdue_days}d"
        last = "-" if rule.last_run is None else f"{rule.last_run.astimezone(zone):%Y-%m-%d}"
        upcoming = "-" if rule.next_run is None else f"{rule.next_run.astimezone(zone):%Y-%m-%d}"
        lines.append(f"{rule.ref:<4} {rule.state_text[:20]:<20} {last:<10} {upcoming:<10} {late:>5}  {rule.title}")
        if rule.state not in (State.KEPT, State.NO_PERIOD) and rule.outcome != "-":
            lines.append(f"     {rule.outcome}")
    lines += clock_lines(posture)
    return [shortened(line, width) for line in lines]


def read_posture(
    policy: Policy, ledger: Ledger, orchestrated: Sequence[OrchestratedRun], now: datetime, ui_url: str | None = None
) -> Posture:
    """`compute_posture` over the controller's entries in `ledger`.

    Decisions and attestations are read only for the runs that keep checklists (by run id, an indexed column):
    the per-record decisions of deleting runs, millions in a large ledger, say nothing the run's finish does not.
    """
    found = list(ledger.entries(controller=policy.controller, kinds=POSTURE_KINDS - CHECKLIST_KINDS))
    checklist_runs = sorted(
        run.run_id
        for run in runs_from(found)
        if not run.dry_run and (run.finished_at is None or "items" in run.outcome)
    )
    found += [entry for run_id in checklist_runs for entry in ledger.entries(run_id=run_id, kinds=CHECKLIST_KINDS)]
    return compute_posture(policy, sorted(found, key=lambda entry: entry.seq), orchestrated, now, ui_url)
