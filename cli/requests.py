"""`hygiene request ...` and `hygiene requests`: take in a rights request, answer it, list what is open.

hygiene request open --controller calmo --kind erasure --email ann@example.dk [--name "Ann Hansen"]
hygiene request verify-id 3f2a… --role owner          # Calmo K3: photo ID checked (the image is not kept)
hygiene request extend 3f2a… --reason "many systems to search"
hygiene request erase 3f2a… --out reply.txt            # erase_subject, then the reply letter
hygiene request attest 3f2a… --role owner --out reply.txt  # the by-hand part is done: close, final letter
hygiene request export 3f2a… --out answer/             # export_subject, then export.json, export.html, letter
hygiene requests [--controller calmo]                  # open requests and the days left, never the email
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.output import JsonOption, console, emit_json, user_errors
from hygiene.delivery import (
    deliver_export,
    open_working_copy,
    reply_facts,
    writable_file,
    writable_folder,
)
from hygiene.errors import HygieneError
from hygiene.ledger import Ledger
from hygiene.letters import reply_letter
from hygiene.locations import policies_dir
from hygiene.periods import parse_date
from hygiene.personal_files import write_private
from hygiene.policies import load_policy
from hygiene.policy import Policy
from hygiene.requests import (
    IdentityCipher,
    IdentityNotVerified,
    Request,
    RequestKind,
    RequestStore,
    needs_identity_check,
)
from hygiene.rights import answer_from_dict
from hygiene.settings import Settings

request_app = typer.Typer(
    help="Rights requests: open, verify the identity, extend, erase, export.", no_args_is_help=True
)


def _store() -> tuple[Settings, RequestStore]:
    settings = Settings()
    return settings, RequestStore(Ledger.from_settings(settings))


def _today(policy: Policy) -> date:
    return datetime.now().astimezone(policy.zone).date()


@request_app.command("open")
@user_errors
def open_request(
    controller: str = typer.Option(..., "--controller"),
    kind: str = typer.Option(..., "--kind", help="access, erasure, rectification, objection or portability."),
    email: str = typer.Option(..., "--email", help="The requester's email; stored encrypted until the answer."),
    received: str | None = typer.Option(None, "--received", help="ISO date received (default: today)."),
    name: str | None = typer.Option(
        None, "--name", help="The requester's full name, to list files naming them for a person; stored encrypted."
    ),
    json: bool = JsonOption,
) -> None:
    """Take in a request; prints its id and deadline (the email and name are kept encrypted, never shown)."""
    policy = load_policy(policies_dir(), controller)
    settings, store = _store()
    day = parse_date(received, "--received") if received else _today(policy)
    request = store.open(policy, _kind(kind), email, day, settings.key_for(policy.controller), name)
    _show(request, policy, json)


@request_app.command("extend")
@user_errors
def extend(
    request_id: str,
    reason: str = typer.Option(..., "--reason", help="Why; the person is told (no names)."),
    json: bool = JsonOption,
) -> None:
    """Extend the deadline by two further months (GDPR Art. 12(3)), once, with the reason."""
    _, store = _store()
    policy = load_policy(policies_dir(), store.get(request_id).controller)
    _show(store.extend(request_id, reason, policy, _today(policy)), policy, json)


@request_app.command("verify-id")
@user_errors
def verify_id(
    request_id: str,
    role: str = typer.Option(..., "--role", help="The role of who checked it (owner, employee), not a name."),
    not_checked: bool = typer.Option(False, "--not-checked", help="The ID could not be confirmed."),
    json: bool = JsonOption,
) -> None:
    """Attest that a photo ID was checked against the requester (Calmo K3); the image is never stored."""
    _, store = _store()
    request = store.verify_identity(request_id, role, checked=not not_checked)
    _show(request, load_policy(policies_dir(), request.controller), json)


@request_app.command("erase")
@user_errors
def erase(
    request_id: str,
    out: str = typer.Option(..., "--out", help="File to write the reply letter to."),
    json: bool = JsonOption,
) -> None:
    """Erase the requester from every system (except what the law keeps), then write the reply letter."""
    _, store = _store()
    policy = _ready(store, request_id, {RequestKind.ERASURE})
    letter = writable_file(Path(out), "--out")
    from flows.rights import erase_subject  # Prefect loads only for commands that run flows

    result: dict[str, Any] = erase_subject(request_id)
    if result["closed"] or result["awaiting_by_hand"]:
        answers = [answer_from_dict(answer) for answer in result["systems"]]
        facts = reply_facts(policy, store.get(request_id), answers, result["already_erased_on"])
        write_private(letter, reply_letter(policy, facts))
        result["letter"] = str(letter)
    if json:
        emit_json(result)
    else:
        _print_answers(result)
    _refuse_unless_done(result, letter)
    if result["awaiting_by_hand"] and not json:
        console.print(
            f"request {request_id} stays open until a person has searched and cleared {', '.join(result['by_hand'])}; "
            f"then: hygiene request attest {request_id} --role ROLE --out FILE",
            soft_wrap=True,
        )


@request_app.command("attest")
@user_errors
def attest_by_hand(
    request_id: str,
    role: str = typer.Option(..., "--role", help="The role of who did the by-hand part (owner, employee)."),
    out: str = typer.Option(..., "--out", help="File to write the final reply letter to."),
    json: bool = JsonOption,
) -> None:
    """Attest that the by-hand part of an erasure is done; closes the request and writes the final letter."""
    _, store = _store()
    policy = _ready(store, request_id, {RequestKind.ERASURE})
    letter = writable_file(Path(out), "--out")
    request, machine = store.attest_by_hand(request_id, role)
    answers = [answer_from_dict(answer) for answer in machine.get("systems", [])]
    facts = replace(reply_facts(policy, request, answers), by_hand_done=True)
    letter.write_text(reply_letter(policy, facts), encoding="utf-8")
    document = {"request": request_id, "closed": True, "outcome": request.outcome, "letter": str(letter)}
    if json:
        emit_json(document)
    else:
        console.print(f"request {request_id}: the by-hand part attested ({role}); closed; reply letter: {letter}")


@request_app.command("export")
@user_errors
def export(
    request_id: str,
    out: str = typer.Option(..., "--out", help="Folder to write export.json, export.html and letter.txt to."),
    json: bool = JsonOption,
) -> None:
    """Gather everything held on the requester, then write the export and the reply letter to OUT."""
    settings, store = _store()
    policy = _ready(store, request_id, {RequestKind.ACCESS, RequestKind.PORTABILITY})
    folder = writable_folder(Path(out), "--out")
    key = settings.key_for(policy.controller)
    result: dict[str, Any] = {"request": request_id}
    if open_working_copy(IdentityCipher(policy.controller, key), request_id) is None:
        from flows.rights import export_subject  # Prefect loads only for commands that run flows

        result = export_subject(request_id)
    digests = deliver_export(policy, store, store.get(request_id), key, folder)
    result |= {"closed": True, "files": {name: str(folder / name) for name in digests}}
    if json:
        emit_json(result)
    else:
        console.print(f"request {request_id}: delivered to {folder} ({', '.join(digests)}); request closed")


@user_errors
def list_requests(
    controller: str | None = typer.Option(None, "--controller"),
    json: bool = JsonOption,
) -> None:
    """Open rights requests, the nearest deadline first, with the days left (never the email)."""
    _, store = _store()
    policies: dict[str, Policy] = {}
    rows = []
    for request in store.list_open(controller):
        policy = policies.setdefault(request.controller, load_policy(policies_dir(), request.controller))
        rows.append(request.summary(_today(policy)))
    if json:
        emit_json(rows)
        return
    # ids and dates are copied from here, so they never wrap; the controller and the kind share a cell and "*"
    # marks an extended deadline, so the table fits an 80-column terminal
    table = Table(title="open rights requests (* extended deadline; left: days left; ID: identity checked)")
    for column in ("request", "controller, kind", "received", "deadline", "left", "ID"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            row["request"],
            f"{row['controller']}\n{row['kind']}",
            str(row["received"]),
            f"{row['deadline']}{'*' if row['extended'] else ''}",
            str(row["days_left"]),
            "yes" if row["identity_checked"] else "-",
        )
    console.print(table)


def _kind(text: str) -> RequestKind:
    try:
        return RequestKind(text.strip().lower())
    except ValueError:
        known = ", ".join(kind.value for kind in RequestKind)
        raise HygieneError(f"--kind: '{text}' is not a request kind: use one of {known}") from None


def _ready(store: RequestStore, request_id: str, kinds: set[RequestKind]) -> Policy:
    """The open request, of the right kind, past its identity gate; otherwise one line and nothing done."""
    request = store.get_open(request_id)
    if request.kind not in kinds:
        wanted = " or ".join(sorted(kind.value for kind in kinds))
        raise HygieneError(f"request {request_id} is a {request.kind.value} request, not {wanted}")
    policy = load_policy(policies_dir(), request.controller)
    if needs_identity_check(policy) and request.identity_checked_at is None:
        raise IdentityNotVerified(
            f"request {request_id}: {policy.name} requires a photo-ID check before data is handed out or deleted; "
            f"check it, then run `hygiene request verify-id {request_id} --role ROLE`"
        )
    return policy


def _refuse_unless_done(result: dict[str, Any], out: Path) -> None:
    """The answers a person must act on are one line and exit 1, after the letter is written."""
    request = result["request"]
    if result["outcome"] == "incomplete":
        systems = [s["system"] for s in result["systems"] if s["status"] == "unreachable"]
        raise HygieneError(
            f"request {request}: {', '.join(systems)} could not be searched; the request stays open, fix and run again"
        )
    if result["outcome"] == "nothing_found":
        raise HygieneError(f"request {request}: the email matches nobody in any system; the letter says so: {out}")
    if result["outcome"] == "held":
        raise HygieneError(
            f"request {request}: the person is under a legal hold ({result['held_reason']}); nothing was deleted, "
            f"the letter says why: {out}"
        )
    if result["outcome"] == "already_erased":
        raise HygieneError(f"request {request}: already erased on {result['already_erased_on']}; nothing to do")


def _print_answers(result: dict[str, Any]) -> None:
    table = Table(title=f"request {result['request']}: {result['outcome']}")
    for column in ("system", "status", "found", "deleted", "kept", "by hand", "failed"):
        table.add_column(column)
    for answer in result["systems"]:
        kept = ", ".join(
            f"{k['count']} {k['reason']}{' until ' + k['until'] if k['until'] else ''}" for k in answer["kept"]
        )
        table.add_row(
            answer["system"],
            answer["status"],
            str(answer["found"]),
            str(answer["deleted"]),
            kept or "-",
            str(answer["by_hand"]) if answer["status"] != "by_hand" else "search by hand",
            str(answer["failed"]),
        )
    console.print(table)
    if "letter" in result:
        console.print(f"reply letter: {result['letter']}")


def _show(request: Request, policy: Policy, json: bool) -> None:
    summary = request.summary(_today(policy))
    if json:
        emit_json(summary)
        return
    console.print(
        f"request {request.request_id} ({request.kind.value}, {policy.controller}): answer by {request.due} "
        f"({summary['days_left']} days left; {request.source})"
    )
