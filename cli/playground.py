"""`hygiene playground` (`make playground`): the demo's world, kept running for a person to try the CLI and the UI on.

It starts the vendor emulators on loopback, seeds them and a workspace `.demo/playground/` with the demo's own
functions (cli.world), writes `.demo/env` (shell `export` lines: the sandbox's hosts and credentials, the
workspace's files, demo-only keys, the ledger and the reports folder), prints three seeded people to try an
erasure or an access request with, and runs until Ctrl-C, when it stops the emulators and removes `.demo/env`
(a file pointing at emulators that are gone would only mislead).

One shell environment names one account per vendor, and a sandbox's HubSpot is one portal: so the playground
holds Clienti's tenant (Mailchimp, HubSpot), Stressfri's offers workbook, Webnode export and mailbox, and Calmo's
drive. Balance and Balansekonomi would share Clienti's portal, so they get no key: their rules are not ready here,
which `hygiene serve` says in one line each. The seeding is deterministic: the same people every time.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType

import typer

from cli.output import JsonOption, console, emit_json, user_errors
from cli.world import (
    Environment,
    demo_key_variables,
    register_customers,
    seed_balance_register,
    seed_calmo_drive,
    seed_mailbox,
    seed_stressfri_files,
    seed_vendor_tenant,
)
from sandbox.runner import running_sandbox
from sandbox.seed import HubSpotManifest, MailchimpManifest
from sandbox.seed_files import OffersManifest

WORKSPACE = Path(".demo/playground")
ENV_FILE = Path(".demo/env")
#: the controllers the playground's one set of vendor accounts can serve without mixing their data
CONTROLLERS = ("clienti", "stressfri", "calmo")


@dataclass(frozen=True)
class Person:
    """A seeded person to try a request with: where they are held, and what to try."""

    email: str
    controller: str
    systems: tuple[str, ...]
    try_with: str


@dataclass(frozen=True)
class World:
    env: Environment
    people: tuple[Person, ...]
    sandbox_url: str


@contextmanager
def playground_world(port: int | None = None) -> Iterator[World]:
    """A fresh workspace and a running sandbox seeded with the demo's world; the emulators stop on exit."""
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.mkdir(parents=True)
    workspace = WORKSPACE.resolve()
    now = datetime.now().astimezone()
    env: Environment = {
        "HYGIENE_DATABASE_URL": f"sqlite:///{workspace}/hygiene.db",
        "HYGIENE_REPORTS_DIR": str(workspace / "reports"),
        **demo_key_variables(CONTROLLERS),
    }
    with running_sandbox(port=port) as sandbox:
        mailchimp, hubspot, tenant = seed_vendor_tenant(sandbox, "clienti", now)
        offers, files = seed_stressfri_files(workspace, now)
        env |= tenant | files | seed_mailbox(sandbox, now, register_customers(offers))
        env |= seed_calmo_drive(workspace, now)[1] | seed_balance_register(workspace, now)
        yield World(env, people(mailchimp, hubspot, offers), sandbox.base_url)


def people(mailchimp: MailchimpManifest, hubspot: HubSpotManifest, offers: OffersManifest) -> tuple[Person, ...]:
    """Three people the scheduled rules leave in place (so they are still there after `make ui` ran them): a
    subscriber whose customer relationship ended recently, a current customer, and an active Stressfri one."""
    subscribed = {m.email for m in mailchimp.members if m.status == "subscribed"}
    ended = next(c for c in hubspot.contacts if c.email in subscribed and c.relationship_ended and not c.not_relevant)
    current = next(
        c for c in hubspot.contacts if c.email in subscribed and c.relationship_ended is None and c is not ended
    )
    active = next(o for o in offers.offers if o.status == "aktiv")
    return (
        Person(ended.email, "clienti", ("mailchimp", "hubspot"), "an erasure: the CRM record is kept (bookkeeping)"),
        Person(current.email, "clienti", ("mailchimp", "hubspot"), "an access request: export.json and a letter"),
        Person(active.email, "stressfri", ("offers", "gmail"), "an erasure with a by-hand part (Hano, phone, …)"),
    )


def env_file_text(env: Environment) -> str:
    """`export` lines for `source .demo/env`; the offers workbook of the playground has no password."""
    lines = ["# the playground's world (hygiene playground); gone when it stops", "unset HYGIENE_SPREADSHEET_PASSWORD"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    return "\n".join(lines) + "\n"


def show_people(world: World) -> None:
    """One line per person, the email whole (it is copied into commands), never cut to a table's width."""
    console.print("[bold]seeded people to try[/bold] (the same on every start):")
    for person in world.people:
        console.print(f"  {person.email}", markup=False, soft_wrap=True)
        console.print(f"      {person.controller}: held in {', '.join(person.systems)}; try {person.try_with}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def playground_env(port: int | None = None) -> Iterator[World]:
    """The world running, this process's environment aimed at it and `.demo/env` written for other shells;
    on exit the emulators stop, the environment is restored and `.demo/env` is removed."""
    saved = dict(os.environ)
    try:
        with playground_world(port) as world:
            os.environ.pop("HYGIENE_SPREADSHEET_PASSWORD", None)
            os.environ.update(world.env)
            ENV_FILE.parent.mkdir(parents=True, exist_ok=True)
            ENV_FILE.write_text(env_file_text(world.env), encoding="utf-8")
            yield world
    finally:
        ENV_FILE.unlink(missing_ok=True)
        os.environ.clear()
        os.environ.update(saved)


@user_errors
def playground(
    port: int = typer.Option(0, "--port", min=0, max=65535, help="The sandbox's port (default: a free one)."),
    json: bool = JsonOption,
) -> None:
    """Start the sandbox with the demo's world and write .demo/env; runs until Ctrl-C."""
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop ends it as cleanly as Ctrl-C
    try:
        with playground_env(port or None) as world:
            if json:
                emit_json(
                    {"env": str(ENV_FILE), "sandbox": world.sandbox_url, "people": [asdict(p) for p in world.people]}
                )
            else:
                show_people(world)
                console.print(
                    f"sandbox on {world.sandbox_url}; wrote {ENV_FILE}. In another shell: "
                    f"[bold]source {ENV_FILE}[/bold], then any hygiene command, or `make ui`. Ctrl-C stops it."
                )
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    if not json:
        console.print("playground stopped; .demo/env removed")
