"""Seed synthetic Mailchimp and HubSpot tenants THROUGH the official SDKs, as a user's own data would arrive.

The vendors stamp `last_changed`, `lastmodifieddate` and the like themselves, so history is written by moving
the sandbox clock: set it back, make the call, move on, and finally set it to `clock_now`. Everything is
derived from `rng_seed` (Faker locales da_DK for Clienti and Balance, sv_SE for Balansekonomi), so a seed gives
the same people, dates and ids every time on a fresh sandbox, and the returned manifest is the ground truth
the tests check against.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import httpx
import mailchimp_marketing
from dateutil.relativedelta import relativedelta
from faker import Faker
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.crm.properties import PropertyCreate
from hubspot.crm.properties.exceptions import ApiException as PropertyApiException

from sandbox import credentials
from sandbox.mailchimp_store import subscriber_hash

#: ages (days before clock_now) of the seeded Mailchimp unsubscribes
UNSUBSCRIBE_AGES_DAYS = (1, 3, 6, 10, 40)
#: ages (months before clock_now) at which seeded HubSpot customer relationships ended; None = still a customer
RELATIONSHIP_ENDED_MONTHS: tuple[int | None, ...] = (10, 23, 25, 30, None)
CUSTOM_PROPERTIES = (
    ("customer_relationship_ended_at", "Customer relationship ended", "date", "date"),
    ("marked_not_relevant", "Marked not relevant", "bool", "booleancheckbox"),
    ("notes", "Notes", "string", "textarea"),
)
_ASCII = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "a", "ö": "o", "é": "e", "ü": "u"})
_CPR_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class Tenant:
    name: str
    locale: str


TENANTS = (Tenant("Clienti", "da_DK"), Tenant("Balance", "da_DK"), Tenant("Balansekonomi", "sv_SE"))


class SettableClock(Protocol):
    """The sandbox clock, in process (`SandboxState.clock`) or over HTTP (`HttpClock`)."""

    def set(self, moment: datetime) -> None: ...


class HttpClock:
    """Sets the clock of a sandbox served elsewhere, through `POST /_sandbox/clock`."""

    def __init__(self, base_url: str) -> None:
        self._url = f"{base_url.rstrip('/')}/_sandbox/clock"

    def set(self, moment: datetime) -> None:
        httpx.post(self._url, json={"now": moment.isoformat()}, timeout=10).raise_for_status()


def mailchimp_client(host: str, api_key: str = credentials.MAILCHIMP_API_KEY) -> mailchimp_marketing.Client:
    """The official client aimed at `host` (the SDK builds its host from the key's data centre otherwise)."""
    client = mailchimp_marketing.Client({"api_key": api_key})
    client.api_client.host = host
    return client


def hubspot_client(host: str, access_token: str = credentials.HUBSPOT_ACCESS_TOKEN) -> HubSpot:
    """The official client aimed at `host` (it becomes `Configuration.host` of every API client)."""
    return HubSpot(access_token=access_token, host=host)


# Mailchimp ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededMember:
    tenant: str
    list_id: str
    email: str
    subscriber_hash: str
    status: str
    unsubscribed_at: datetime | None


@dataclass(frozen=True)
class MailchimpManifest:
    audiences: dict[str, str]
    members: tuple[SeededMember, ...]

    def unsubscribed(self) -> list[SeededMember]:
        return [m for m in self.members if m.status == "unsubscribed"]


def seed_mailchimp(
    client: mailchimp_marketing.Client,
    clock: SettableClock,
    *,
    n: int,
    clock_now: datetime,
    rng_seed: int,
    tenants: Sequence[Tenant] = TENANTS,
) -> MailchimpManifest:
    """One audience per tenant with `n` members; every other one unsubscribed 1, 3, 6, 10 or 40 days ago."""
    audiences: dict[str, str] = {}
    members: list[SeededMember] = []
    for offset, tenant in enumerate(tenants):
        fake, rng = _faker(tenant, rng_seed + offset)
        list_id = _create_audience(client, tenant, clock, clock_now - timedelta(days=800))
        audiences[tenant.name] = list_id
        for index in range(n):
            members.append(_seed_member(client, clock, tenant, list_id, index, fake, rng, clock_now))
    clock.set(clock_now)
    return MailchimpManifest(audiences, tuple(members))


def _create_audience(client: mailchimp_marketing.Client, tenant: Tenant, clock: SettableClock, when: datetime) -> str:
    clock.set(when)
    country = tenant.locale[-2:]
    audience = client.lists.create_list(
        {
            "name": f"{tenant.name} nyhedsbrev",
            "contact": {
                "company": tenant.name,
                "address1": "Testvej 1",
                "city": "Testby",
                "zip": "1000",
                "country": country,
                "state": "",
            },
            "permission_reminder": "Du modtager denne mail, fordi du har tilmeldt dig vores nyhedsbrev.",
            "campaign_defaults": {
                "from_name": tenant.name,
                "from_email": "news@example.invalid",
                "subject": "",
                "language": tenant.locale[:2],
            },
            "email_type_option": False,
        }
    )
    client.lists.add_list_merge_field(audience["id"], {"name": "Customer number", "type": "text", "tag": "CUSTNO"})
    return str(audience["id"])


def _seed_member(
    client: mailchimp_marketing.Client,
    clock: SettableClock,
    tenant: Tenant,
    list_id: str,
    index: int,
    fake: Faker,
    rng: random.Random,
    clock_now: datetime,
) -> SeededMember:
    first, last = fake.first_name(), fake.last_name()
    email = _email(first, last, index, tenant)
    unsubscribed_at = (
        (
            clock_now
            - timedelta(days=UNSUBSCRIBE_AGES_DAYS[(index // 2) % len(UNSUBSCRIBE_AGES_DAYS)], hours=rng.randint(0, 20))
        )
        if index % 2
        else None
    )
    signed_up = clock_now - timedelta(days=rng.randint(60, 700))
    clock.set(signed_up)
    client.lists.add_list_member(
        list_id,
        {
            "email_address": email,
            "status": "subscribed",
            "timestamp_signup": signed_up.replace(microsecond=0).isoformat(),
            "merge_fields": {
                "FNAME": first,
                "LNAME": last,
                "PHONE": fake.phone_number(),
                "BIRTHDAY": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}",
                "CUSTNO": f"C{index:05d}",
            },
        },
    )
    if unsubscribed_at is not None:
        clock.set(unsubscribed_at)
        client.lists.update_list_member(list_id, subscriber_hash(email), {"status": "unsubscribed"})
    status = "unsubscribed" if unsubscribed_at else "subscribed"
    return SeededMember(tenant.name, list_id, email, subscriber_hash(email), status, unsubscribed_at)


# HubSpot --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededContact:
    id: str
    tenant: str
    email: str
    created_at: datetime
    last_modified: datetime
    relationship_ended: date | None
    not_relevant: bool
    #: the CPR number or personnummer written into `notes`, if any
    national_id: str | None


@dataclass(frozen=True)
class HubSpotManifest:
    contacts: tuple[SeededContact, ...]


def seed_hubspot(
    client: HubSpot,
    clock: SettableClock,
    *,
    n: int,
    clock_now: datetime,
    rng_seed: int,
    tenants: Sequence[Tenant] = TENANTS,
) -> HubSpotManifest:
    """`n` contacts per tenant in one portal: relationships ended 10, 23, 25 or 30 months ago (or ongoing),
    every seventh marked not relevant, every fourth with a valid CPR number / personnummer in its notes."""
    _define_custom_properties(client)
    contacts: list[SeededContact] = []
    for offset, tenant in enumerate(tenants):
        fake, rng = _faker(tenant, rng_seed + offset)
        for index in range(n):
            contacts.append(_seed_contact(client, clock, tenant, index, fake, rng, clock_now))
    clock.set(clock_now)
    return HubSpotManifest(tuple(contacts))


def _define_custom_properties(client: HubSpot) -> None:
    for name, label, kind, field_type in CUSTOM_PROPERTIES:
        try:
            client.crm.properties.core_api.create(
                "contacts",
                PropertyCreate(
                    name=name, label=label, type=kind, field_type=field_type, group_name="contactinformation"
                ),
            )
        except PropertyApiException as exc:
            if exc.status != 409:  # already defined by an earlier seeding of the same portal
                raise


def _seed_contact(
    client: HubSpot,
    clock: SettableClock,
    tenant: Tenant,
    index: int,
    fake: Faker,
    rng: random.Random,
    clock_now: datetime,
) -> SeededContact:
    first, last = fake.first_name(), fake.last_name()
    email = _email(first, last, index, tenant)
    months = RELATIONSHIP_ENDED_MONTHS[index % len(RELATIONSHIP_ENDED_MONTHS)]
    ended = (clock_now - relativedelta(months=months)).date() if months is not None else None
    created = clock_now - timedelta(days=rng.randint(1000, 2000))
    modified = clock_now - relativedelta(months=months or 0) + timedelta(days=rng.randint(0, 5))
    modified = min(modified, clock_now)
    national_id = _national_id(tenant, rng) if index % 4 == 0 else None
    properties: dict[str, Any] = {
        "email": email,
        "firstname": first,
        "lastname": last,
        "phone": fake.phone_number(),
        "lifecyclestage": "customer",
        "createdate": created.isoformat(),
        "marked_not_relevant": index % 7 == 3,
        "notes": f"Ringede om faktura; ID {national_id} oplyst." if national_id else "Ringede om faktura.",
    }
    if ended is not None:
        properties["customer_relationship_ended_at"] = ended.isoformat()
    clock.set(modified)
    made = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=properties))
    return SeededContact(str(made.id), tenant.name, email, created, modified, ended, index % 7 == 3, national_id)


# synthetic people ------------------------------------------------------------------------------------------


def _faker(tenant: Tenant, seed: int) -> tuple[Faker, random.Random]:
    fake = Faker(tenant.locale)
    fake.seed_instance(seed)
    return fake, random.Random(seed)


def _email(first: str, last: str, index: int, tenant: Tenant) -> str:
    local = re.sub(r"[^a-z0-9.]", "", f"{first}.{last}".lower().translate(_ASCII))
    return f"{local}.{index}@{tenant.name.lower()}-kunde.example"


def _national_id(tenant: Tenant, rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 18000))
    return personnummer(born, rng) if tenant.locale == "sv_SE" else cpr_number(born, rng)


def cpr_number(born: date, rng: random.Random) -> str:
    """A Danish CPR number `DDMMYY-SSSS` that passes the modulus-11 check."""
    stem = born.strftime("%d%m%y")
    while True:
        serial = f"{rng.randint(0, 9999):04d}"
        digits = [int(d) for d in stem + serial]
        if sum(w * d for w, d in zip(_CPR_WEIGHTS, digits, strict=True)) % 11 == 0:
            return f"{stem}-{serial}"


def personnummer(born: date, rng: random.Random) -> str:
    """A Swedish personnummer `YYMMDD-NNNC` whose check digit C is the Luhn digit of the nine before it."""
    body = born.strftime("%y%m%d") + f"{rng.randint(0, 999):03d}"
    return f"{body[:6]}-{body[6:]}{luhn_digit(body)}"


def luhn_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(digits):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10
