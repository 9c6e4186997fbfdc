"""`hygiene demo`: what `make demo` runs on the embedded default, in a scratch folder `.demo/run/`.

Everything the demo touches is synthetic and recreated on each run (so it runs twice in a row): the vendor
emulators on loopback, seeded tenants and files, its own ledger, demo-only pseudonym keys, and Prefect's
temporary local server. Each controller's systems are set up as a user would: environment variables that aim
the real connectors at them.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from hubspot.crm.contacts import SimplePublicObjectInput
from rich.console import Console
from rich.table import Table

from cli.output import console, user_errors
from cli.world import (
    demo_key_variables,
    register_customers,
    seed_balance_register,
    seed_calmo_drive,
    seed_mailbox,
    seed_stressfri_files,
    seed_vendor_tenant,
)
from hygiene.cadence import next_runs
from hygiene.errors import HygieneError
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.personal_files import private_folder
from hygiene.policies import load_all
from hygiene.policy import Action, Policy, Rule, SystemKind
from hygiene.requests import RequestKind, RequestStore
from hygiene.settings import Settings
from hygiene.windows import window_for
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed import HubSpotManifest, hubspot_client
from sandbox.seed_gmail import AGREEMENT_LABEL_PREFIX, SeedCustomer

#: the demo's own data; `.demo/prefect` (the UI's server home, `make ui`) is left alone
WORKSPACE = Path(".demo/run")
CONTROLLERS = ("clienti", "stressfri", "calmo", "balance", "balansekonomi")
#: the one attestation the demo answers itself (demo mode ticks every item, role "demo")
DEMO_ATTESTATION = ("stressfri", "S1")


@dataclass
class Tally:
    """Per controller: what the real runs did, and what waits for a person."""

    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, controller: str, **values: int) -> None:
        for name, value in values.items():
            self.counts[controller][name] += value


def show_promises(policy: Policy, now: datetime) -> None:
    """Each rule with the window it gives a record whose clock started a year ago, and its next runs."""
    sample = (now - timedelta(days=365)).astimezone(policy.zone)
    table = Table(title=f"{policy.name}: trigger {sample:%Y-%m-%d} → window; next runs ({policy.timezone})")
    for column in ("ref", "action", "not before", "deadline", "next runs"):
        table.add_column(column)
    for rule in policy.rules:
        window = window_for(policy, rule, sample) if rule.trigger else None
        runs = next_runs(rule.cadence, now, 2, policy.zone) if rule.cadence else []
        table.add_row(
            rule.ref,
            rule.action.value,
            f"{window.not_before:%Y-%m-%d}" if window and window.not_before else "-",
            f"{window.deadline:%Y-%m-%d}" if window and window.deadline else "-",
            ", ".join(f"{r:%Y-%m-%d %H:%M}" for r in runs) or "on demand",
        )
    console.print(table)


def prepare_workspace(workspace: Path = WORKSPACE) -> Path:
    """A fresh workspace with its own ledger and demo-only keys; real keys in the environment are left alone.

    `hygiene preflight --sandbox` builds the same world in a temporary folder of its own.
    """
    shutil.rmtree(workspace, ignore_errors=True)
    private_folder(workspace)  # it holds the seeded people, their letters and exports
    os.environ["HYGIENE_DATABASE_URL"] = f"sqlite:///{workspace.resolve()}/hygiene.db"
    os.environ["HYGIENE_REPORTS_DIR"] = str(workspace.resolve() / "reports")
    for variable, key in demo_key_variables(CONTROLLERS).items():
        os.environ.setdefault(variable, key)
    return workspace.resolve()


@contextmanager
def vendor_tenant(controller: str, now: datetime) -> Iterator[RunningSandbox]:
    """A sandbox holding one controller's Mailchimp audience, HubSpot portal and a mailbox."""
    with running_sandbox() as sandbox:
        _, crm, env = seed_vendor_tenant(sandbox, controller, now)
        os.environ |= env | seed_mailbox(sandbox, now, agreement_folders(sandbox, crm, now))
        yield sandbox


