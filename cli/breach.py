"""`hygiene breach ...`: the 72-hour clock of a personal data breach (GDPR Art. 33, Calmo K4).

    hygiene breach open --controller calmo --discovered 2026-11-20T14:05+01:00 [--occurred 2026-11-19T22:00+01:00] \
        --systems logbooks --out incident/
    hygiene breach notified 9c1e… --to authority [--at 2026-11-21T10:00+01:00]
    hygiene breach status 9c1e…        # exit 0; "late" lists the notices past their clock, for a cron to alert

`open` finds everyone the systems hold, records them as pseudonyms, and writes to OUT the contact list
(contacts.csv) and the drafts of the notice to the authority and to the people, in the controller's language.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from cli.output import JsonOption, console, emit_json, user_errors
from hygiene.breach import Breach, BreachStore, Recipient
from hygiene.delivery import writable_folder, write_files
from hygiene.errors import HygieneError
from hygiene.ledger import Ledger
from hygiene.letters import BreachFacts, authority_notice, subjects_notice
from hygiene.locations import policies_dir
from hygiene.periods import parse_datetime
from hygiene.personal_files import csv_text
from hygiene.policies import load_policy
from hygiene.pseudonym import SUBJECT, pseudonym
from hygiene.settings import Settings

breach_app = typer.Typer(help="Personal data breaches: the 72-hour clock and the notices.", no_args_is_help=True)


@breach_app.command("open")
@user_errors
def open_breach(
    controller: str = typer.Option(..., "--controller"),
    discovered: str = typer.Option(..., "--discovered", help="When it was discovered, ISO 8601 with offset."),
    occurred: str | None = typer.Option(
        None, "--occurred", help="When it happened, if known (default: when discovered), ISO 8601 with offset."
    ),
    systems: str = typer.Option(..., "--systems", help="Affected systems of the policy, comma-separated."),
    out: str = typer.Option(..., "--out", help="Folder for the contact list and the draft notices."),
    description: str = typer.Option("", "--description", help="What happened (goes into the notices)."),
    json: bool = JsonOption,
) -> None:
    """Start the clock, find the affected people, and draft the notices."""
    policy = load_policy(policies_dir(), controller)
    moment = parse_datetime(discovered, "--discovered")
    happened = parse_datetime(occurred, "--occurred") if occurred else None
    folder = writable_folder(Path(out), "--out")
    chosen = [system.strip() for system in systems.split(",") if system.strip()]
    from tasks.rights import affected_subjects  # loads the connectors only for this command

    found = affected_subjects(policy, chosen)
    settings = Settings()
    key = settings.key_for(policy.controller)
    pseudonyms = {
        system: {pseudonym(key, SUBJECT, subject) for subject in subjects} for system, subjects in found.items()
    }
    breach = BreachStore(Ledger.from_settings(settings)).open(
        policy, moment, description, pseudonyms, occurred=happened
    )
    facts = BreachFacts(
        breach.breach_id, breach.discovered_at, breach.authority_due, breach.systems, breach.affected, description
    )
    written = write_files(
        folder,
        {
            "contacts.csv": _contacts(found),
            "authority-notice.txt": authority_notice(policy, facts),
            "subjects-notice.txt": subjects_notice(policy, facts),
        },
    )
    _report(breach, {"files": {name: str(folder / name) for name in written}}, json)


@breach_app.command("notified")
@user_errors
def notified(
    breach_id: str,
    to: str = typer.Option(..., "--to", help="authority or subjects"),
    at: str | None = typer.Option(None, "--at", help="When it was sent, ISO 8601 with offset (default: now)."),
    json: bool = JsonOption,
) -> None:
    """Record when the notice to the authority or to the people was sent."""
    moment = parse_datetime(at, "--at") if at else datetime.now().astimezone()
    if to not in {recipient.value for recipient in Recipient}:
        raise HygieneError(f"--to: '{to}': use authority or subjects")
    breach = BreachStore(Ledger.from_settings(Settings())).notified(breach_id, Recipient(to), moment)
    _report(breach, {}, json)


@breach_app.command("status")
@user_errors
def status(breach_id: str, json: bool = JsonOption) -> None:
    """Each notice's clock and what is late; exits 0 either way, so a cron reads "late" and alerts."""
    breach = BreachStore(Ledger.from_settings(Settings())).get(breach_id)
    _report(breach, {}, json)


def _contacts(found: dict[str, set[str]]) -> str:
    rows = ((system, subject) for system, subjects in found.items() for subject in sorted(subjects))
    return csv_text(("system", "subject"), rows)


def _report(breach: Breach, extra: dict[str, Any], json: bool) -> None:
    document = breach.status(datetime.now().astimezone()) | extra
    if json:
        emit_json(document)
        return
    console.print(f"breach {breach.breach_id} ({breach.controller}): {breach.affected} people affected")
    clocks = document["clocks"]
    console.print(
        f"  72 hours from the breach ({document['occurred']}): {clocks['from_breach'] or 'not promised'}; "
        f"from its discovery ({document['discovered']}): {clocks['from_discovery']}; the earlier applies"
    )
    for recipient, notice in document["notices"].items():
        if notice["due"] is None and notice["sent"] is None:
            continue
        state = f"sent {notice['sent']}" if notice["sent"] else f"{notice['minutes_left']} minutes left"
        console.print(f"  {recipient}: due {notice['due'] or '-'}; {state}{' (LATE)' if notice['late'] else ''}")
    for name, path in extra.get("files", {}).items():
        console.print(f"  wrote {name}: {path}")
