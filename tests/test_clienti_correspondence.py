"""Clienti's C4 in Gmail: agreements and their correspondence 5 years after the customer ended, the customers and
end dates from HubSpot, remembered in the ledger after C3 has erased the contact (emulators, official SDKs)."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage

import pytest
from hubspot.crm.contacts import SimplePublicObjectInput
from pydantic import SecretStr

from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.pseudonym import RECORD, SUBJECT, is_pseudonym, pseudonym
from hygiene.settings import Settings
from integrations.gmail import gmail_service
from sandbox import credentials
from sandbox.seed import SeededContact, cpr_number, hubspot_client
from sandbox.seed_gmail import MailboxManifest, SeedCustomer, seed_stressfri_mailbox
from tests.privacy import database_rows, hits
from tests.vendor_fixtures import AS_OF, CLIENTI, Seeded, aim_at, seeded_sandbox

POLICY = load_policy(policies_dir(), "clienti")
RUN = {"approved": True, "pause_for_approval": False}
#: past C4's minimum at AS_OF (the bookkeeping period of 2019 ended 2024-12-31)
LONG_AGO, LONGER_AGO = date(2019, 6, 1), date(2019, 3, 1)


@dataclass
class World:
    seeded: Seeded
    manifest: MailboxManifest
    #: by role: due (ended long ago), erased (ended long ago, contact erased by C3), recent, active
    people: dict[str, SeededContact]

    def service(self) -> object:
        return gmail_service(self.seeded.sandbox.gmail_endpoint, SecretStr(credentials.GMAIL_ACCESS_TOKEN))

    def remaining(self) -> set[str]:
        messages, found, token = self.service().users().messages(), set(), None  # type: ignore[attr-defined]
        while True:
            page = messages.list(userId="me", includeSpamTrash=True, maxResults=500, pageToken=token).execute()
            found |= {m["id"] for m in page.get("messages", [])}
            token = page.get("nextPageToken")
            if not token:
                return found


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[World]:
    with seeded_sandbox(CLIENTI, n=10) as seeded:
        aim_at(monkeypatch, seeded, "clienti")
        customers = [c for c in seeded.hubspot.contacts if c.id not in seeded.newsletter_only]
        ended = [c for c in customers if c.relationship_ended is not None]
        people = {
            "due": ended[0],
            "erased": ended[1],
            "recent": max(ended, key=lambda c: c.relationship_ended or date.min),
            "active": next(c for c in customers if c.relationship_ended is None),
        }
        crm = hubspot_client(seeded.sandbox.hubspot_host)
        for role, moved in (("due", LONG_AGO), ("erased", LONGER_AGO)):
            properties = {"customer_relationship_ended_at": moved.isoformat()}
            crm.crm.contacts.basic_api.update(people[role].id, SimplePublicObjectInput(properties=properties))
        ended_on = {"due": LONG_AGO, "erased": LONGER_AGO}
        mailbox = [
            SeedCustomer(role, f"Aftaler/{c.email}", c.email, ended_on.get(role, c.relationship_ended))
            for role, c in people.items()
        ]
        # the same customer's other mail, under a label that is not an agreement folder: C3's, not C4's
        mailbox.append(SeedCustomer("due-other", f"Kunder/{people['due'].email}", people["due"].email, LONG_AGO))
        service = gmail_service(seeded.sandbox.gmail_endpoint, SecretStr(credentials.GMAIL_ACCESS_TOKEN))
        manifest = seed_stressfri_mailbox(service, AS_OF, mailbox, rng_seed=4)
        yield World(seeded, manifest, people)


@pytest.mark.usefixtures("prefect_server")
def test_c4_deletes_the_agreement_mail_of_customers_ended_past_the_minimum_even_after_c3(
    world: World, database_url: str
) -> None:
    """The dry run reads the CRM and remembers the end dates; C3 then erases a contact; the real run still deletes
    that customer's agreement mail. An active customer's, a recent one's and a non-agreement folder survive."""
    from flows.enforce import enforce_rule

    before = world.remaining()
    [dry] = enforce_rule("clienti", "C4", dry_run=True, as_of=AS_OF, **RUN)
    assert dry["deleted"] == 0 and world.remaining() == before
    crm = hubspot_client(world.seeded.sandbox.hubspot_host)
    crm.crm.contacts.basic_api.purge(public_gdpr_delete_input={"objectId": world.people["erased"].id})

    [result] = enforce_rule("clienti", "C4", as_of=AS_OF, **RUN)
    due = set(world.manifest.of_customer("due")) | set(world.manifest.of_customer("erased"))
    assert result["deleted"] == len(due) and result["failed"] == 0
    assert world.remaining() == before - due
    for survivor in ("active", "recent", "due-other"):
        assert set(world.manifest.of_customer(survivor)) <= world.remaining(), survivor

    ledger = Ledger(database_url)
    remembered = list(ledger.entries(controller="clienti", kinds={EntryKind.REGISTER}))
    seeded = world.seeded
    ended = [c for c in seeded.hubspot.contacts if c.relationship_ended and c.id not in seeded.newsletter_only]
    assert len(remembered) == len(ended), "one entry per ended customer of the CRM, written once (the dry run's)"
    assert all(is_pseudonym(entry.subject or "") for entry in remembered)
    assert hits(database_rows(database_url), world.seeded.needles) == []
    assert ledger.verify().ok