def agreement_folders(sandbox: RunningSandbox, crm: HubSpotManifest, now: datetime) -> list[SeedCustomer]:
    """One agreement folder per CRM customer, named as Clienti's C4 reads it (`Aftaler/<email in HubSpot>`).

    The two customers who ended longest ago are moved back six years, past C4's minimum: C3 erases their
    contacts in the same demo, and C4 deletes their agreement mail from the end dates the ledger kept.
    """
    ended = sorted((c for c in crm.contacts if c.relationship_ended), key=lambda c: c.relationship_ended or now.date())
    moved = {c.id: (now - relativedelta(years=6)).date() for c in ended[:2]}
    client = hubspot_client(sandbox.hubspot_host)
    for contact_id, ended_on in moved.items():
        properties = {"customer_relationship_ended_at": ended_on.isoformat()}
        client.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties=properties))
    return [
        SeedCustomer(
            ref=f"C-{number:04d}",
            label_name=f"{AGREEMENT_LABEL_PREFIX}{contact.email}",
            email=contact.email,
            ended_on=moved.get(contact.id, contact.relationship_ended),
        )
        for number, contact in enumerate(crm.contacts, start=1)
    ]


@contextmanager
def stressfri_systems(workspace: Path, now: datetime) -> Iterator[RunningSandbox]:
    """The offers workbook, a Gmail mailbox with a label per customer of that register (S2, S8), and last
    month's Webnode export (S1)."""
    offers, env = seed_stressfri_files(workspace, now)
    os.environ |= env
    os.environ.pop("HYGIENE_SPREADSHEET_PASSWORD", None)
    with running_sandbox() as sandbox:
        os.environ |= seed_mailbox(sandbox, now, register_customers(offers))
        yield sandbox


@contextmanager
def balance_systems(workspace: Path, now: datetime) -> Iterator[RunningSandbox]:
    """Balance's Mailchimp and HubSpot tenants, and the CRM export that is the paper archive's register (B2–B5)."""
    os.environ |= seed_balance_register(workspace, now)
    with vendor_tenant("balance", now) as sandbox:
        yield sandbox


def calmo_files(workspace: Path, now: datetime) -> AbstractContextManager[None]:
    """Calmo's external drive: invoices and client logbooks."""
    os.environ |= seed_calmo_drive(workspace, now)[1]
    return nullcontext()


def by_hand(policy: Policy, rule: Rule) -> bool:
    """Attestations, and reviews of systems kept by hand (S5's accountant review), wait for a person."""
    manual = all(policy.systems[s].kind is SystemKind.MANUAL for s in rule.covers.systems)
    return rule.action is Action.ATTEST or manual


def automated(policy: Policy) -> list[str]:
    """The scheduled rules a machine carries out."""
    return [r.ref for r in policy.rules if r.cadence is not None and not by_hand(policy, r)]


def run_rule(policy: Policy, ref: str, now: datetime, dry_run: bool) -> list[dict[str, Any]]:
    from flows.detect import detect_rule
    from flows.enforce import enforce_rule
    from flows.review import review_rule

    rule = policy.rule(ref)
    assert rule is not None
    if rule.action is Action.DELETE:
        return enforce_rule(policy.controller, ref, dry_run=dry_run, as_of=now, approved=True, pause_for_approval=False)
    if dry_run:
        return []
    if rule.action is Action.FLAG_FOR_REVIEW:
        return review_rule(policy.controller, ref, as_of=now)
    return detect_rule(policy.controller, ref)


def run_controller(policy: Policy, now: datetime, tally: Tally) -> None:
    """Every automated rule once as a dry run (what would happen), then for real."""
    rules = automated(policy)
    for dry_run in (True, False):
        console.rule(f"[bold]{policy.name}: {'dry run, what would happen' if dry_run else 'for real'}")
        for ref in rules:
            try:
                results = run_rule(policy, ref, now, dry_run)
            except HygieneError as exc:
                # a system the demo does not set up: say so, go on
                console.print(f"[yellow]{policy.controller} {ref} not set up in the demo:[/yellow] {exc}", markup=True)
                continue
            for result in results:
                if not dry_run:
                    count(tally, policy.controller, result)


def count(tally: Tally, controller: str, result: dict[str, Any]) -> None:
    counts = result.get("counts") or {}
    tally.add(
        controller,
        kept=counts.get("keep", 0),
        deleted=result.get("deleted", 0),
        overdue=result.get("overdue", 0),
        held=counts.get("held", 0),
        flagged=result.get("findings", 0),
    )


