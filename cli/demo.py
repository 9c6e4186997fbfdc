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
from hygiene.cadence import next_runs
from hygiene.errors import HygieneError
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_all
from hygiene.policy import Action, Policy, Rule, SystemKind
from hygiene.requests import RequestKind, RequestStore
from hygiene.settings import Settings
from hygiene.windows import window_for
from sandbox import credentials
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed import TENANTS, HubSpotManifest, hubspot_client, mailchimp_client, seed_hubspot, seed_mailchimp
from sandbox.seed_files import (
    ExportFormat,
    OffersManifest,
    calmo_folder,
    offers_workbook,
    webnode_submissions,
    write_webnode_export,
)
from sandbox.seed_gmail import (
    AGREEMENT_LABEL_PREFIX,
    CUSTOMER_LABEL_PREFIX,
    SeedCustomer,
    seed_stressfri_mailbox,
)

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


def prepare_workspace() -> Path:
    """A fresh workspace with its own ledger and demo-only keys; real keys in the environment are left alone."""
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.mkdir(parents=True)
    os.environ["HYGIENE_DATABASE_URL"] = f"sqlite:///{WORKSPACE.resolve()}/hygiene.db"
    os.environ["HYGIENE_REPORTS_DIR"] = str(WORKSPACE.resolve() / "reports")
    for controller in CONTROLLERS:
        os.environ.setdefault(f"HYGIENE_KEY_{controller.upper()}", f"demo-only-key-{controller}-not-secret")
    return WORKSPACE.resolve()


@contextmanager
def vendor_tenant(controller: str, now: datetime) -> Iterator[RunningSandbox]:
    """A sandbox holding one controller's Mailchimp audience and HubSpot portal, seeded through the SDKs."""
    tenant = next(t for t in TENANTS if t.name.lower() == controller)
    with running_sandbox() as sandbox:
        mailchimp = seed_mailchimp(
            mailchimp_client(sandbox.mailchimp_host),
            sandbox.state.clock,
            n=30,
            clock_now=now,
            rng_seed=2026,
            tenants=(tenant,),
        )
        crm = seed_hubspot(
            hubspot_client(sandbox.hubspot_host),
            sandbox.state.clock,
            n=30,
            clock_now=now,
            rng_seed=2026,
            tenants=(tenant,),
        )
        seed_mailbox(sandbox, now, agreement_folders(sandbox, crm, now))
        os.environ |= {
            "HYGIENE_MAILCHIMP_API_KEY": credentials.MAILCHIMP_API_KEY,
            "HYGIENE_MAILCHIMP_HOST": sandbox.mailchimp_host,
            "HYGIENE_HUBSPOT_TOKEN": credentials.HUBSPOT_ACCESS_TOKEN,
            "HYGIENE_HUBSPOT_HOST": sandbox.hubspot_host,
            f"HYGIENE_{controller.upper()}_MAILCHIMP_LIST_ID": mailchimp.audiences[tenant.name],
        }
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


def seed_mailbox(sandbox: RunningSandbox, now: datetime, customers: list[SeedCustomer]) -> None:
    """A Gmail mailbox with a label per customer, Inbox, Sent and Trash, and the connector aimed at it."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    service = build(
        "gmail",
        "v1",
        client_options={"api_endpoint": sandbox.gmail_endpoint},
        credentials=Credentials(token=credentials.GMAIL_ACCESS_TOKEN),  # type: ignore[no-untyped-call]
        static_discovery=True,
    )
    seed_stressfri_mailbox(service, now, customers, rng_seed=2026)
    os.environ |= {
        "HYGIENE_GMAIL_API_ENDPOINT": sandbox.gmail_endpoint,
        "HYGIENE_GMAIL_TOKEN": credentials.GMAIL_ACCESS_TOKEN,
    }


@contextmanager
def stressfri_systems(workspace: Path, now: datetime) -> Iterator[RunningSandbox]:
    """The offers workbook (S4, and the customer register for S2), a Gmail mailbox with a label per customer of
    that register (S2, S8), and last month's Webnode export (S1)."""
    folder = workspace / "stressfri"
    folder.mkdir(parents=True, exist_ok=True)
    offers = offers_workbook(folder / "tilbud.xlsx", seed=2026, now=now, rows=30)
    export = write_webnode_export(
        folder / "webnode-export.csv", webnode_submissions(seed=2026, now=now, count=25), ExportFormat.CSV_SEMICOLON_BOM
    )
    os.environ |= {"HYGIENE_STRESSFRI_OFFERS": str(offers.path), "HYGIENE_STRESSFRI_WEBNODE_EXPORT": str(export.path)}
    os.environ.pop("HYGIENE_SPREADSHEET_PASSWORD", None)
    with running_sandbox() as sandbox:
        seed_mailbox(sandbox, now, register_customers(offers))
        yield sandbox


def register_customers(offers: OffersManifest) -> list[SeedCustomer]:
    """One mailbox customer per customer of the offers sheet, its label named as the sheet's "Kunde" cell."""
    ended = offers.ended_subjects()
    customers: dict[str, SeedCustomer] = {}
    for offer in offers.offers:
        customers.setdefault(
            offer.email.lower(),
            SeedCustomer(
                ref=f"K-{len(customers) + 1:04d}",
                label_name=f"{CUSTOMER_LABEL_PREFIX}{offer.customer}",
                email=offer.email,
                ended_on=ended.get(offer.email.lower()),
            ),
        )
    return list(customers.values())


def calmo_files(workspace: Path, now: datetime) -> AbstractContextManager[None]:
    """Calmo's external drive: invoices and client logbooks."""
    drive = calmo_folder(workspace / "calmo-drive", seed=2026, now=now, invoices=60, logbooks=16)
    os.environ["HYGIENE_CALMO_INVOICES"] = str(drive.root / "fakturaer")
    os.environ["HYGIENE_CALMO_LOGBOOKS"] = str(drive.root / "klientlogboeger")
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
    from cli.requests import erase, export

    settings = Settings()
    store = RequestStore(Ledger.from_settings(settings))
    people = [c.properties["email"] for c in sandbox.state.stores["hubspot"].live()]
    key = settings.key_for(policy.controller)
    today = datetime.now(policy.zone).date()
    erasure = store.open(policy, RequestKind.ERASURE, people[0], today, key)
    access = store.open(policy, RequestKind.ACCESS, people[1], today, key)
    console.rule(f"[bold]{policy.name}: an erasure request and an access request")
    erase(erasure.request_id, out=str(workspace / "letters" / f"{erasure.request_id}.txt"), json=False)
    export(access.request_id, out=str(workspace / "exports" / access.request_id), json=False)
    tally.add(policy.controller, requests=2)


def scene(policy: Policy, workspace: Path, now: datetime) -> AbstractContextManager[Any]:
    setups: dict[str, Callable[[], AbstractContextManager[Any]]] = {
        "clienti": lambda: vendor_tenant("clienti", now),
        "balance": lambda: vendor_tenant("balance", now),
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
    for policy in policies:
        with scene(policy, workspace, now) as sandbox:
            run_controller(policy, now, tally)
            attestations(policy, now, tally)
            if policy.controller == "clienti":
                rights_requests(policy, sandbox, workspace, tally)
    # the summary is the demo's answer: never squeeze it into a narrow pipe's 80 columns
    Console(width=max(console.width, 120)).print(summary_table(tally))
    report = Ledger.from_settings(Settings()).verify()
    if not report.ok:
        raise HygieneError(f"chain broken at entry {report.broken_at}: {report.reason}")
    console.print(f"chain verified: {report.count} entries")
