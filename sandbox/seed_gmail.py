"""Seed Stressfri's Gmail mailbox through the Gmail API (so it works on the sandbox and on a real test account).

Stressfri's notice: all mail correspondence is kept "in its own folder" per customer; mails about ended customer
relationships (or prospects no longer relevant) are deleted quarterly, including those in Sent and Trash, and so
are mails no longer relevant to the relationship. We model that as:
- one user label per customer, named as the controller names it: `Kunder/<customer or company name>`. The label
  name is personal data, so evidence and logs never copy it; they name the customer by `ref` (e.g. `K-0007`),
  our pseudonymous key, which the controller maps to the label in configuration;
- per customer, threads of inbound mail (INBOX) and replies (SENT), dated at any hour, some moved to Trash (which
  keeps the customer label, as Gmail does), some also labelled `Ikke relevant` (no longer relevant, rule S8);
- unrelated mail (newsletters, vendors, the accountant, family) with no customer label, which must never be
  deleted.
Deterministic per `rng_seed`; message ids come from the mailbox, so they repeat only on a fresh mailbox. Every
insert costs 25 quota units: seed more than ~500 mails a minute only with rate limits off.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from faker import Faker

OSLO = ZoneInfo("Europe/Oslo")
CUSTOMER_LABEL_PREFIX = "Kunder/"
#: Clienti's agreement folders (C4): `Aftaler/<the customer's email in the CRM>`
AGREEMENT_LABEL_PREFIX = "Aftaler/"
NOT_RELEVANT_LABEL = "Ikke relevant"
FAKER_LOCALE = "no_NO"  # Faker's name for Norwegian Bokmål (nb_NO)
FOLDERS = ("inbox", "sent", "trash", "archived")

_SUBJECTS = (
    "Spørsmål om coaching",
    "Tilbud på oppgaveløsning",
    "Timebestilling",
    "Avtale om administrering",
    "Oppfølging etter samtalen",
    "Faktura og betaling",
    "Endring av time",
)
_SENTENCES = (
    "Takk for en god samtale i går.",
    "Jeg lurer på om vi kan flytte timen til neste uke.",
    "Vedlagt finner du tilbudet vi snakket om.",
    "Kan du sende meg en oppsummering av målene våre?",
    "Jeg har sett på oppgavene og har noen spørsmål.",
    "Fakturaen er betalt, takk for hjelpen.",
    "Passer det med et møte på torsdag formiddag?",
    "Jeg ønsker å fortsette med et nytt forløp.",
)
_UNRELATED = (
    ("nyhetsbrev@coachforbundet.example.org", "Nyhetsbrev: fagdag for coacher"),
    ("ads-noreply@example.com", "Google Ads: månedsrapport for kontoen din"),
    ("noreply@eaccounting.example.net", "Visma eAccounting: nye funksjoner"),
    ("regnskap@regnskapskontor.example.no", "Bilag til årsoppgjøret"),
    ("mamma@example.net", "Middag på søndag?"),
    ("noreply@webnode.example.com", "Fornyelse av nettsiden din"),
)


@dataclass(frozen=True)
class SeedCustomer:
    """A customer or prospect: our key, the controller's folder (label) name, their address, when it ended."""

    ref: str
    label_name: str
    email: str
    ended_on: date | None = None


@dataclass
class MailboxManifest:
    """Ground truth of a seeded mailbox, by id: what each customer has in each folder, and what is unrelated."""

    owner: str
    not_relevant_label_id: str
    customer_label_ids: dict[str, str] = field(default_factory=dict)
    customer_messages: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    not_relevant: list[str] = field(default_factory=list)
    unrelated: list[str] = field(default_factory=list)
    folders: dict[str, list[str]] = field(default_factory=lambda: {f: [] for f in FOLDERS})
    internal_dates: dict[str, datetime] = field(default_factory=dict)

    def of_customer(self, ref: str) -> list[str]:
        return [i for ids in self.customer_messages.get(ref, {}).values() for i in ids]


def default_customers(count: int, *, now: datetime, rng_seed: int) -> list[SeedCustomer]:
    """`count` customers with Norwegian names; about 40 % ended between two years and a week before `now`."""
    fake = Faker(FAKER_LOCALE)
    fake.seed_instance(rng_seed)
    rng = random.Random(rng_seed)
    customers: list[SeedCustomer] = []
    used_names: set[str] = set()
    for n in range(1, count + 1):
        name = fake.company() if rng.random() < 0.25 else fake.name()
        while name in used_names:
            name = fake.name()
        used_names.add(name)
        ended = now.date() - timedelta(days=rng.randint(7, 730)) if rng.random() < 0.4 else None
        email = f"kunde{n:04d}.{fake.user_name()}@{fake.safe_domain_name()}"
        customers.append(SeedCustomer(f"K-{n:04d}", f"{CUSTOMER_LABEL_PREFIX}{name}", email, ended))
    return customers


