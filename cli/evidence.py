"""`hygiene ledger ...` and `hygiene hold ...`: reading the evidence and setting legal holds."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.output import JsonOption, console, emit_json, user_errors
from hygiene.errors import HygieneError
from hygiene.holds import Hold, HoldStore
from hygiene.ledger import Entry, Ledger
from hygiene.ledger_head import ChainHead, recorded_heads
from hygiene.locations import policies_dir
from hygiene.policies import known_controller, load_policy
from hygiene.policy import Policy
from hygiene.pseudonym import RECORD, SUBJECT, pseudonym
from hygiene.settings import Settings

ledger_app = typer.Typer(help="Verify and read the evidence ledger.", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds: records kept despite a due deletion, with the reason.", no_args_is_help=True)


#: repeatable; a module-level default because a list option's default may not be built in the signature
HeadOption = typer.Option(
    None, "--head", help="ENTRY:MAC as a report or a run's page printed it: prove the ledger still extends it."
)


def open_ledger() -> tuple[Settings, Ledger]:
    settings = Settings()
    return settings, Ledger.from_settings(settings)


def entry_row(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "created_at": entry.created_at,
        "controller": entry.controller,
        "run_id": entry.run_id,
        "rule": entry.rule_ref,
        "kind": entry.kind.value,
        "subject": entry.subject,
        "record": entry.record,
        "payload": entry.payload,
        "hash": entry.hash,
    }


def print_entries(entries: list[Entry], title: str) -> None:
    table = Table(title=title)
    for column in ("seq", "time", "rule", "kind", "record", "details"):
        table.add_column(column)
    for entry in entries:
        details = ", ".join(f"{k}={v}" for k, v in entry.payload.items() if v not in (None, "", [], {}))
        table.add_row(
            str(entry.seq),
            f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
            entry.rule_ref or "",
            entry.kind.value,
            (entry.record or entry.subject or "")[:20],
            details[:120],
        )
    console.print(table)


@ledger_app.command("verify")
@user_errors
def verify(
    heads: list[str] | None = HeadOption,
    json: bool = JsonOption,
) -> None:
    """Recompute the MAC chain and prove it extends every head given and every head the reports folder recorded;
    exit 1 naming the first broken link."""
    anchors = [ChainHead.parse(head, "--head") for head in heads or []]
    settings, ledger = open_ledger()
    report = ledger.verify([*anchors, *recorded_heads(settings.reports_dir)])
    if json:
        emit_json(
            {
                "ok": report.ok,
                "entries": report.count,
                "broken_at": report.broken_at,
                "reason": report.reason,
                "head": str(report.head),
                "heads_extended": report.anchors,
            }
        )
    if not report.ok:
        raise HygieneError(f"chain broken at entry {report.broken_at}: {report.reason}")
    if not json:
        extends = f", extending {report.anchors} recorded head(s)" if report.anchors else ""
        console.print(
            f"chain verified: {report.count} entries{extends}; head {report.head}", markup=False, soft_wrap=True
        )


@ledger_app.command("show")
@user_errors
def show(
    run: str | None = typer.Option(None, "--run", help="A run id (default: the newest run)."),
    controller: str | None = typer.Option(None, "--controller"),
    json: bool = JsonOption,
) -> None:
    """The entries of one run."""
    _, ledger = open_ledger()
    run_id = run or newest_run(ledger, controller)
    entries = list(ledger.entries(run_id=run_id, controller=controller)) if run_id else []
    if json:
        emit_json({"run_id": run_id, "entries": [entry_row(e) for e in entries]})
    else:
        print_entries(entries, f"run {run_id}")


def newest_run(ledger: Ledger, controller: str | None) -> str | None:
    newest = None
    for entry in ledger.entries(controller=controller):
        newest = entry.run_id
    return newest


@ledger_app.command("prove")
@user_errors
def prove(
    controller: str = typer.Option(..., "--controller"),
    email: str = typer.Option(..., "--email"),
    json: bool = JsonOption,
) -> None:
    """Everything the evidence says about one person, found by recomputing their pseudonym locally."""
    controller = known_controller(policies_dir(), controller)
    settings, ledger = open_ledger()
    subject = pseudonym(settings.key_for(controller), SUBJECT, checked_email(email))
    entries = list(ledger.entries(controller=controller, subject=subject))
    statements = [statement(e) for e in entries]
    if json:
        emit_json(
            {
                "controller": controller,
                "subject": subject,
                "entries": [entry_row(e) for e in entries],
                "statements": statements,
            }
        )
        return
    if not entries:
        console.print(f"no evidence about this person under {controller}'s key")
    for line in statements:
        console.print(line, markup=False)


def statement(entry: Entry) -> str:
    """One sentence per entry; what an entry does not have (a system, a rule) is left out, never printed empty."""
    payload = entry.payload
    if "request_kind" in payload:
        outcome = payload.get("outcome")
        what = f"{payload['request_kind']} request {payload.get('event', '')}{f' ({outcome})' if outcome else ''}"
        source = f"request {entry.run_id}"
    else:
        what = f"{entry.kind.value} {payload.get('result') or payload.get('decision') or ''}"
        source = f"run {entry.run_id}"
    parts = [what.strip()]
    if payload.get("system"):
        parts.append(f"on {payload['system']}")
    if entry.rule_ref:
        parts.append(f"under rule {entry.rule_ref}")
    return f"{entry.created_at:%Y-%m-%d %H:%M} UTC: {' '.join(parts)} (entry {entry.seq}, {source})"


def checked_email(email: str) -> str:
    """The person to pseudonymise: an email address, or the reference a policy's records name people by (Calmo's
    client refs). An empty value, or a broken address, would name nobody yet be recorded as if it named someone."""
    value = email.strip()
    local, at, domain = value.rpartition("@")
    broken = bool(at) and (not local or not domain or any(character.isspace() for character in value))
    if not value or broken:
        raise HygieneError("--email: not an email address (e.g. name@example.dk) nor a client reference")
    return email


def checked_record(policy: Policy, record: str) -> str:
    """SYSTEM:ID with a system of the policy, the form runs pseudonymise records in; anything else would hold
    a record no run ever meets."""
    system, colon, record_id = record.partition(":")
    if not (colon and record_id.strip()) or system not in policy.systems:
        systems = ", ".join(sorted(policy.systems))
        raise HygieneError(f"--record: write SYSTEM:ID with one of {policy.controller}'s systems ({systems})")
    return record


def hold_row(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.hold_id,
        "controller": hold.controller,
        "subject": hold.subject,
        "record": hold.record,
        "reason": hold.reason,
        "set_at": hold.set_at,
        "set_by": hold.set_by,
        "released_at": hold.released_at,
    }


@hold_app.command("add")
@user_errors
def hold_add(
    controller: str = typer.Option(..., "--controller"),
    email: str | None = typer.Option(None, "--email", help="Hold everything about this person."),
    record: str | None = typer.Option(None, "--record", help="Hold one record: SYSTEM:ID."),
    reason: str = typer.Option(..., "--reason", help="Why (a dispute, an unpaid invoice); no names."),
    set_by: str = typer.Option("data protection officer", "--set-by", help="A role, not a name."),
    json: bool = JsonOption,
) -> None:
    """Keep a person's or a record's data despite due deletions (GDPR Art. 17(3)(e))."""
    if (email is None) == (record is None):
        raise HygieneError("hold add: give exactly one of --email or --record")
    policy = load_policy(policies_dir(), controller)
    settings, ledger = open_ledger()
    key = settings.key_for(policy.controller)
    try:
        hold = HoldStore(ledger).add(
            policy.controller,
            reason=reason,
            set_by=set_by,
            subject=pseudonym(key, SUBJECT, checked_email(email)) if email is not None else None,
            record=pseudonym(key, RECORD, checked_record(policy, record)) if record is not None else None,
        )
    except ValueError as exc:
        raise HygieneError(f"hold add: {exc}") from None
    if json:
        emit_json(hold_row(hold))
    else:
        console.print(f"hold {hold.hold_id} set for {controller}")


@hold_app.command("list")
@user_errors
def hold_list(
    controller: str = typer.Option(..., "--controller"),
    all_holds: bool = typer.Option(False, "--all", help="Include released holds."),
    json: bool = JsonOption,
) -> None:
    """The controller's holds."""
    _, ledger = open_ledger()
    holds = HoldStore(ledger).list(controller, active_only=not all_holds)
    if json:
        emit_json([hold_row(h) for h in holds])
        return
    table = Table(title=f"holds, {controller}")
    for column in ("id", "on", "reason", "set", "released"):
        table.add_column(column)
    for hold in holds:
        table.add_row(
            str(hold.hold_id),
            (hold.subject or hold.record or "")[:20],
            hold.reason,
            f"{hold.set_at:%Y-%m-%d} by {hold.set_by}",
            f"{hold.released_at:%Y-%m-%d}" if hold.released_at else "",
        )
    console.print(table)


@hold_app.command("release")
@user_errors
def hold_release(
    hold_id: int, released_by: str = typer.Option("data protection officer", "--by"), json: bool = JsonOption
) -> None:
    """End a hold; its records fall back under their rules at the next run."""
    _, ledger = open_ledger()
    hold = HoldStore(ledger).release(hold_id, released_by=released_by)
    if json:
        emit_json(hold_row(hold))
    else:
        console.print(f"hold {hold.hold_id} released")
