"""The demo's world: synthetic tenants, a mailbox and files, seeded into a running sandbox and a workspace.

`hygiene demo` seeds one controller's systems at a time (each in a sandbox of its own, so no run ever sees
another controller's contacts); `hygiene playground` seeds Clienti's tenant, Stressfri's files and mailbox and
Calmo's drive into one sandbox and one workspace for people to try the CLI and the UI on. Both use these
functions, so the playground's people are the demo's: everything is derived from `SEED`, and a fresh sandbox
seeded again holds the same people.

Each function returns the environment variables that aim the real connectors at what it seeded, as a user's
own configuration would; the caller decides where they go (the process, or `.demo/env`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sandbox import credentials
from sandbox.runner import RunningSandbox
from sandbox.seed import (
    TENANTS,
    HubSpotManifest,
    MailchimpManifest,
    hubspot_client,
    mailchimp_client,
    seed_hubspot,
    seed_mailchimp,
)
from sandbox.seed_files import (
    ExportFormat,
    FolderManifest,
    OffersManifest,
    balance_register,
    calmo_folder,
    offers_workbook,
    webnode_submissions,
    write_webnode_export,
)
from sandbox.seed_gmail import CUSTOMER_LABEL_PREFIX, SeedCustomer, seed_stressfri_mailbox

#: every seeded person, date and id derives from this
SEED = 2026
#: members and contacts of a vendor tenant
TENANT_SIZE = 30

Environment = dict[str, str]


def demo_key_variables(controllers: tuple[str, ...]) -> Environment:
    """Demo-only pseudonym keys: public, so they protect nothing; never use them for real data."""
    return {f"HYGIENE_KEY_{c.upper()}": f"demo-only-key-{c}-not-secret" for c in controllers}


def seed_vendor_tenant(
    sandbox: RunningSandbox, controller: str, now: datetime
) -> tuple[MailchimpManifest, HubSpotManifest, Environment]:
    """One controller's Mailchimp audience and HubSpot contacts, seeded through the official SDKs."""
    tenant = next(t for t in TENANTS if t.name.lower() == controller)
    clock = sandbox.state.clock
    mailchimp = seed_mailchimp(
        mailchimp_client(sandbox.mailchimp_host), clock, n=TENANT_SIZE, clock_now=now, rng_seed=SEED, tenants=(tenant,)
    )
    hubspot = seed_hubspot(
        hubspot_client(sandbox.hubspot_host), clock, n=TENANT_SIZE, clock_now=now, rng_seed=SEED, tenants=(tenant,)
    )
    env = {
        "HYGIENE_MAILCHIMP_API_KEY": credentials.MAILCHIMP_API_KEY,
        "HYGIENE_MAILCHIMP_HOST": sandbox.mailchimp_host,
        "HYGIENE_HUBSPOT_TOKEN": credentials.HUBSPOT_ACCESS_TOKEN,
        "HYGIENE_HUBSPOT_HOST": sandbox.hubspot_host,
        f"HYGIENE_{controller.upper()}_MAILCHIMP_LIST_ID": mailchimp.audiences[tenant.name],
    }
    return mailchimp, hubspot, env


def seed_mailbox(sandbox: RunningSandbox, now: datetime, customers: list[SeedCustomer]) -> Environment:
    """A Gmail mailbox with a label per customer, Inbox, Sent and Trash."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    service = build(
        "gmail",
        "v1",
        client_options={"api_endpoint": sandbox.gmail_endpoint},
        credentials=Credentials(token=credentials.GMAIL_ACCESS_TOKEN),  # type: ignore[no-untyped-call]
        static_discovery=True,
    )
    seed_stressfri_mailbox(service, now, customers, rng_seed=SEED)
    return {"HYGIENE_GMAIL_API_ENDPOINT": sandbox.gmail_endpoint, "HYGIENE_GMAIL_TOKEN": credentials.GMAIL_ACCESS_TOKEN}


def seed_stressfri_files(workspace: Path, now: datetime) -> tuple[OffersManifest, Environment]:
    """The offers workbook (S4, and the customer register for S2) and last month's Webnode export (S1)."""
    folder = workspace / "stressfri"
    folder.mkdir(parents=True, exist_ok=True)
    offers = offers_workbook(folder / "tilbud.xlsx", seed=SEED, now=now, rows=30)
    export = write_webnode_export(
        folder / "webnode-export.csv", webnode_submissions(seed=SEED, now=now, count=25), ExportFormat.CSV_SEMICOLON_BOM
    )
    return offers, {"HYGIENE_STRESSFRI_OFFERS": str(offers.path), "HYGIENE_STRESSFRI_WEBNODE_EXPORT": str(export.path)}


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


def seed_balance_register(workspace: Path, now: datetime) -> Environment:
    """Balance's CRM export, the register of its paper archive (B2–B5)."""
    folder = workspace / "balance"
    folder.mkdir(parents=True, exist_ok=True)
    register = balance_register(folder / "crm-kontakter.csv", seed=SEED, now=now)
    return {"HYGIENE_BALANCE_PAPER_REGISTER": str(register.path)}


def seed_calmo_drive(workspace: Path, now: datetime) -> tuple[FolderManifest, Environment]:
    """Calmo's external drive: invoices and client logbooks."""
    drive = calmo_folder(workspace / "calmo-drive", seed=SEED, now=now, invoices=60, logbooks=16)
    return drive, {
        "HYGIENE_CALMO_INVOICES": str(drive.root / "fakturaer"),
        "HYGIENE_CALMO_LOGBOOKS": str(drive.root / "klientlogboeger"),
    }
