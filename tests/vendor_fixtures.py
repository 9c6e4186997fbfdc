"""Seeded Mailchimp and HubSpot sandboxes for the connector and rule tests, and the environment that aims the
product at them.

One controller's tenant per sandbox (the emulated HubSpot portal is one account, so two tenants in it would be
one controller's CRM). The same seed gives the same people in both systems, as a newsletter synced to a CRM
would: member i and contact i share an email. Every third contact is made a newsletter-only subscriber (not a
customer), the people whose CRM record C1 deletes with the list entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput

from sandbox import credentials
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed import (
    HubSpotManifest,
    MailchimpManifest,
    SeededContact,
    Tenant,
    hubspot_client,
    mailchimp_client,
    seed_hubspot,
    seed_mailchimp,
)

AS_OF = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
CLIENTI = Tenant("Clienti", "da_DK")
BALANCE = Tenant("Balance", "da_DK")
BALANSEKONOMI = Tenant("Balansekonomi", "sv_SE")


@dataclass
class Seeded:
    sandbox: RunningSandbox
    mailchimp: MailchimpManifest
    hubspot: HubSpotManifest
    list_id: str
    newsletter_only: set[str]
    #: emails, full names and national ids of everyone seeded: none may reach logs, evidence or Prefect
    needles: set[str] = field(default_factory=set)

    def contact(self, email: str) -> SeededContact | None:
        return next((c for c in self.hubspot.contacts if c.email == email), None)

    def live_contact_ids(self) -> set[str]:
        return {str(c.id) for c in self.sandbox.state.stores["hubspot"].live()}

    def member_emails(self) -> set[str]:
        client = mailchimp_client(self.sandbox.mailchimp_host)
        page = client.lists.get_list_members_info(self.list_id, count=1000, fields=["members.email_address"])
        return {m["email_address"] for m in page["members"]}


@contextmanager
def seeded_sandbox(tenant: Tenant, n: int = 30, rng_seed: int = 5) -> Iterator[Seeded]:
    with running_sandbox() as sb:
        sb.state.enforce_rate_limits = False
        mailchimp = seed_mailchimp(
            mailchimp_client(sb.mailchimp_host),
            sb.state.clock,
            n=n,
            clock_now=AS_OF,
            rng_seed=rng_seed,
            tenants=(tenant,),
        )
        crm = hubspot_client(sb.hubspot_host)
        hubspot = seed_hubspot(crm, sb.state.clock, n=n, clock_now=AS_OF, rng_seed=rng_seed, tenants=(tenant,))
        newsletter_only = _make_newsletter_only(crm, sb, hubspot)
        seeded = Seeded(sb, mailchimp, hubspot, mailchimp.audiences[tenant.name], newsletter_only)
        seeded.needles = _needles(seeded)
        yield seeded


def _make_newsletter_only(crm: HubSpot, sb: RunningSandbox, manifest: HubSpotManifest) -> set[str]:
    """Every third contact becomes a subscriber, not a customer; written at its own last-modified time."""
    chosen = manifest.contacts[::3]
    for contact in chosen:
        sb.state.clock.set(contact.last_modified)
        crm.crm.contacts.basic_api.update(
            contact.id,
            SimplePublicObjectInput(properties={"lifecyclestage": "subscriber", "customer_relationship_ended_at": ""}),
        )
    sb.state.clock.set(AS_OF)
    return {c.id for c in chosen}


def _needles(seeded: Seeded) -> set[str]:
    people = seeded.sandbox.state.stores["hubspot"].live()
    names = {f"{c.properties.get('firstname')} {c.properties.get('lastname')}" for c in people}
    ids = {c.national_id for c in seeded.hubspot.contacts if c.national_id}
    return {m.email for m in seeded.mailchimp.members} | names | ids


def aim_at(monkeypatch: pytest.MonkeyPatch, seeded: Seeded, controller: str) -> None:
    """The environment a user would set, pointing at the sandbox, with short waits for the fault tests."""
    monkeypatch.setenv("HYGIENE_MAILCHIMP_API_KEY", credentials.MAILCHIMP_API_KEY)
    monkeypatch.setenv("HYGIENE_MAILCHIMP_HOST", seeded.sandbox.mailchimp_host)
    monkeypatch.setenv("HYGIENE_HUBSPOT_TOKEN", credentials.HUBSPOT_ACCESS_TOKEN)
    monkeypatch.setenv("HYGIENE_HUBSPOT_HOST", seeded.sandbox.hubspot_host)
    monkeypatch.setenv(f"HYGIENE_{controller.upper()}_MAILCHIMP_LIST_ID", seeded.list_id)
    # the same sandbox's (empty unless a test fills it) mailbox: Clienti's C4 and C7 read Gmail too
    monkeypatch.setenv("HYGIENE_GMAIL_API_ENDPOINT", seeded.sandbox.gmail_endpoint)
    monkeypatch.setenv("HYGIENE_GMAIL_TOKEN", credentials.GMAIL_ACCESS_TOKEN)
    for vendor in ("MAILCHIMP", "HUBSPOT"):
        monkeypatch.setenv(f"HYGIENE_{vendor}_RETRY_FIRST_WAIT", "0.01")
    monkeypatch.setenv("HYGIENE_MAILCHIMP_BATCH_POLL_FIRST", "0.02")
    monkeypatch.setenv("HYGIENE_HUBSPOT_RATE_LIMIT", "10000/10")