def test_a_customer_the_crm_shows_active_again_keeps_their_mail(world: World, database_url: str) -> None:
    """The ledger remembers an end date, but a customer who came back is a running customer again."""
    from integrations.registry import connector_for

    c4 = POLICY.rule("C4")
    assert c4 is not None and c4.trigger is not None
    gmail = connector_for(POLICY, "gmail")
    first = {r.subject for r in gmail.records(c4.covers.selection, c4.trigger.event)}
    assert world.people["due"].email in first
    crm = hubspot_client(world.seeded.sandbox.hubspot_host)
    back = SimplePublicObjectInput(properties={"customer_relationship_ended_at": ""})
    crm.crm.contacts.basic_api.update(world.people["due"].id, back)
    again = {r.subject for r in connector_for(POLICY, "gmail").records(c4.covers.selection, c4.trigger.event)}
    assert again == first - {world.people["due"].email}


@pytest.mark.usefixtures("prefect_server")
def test_c7_flags_a_cpr_number_in_a_mail_and_deletes_nothing(world: World, database_url: str) -> None:
    """C7 reads the mailbox too: a mail whose text holds a valid CPR number is flagged by its part, for review;
    a ten-digit number that is no CPR number is not; no mail is deleted and the number reaches no evidence."""
    from flows.detect import detect_rule

    cpr = cpr_number(date(1984, 2, 29), random.Random(3))
    sender = world.people["active"].email
    flagged = insert(world, sender, f"Hej, mit cpr. nr. er {cpr}, kan I rette det?")
    insert(world, sender, "Ordrenummer 3213991234 er betalt.")  # 32 December: no date, no CPR number
    before = world.remaining()
    _crm, mailbox = detect_rule("clienti", "C7")
    assert mailbox["system"] == "gmail" and mailbox["findings"] == 1 and world.remaining() == before
    findings = list(Ledger(database_url).entries(run_id=mailbox["run_id"], kinds={EntryKind.FINDING}))
    assert [(e.payload["field"], e.subject) for e in findings] == [
        ("body", pseudonym(Settings().key_for("clienti"), SUBJECT, sender))
    ]
    assert findings[0].record == pseudonym(Settings().key_for("clienti"), RECORD, f"gmail:{flagged}")
    assert hits(database_rows(database_url), {cpr, cpr.replace("-", ""), sender}) == []


def insert(world: World, sender: str, text: str) -> str:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "kontakt@clienti.example", "Rettelse"
    mail.set_content(text)
    body = {"raw": base64.urlsafe_b64encode(mail.as_bytes()).decode(), "labelIds": ["INBOX"]}
    return str(world.service().users().messages().insert(userId="me", body=body).execute()["id"])  # type: ignore[attr-defined]