class _Seeder:
    """Writes one mailbox; keeps the generators and the manifest together."""

    def __init__(self, service: Any, now: datetime, rng_seed: int) -> None:
        self.service = service
        self.now = now
        self.rng = random.Random(rng_seed)
        self.fake = Faker(FAKER_LOCALE)
        self.fake.seed_instance(rng_seed)
        self.owner = str(service.users().getProfile(userId="me").execute()["emailAddress"])
        self.manifest = MailboxManifest(self.owner, self._create_label(NOT_RELEVANT_LABEL))

    def _create_label(self, name: str) -> str:
        body = {"name": name, "labelListVisibility": "labelShow", "messageListVisibility": "show"}
        return str(self.service.users().labels().create(userId="me", body=body).execute()["id"])

    def _insert(self, mail: EmailMessage, label_ids: list[str], thread_id: str | None) -> tuple[str, str]:
        """Insert with internalDateSource=dateHeader, so the mail's Date is its Gmail date (as for old mail)."""
        body: dict[str, Any] = {"raw": base64.urlsafe_b64encode(mail.as_bytes()).decode(), "labelIds": label_ids}
        if thread_id:
            body["threadId"] = thread_id
        answer = (
            self.service.users().messages().insert(userId="me", body=body, internalDateSource="dateHeader").execute()
        )
        return str(answer["id"]), str(answer["threadId"])

    def _mail(self, sender: str, recipient: str, subject: str, sent_at: datetime, reply_to: str = "") -> EmailMessage:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, recipient, subject
        mail["Date"] = format_datetime(sent_at.astimezone(OSLO))
        mail["Message-ID"] = f"<{self.rng.getrandbits(64):016x}@seed.example>"
        if reply_to:
            mail["In-Reply-To"] = mail["References"] = reply_to
        greeting = self.fake.first_name()
        mail.set_content(f"Hei {greeting},\n\n{self.rng.choice(_SENTENCES)}\n\nMed vennlig hilsen\n{sender}\n")
        return mail

    def _moment(self, start: datetime, end: datetime) -> datetime:
        """Any second between start and end, so mails fall at night and around midnight too."""
        span = max(int((end - start).total_seconds()), 1)
        return start + timedelta(seconds=self.rng.randrange(span))

    def _window(self, customer: SeedCustomer) -> tuple[datetime, datetime]:
        if customer.ended_on is None:
            return self.now - timedelta(days=self.rng.randint(30, 700)), self.now - timedelta(minutes=5)
        ended = datetime.combine(customer.ended_on, datetime.min.time(), OSLO)
        return ended - timedelta(days=self.rng.randint(60, 400)), min(ended + timedelta(days=3), self.now)

    def _record(self, ref: str | None, message_id: str, folder: str, at: datetime) -> None:
        self.manifest.folders[folder].append(message_id)
        self.manifest.internal_dates[message_id] = at.replace(microsecond=0)
        if ref is None:
            self.manifest.unrelated.append(message_id)
        else:
            self.manifest.customer_messages[ref].setdefault(folder, []).append(message_id)

    def seed_customer(self, customer: SeedCustomer) -> None:
        label_id = self._create_label(customer.label_name)
        self.manifest.customer_label_ids[customer.ref] = label_id
        self.manifest.customer_messages[customer.ref] = {}
        start, end = self._window(customer)
        for _ in range(self.rng.randint(2, 4)):
            self._seed_thread(customer, label_id, self._moment(start, end), end)

    def _seed_thread(self, customer: SeedCustomer, label_id: str, first_at: datetime, end: datetime) -> None:
        """An inbound mail and the owner's reply, each possibly trashed or marked no longer relevant."""
        subject = self.rng.choice(_SUBJECTS)
        inbound = self._mail(customer.email, self.owner, subject, first_at)
        _, thread_id = self._store(customer.ref, inbound, label_id, "INBOX", first_at, None)
        reply_at = min(first_at + timedelta(minutes=self.rng.randint(20, 4 * 24 * 60)), end)
        reply = self._mail(self.owner, customer.email, f"Re: {subject}", reply_at, reply_to=inbound["Message-ID"])
        self._store(customer.ref, reply, label_id, "SENT", reply_at, thread_id)

    def _store(
        self, ref: str, mail: EmailMessage, label_id: str, box: str, at: datetime, thread_id: str | None
    ) -> tuple[str, str]:
        labels = [box, label_id]
        folder = box.lower()
        if self.rng.random() < 0.15:
            labels, folder = ["TRASH", label_id], "trash"
        elif box == "INBOX" and self.rng.random() < 0.3:
            labels.append("UNREAD")
        not_relevant = self.rng.random() < 0.15
        if not_relevant:
            labels.append(self.manifest.not_relevant_label_id)
        message_id, thread = self._insert(mail, labels, thread_id)
        self._record(ref, message_id, folder, at)
        if not_relevant:
            self.manifest.not_relevant.append(message_id)
        return message_id, thread

    def seed_unrelated(self, count: int) -> None:
        """Mail with no customer label, in the Inbox, in Sent or archived: it must survive every cleanup."""
        for n in range(count):
            other, subject = _UNRELATED[n % len(_UNRELATED)]
            at = self._moment(self.now - timedelta(days=1100), self.now - timedelta(minutes=5))
            box = self.rng.choice(("INBOX", "SENT", "archived"))
            sender, recipient = (self.owner, other) if box == "SENT" else (other, self.owner)
            labels = [] if box == "archived" else [box]
            message_id, _ = self._insert(self._mail(sender, recipient, subject, at), labels, None)
            self._record(None, message_id, box.lower(), at)


def seed_stressfri_mailbox(
    service: Any, now: datetime, customers: Sequence[SeedCustomer], rng_seed: int, *, unrelated: int | None = None
) -> MailboxManifest:
    """Create labels and mails through `service` (a googleapiclient Gmail service); answer the ground truth.

    `unrelated` mails default to one per customer, at least ten.
    """
    seeder = _Seeder(service, now, rng_seed)
    for customer in customers:
        seeder.seed_customer(customer)
    seeder.seed_unrelated(max(10, len(customers)) if unrelated is None else unrelated)
    return seeder.manifest