def attestations(policy: Policy, now: datetime, tally: Tally) -> None:
    """The demo's one attestation is answered automatically; the others wait for a person in the UI."""
    from flows.attest import attest

    for rule in policy.rules:
        if rule.cadence is None or not by_hand(policy, rule):
            continue
        if (policy.controller, rule.ref) == DEMO_ATTESTATION:
            console.rule(f"[bold]{policy.name}: {rule.ref} checklist, answered in demo mode")
            for result in attest(policy.controller, rule.ref, as_of=now, demo_answer=True):
                tally.add(policy.controller, attested=result["items"])
        else:
            tally.add(policy.controller, waiting=1)


def rights_requests(policy: Policy, sandbox: RunningSandbox, workspace: Path, tally: Tally) -> None:
    """One erasure and one access request, opened, carried out and answered with a letter."""
    from cli.requests import attest_by_hand, erase, export

    settings = Settings()
    store = RequestStore(Ledger.from_settings(settings))
    people = [c.properties["email"] for c in sandbox.state.stores["hubspot"].live()]
    key = settings.key_for(policy.controller)
    today = datetime.now(policy.zone).date()
    erasure = store.open(policy, RequestKind.ERASURE, people[0], today, key)
    access = store.open(policy, RequestKind.ACCESS, people[1], today, key)
    console.rule(f"[bold]{policy.name}: an erasure request and an access request")
    letter = str(workspace / "letters" / f"{erasure.request_id}.txt")
    erase(erasure.request_id, out=letter, json=False)
    # the demo's person "searches" the hand-kept places (web forms) at once; for real, someone does, then attests
    attest_by_hand(erasure.request_id, role="demo", out=letter, json=False)
    export(access.request_id, out=str(workspace / "exports" / access.request_id), json=False)
    tally.add(policy.controller, requests=2)


def scene(policy: Policy, workspace: Path, now: datetime) -> AbstractContextManager[Any]:
    setups: dict[str, Callable[[], AbstractContextManager[Any]]] = {
        "clienti": lambda: vendor_tenant("clienti", now),
        "balance": lambda: balance_systems(workspace, now),
        "balansekonomi": lambda: vendor_tenant("balansekonomi", now),
        "stressfri": lambda: stressfri_systems(workspace, now),
        "calmo": lambda: calmo_files(workspace, now),
    }
    return setups[policy.controller]()


def summary_table(tally: Tally) -> Table:
    columns = ("kept", "deleted", "overdue", "held", "flagged", "attested", "waiting", "requests")
    table = Table(title="what the demo did (real runs)")
    table.add_column("controller")
    labels = {"waiting": "waiting (person)", "flagged": "flagged"}
    for column in columns:
        table.add_column(labels.get(column, column), justify="right")
    for controller, counts in sorted(tally.counts.items()):
        table.add_row(controller, *(str(counts.get(column, 0)) for column in columns))
    return table


@user_errors
def demo() -> None:
    """Run the demo: the promises, then every automated rule of the five controllers through Prefect."""
    now = datetime.now().astimezone()
    policies = load_all(policies_dir())
    console.rule(f"[bold]{len(policies)} controllers, {sum(len(p.rules) for p in policies)} rules")
    for policy in policies:
        show_promises(policy, now)
    workspace = prepare_workspace()
    tally = Tally()
    from cli.preflight import of_controller, print_outcomes  # it builds its own world from this module's scenes
    from deployments.generate import deployment_specs
    from deployments.preflight import preflight

    specs, checked = deployment_specs(policies), []
    for policy in policies:
        with scene(policy, workspace, now) as sandbox:
            run_controller(policy, now, tally)
            attestations(policy, now, tally)
            if policy.controller == "clienti":
                rights_requests(policy, sandbox, workspace, tally)
            checked += preflight(of_controller(specs, policy))
    # the summary is the demo's answer: never squeeze it into a narrow pipe's 80 columns
    Console(width=max(console.width, 120)).print(summary_table(tally))
    report = Ledger.from_settings(Settings()).verify()
    if not report.ok:
        raise HygieneError(f"chain broken at entry {report.broken_at}: {report.reason}")
    console.print(f"chain verified: {report.count} entries; head {report.head}", soft_wrap=True)
    console.rule("[bold]hygiene preflight: every deployment once more, as a dry run")
    print_outcomes(checked)
