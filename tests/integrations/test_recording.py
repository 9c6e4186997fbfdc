"""Recording mode: cassettes keep no secret and no personal data, and still replay the connectors' traffic.

The cassettes in tests/cassettes were recorded through this scrubber against the sandbox emulators (which
answer in the vendors' documented shapes) with the sandbox host rewritten to the vendors' own, and replay here
with no sandbox running. Delete one to record it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request

from hygiene.connector import Connector
from integrations.hubspot import HubSpotConnector
from integrations.mailchimp import BatchPolling, MailchimpConnector
from integrations.pacing import Backoff
from integrations.recording import Scrubber, recording_vcr
from sandbox import credentials
from sandbox.mailchimp_store import subscriber_hash
from sandbox.seed import hubspot_client, mailchimp_client
from tests.vendor_fixtures import CLIENTI, Seeded, seeded_sandbox

CASSETTES = Path(__file__).parent.parent / "cassettes"
MAILCHIMP = "https://us21.api.mailchimp.com/3.0"
HUBSPOT = "https://api.hubapi.com"
FAST = Backoff(attempts=3, first_wait=0.01)

names = st.from_regex(r"[A-Z][a-zæøå]{3,12}", fullmatch=True)
emails = st.from_regex(r"[a-z]{4,10}\.[a-z]{4,10}@[a-z]{4,8}\.(dk|se|com)", fullmatch=True)


@given(emails, names, names)
def test_no_email_name_or_key_survives_the_scrubber(email: str, first: str, last: str) -> None:
    scrubber = Scrubber()
    member_hash = subscriber_hash(email)
    request = Request(
        "POST",
        f"https://us21.api.mailchimp.com/3.0/lists/abc/members/{member_hash}"
        f"?query={email.replace('@', '%40')}&apikey=key-us21",
        json.dumps(
            {
                "email_address": email,
                "merge_fields": {"FNAME": first, "LNAME": last},
                "operations": [
                    {
                        "path": f"/lists/abc/members/{member_hash}",
                        "body": json.dumps({"firstname": first, "email": email}),
                    }
                ],
            }
        ),
        {"Authorization": "Basic c2VjcmV0", "Content-Type": "application/json"},
    )
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Length": ["1"]},
        "body": {
            "string": json.dumps(
                {
                    "members": [
                        {
                            "id": member_hash,
                            "email_address": email,
                            "full_name": f"{first} {last}",
                            "properties": {"firstname": first, "lastname": last, "phone": "+45 12 34 56 78"},
                        }
                    ]
                }
            ).encode()
        },
    }
    scrubbed = scrubber.request(request)
    written = scrubbed.uri + (scrubbed.body or b"").decode() + json.dumps(dict(scrubbed.headers))
    written += scrubber.response(response)["body"]["string"].decode()
    for needle in (email, first, last, member_hash, "c2VjcmV0", "key-us21", "12 34 56 78"):
        assert needle.lower() not in written.lower()
    assert scrubber.request(scrubbed).uri == scrubbed.uri, "scrubbing is idempotent, so playback matches"


def mailchimp_at(host: str, list_id: str) -> MailchimpConnector:
    return MailchimpConnector(mailchimp_client(host), list_id, backoff=FAST, polling=BatchPolling(first=0.02))


def hubspot_at(host: str) -> HubSpotConnector:
    return HubSpotConnector(hubspot_client(host), tz=ZoneInfo("Europe/Copenhagen"), rate=(10_000, 10.0), backoff=FAST)


def exercise(mailchimp: Connector, hubspot: Connector) -> dict[str, object]:
    """What the replay test checks: a stream, a batched deletion with proof, and a CRM deletion with proof."""
    members = list(mailchimp.records({"status": "unsubscribed"}, "unsubscribed_at"))
    customers = list(hubspot.records({"lifecyclestage": "customer"}, "customer_relationship_ended_at"))
    member_ids = [m.record_id for m in members]
    contact_ids = [c.record_id for c in customers[:3]]
    return {
        "members": len(members),
        "customers": len(customers),
        "deleted": [r.ok for r in mailchimp.delete(member_ids)] + [r.ok for r in hubspot.delete(contact_ids)],
        "absent": [p.absent for p in mailchimp.verify_absent(member_ids)]
        + [p.absent for p in hubspot.verify_absent(contact_ids)],
    }


@pytest.fixture(scope="module")
def recorded() -> Iterator[dict[str, object]]:
    """The cassette of `exercise` against a seeded sandbox, recorded once, and the list id it used."""
    cassette = CASSETTES / "clienti-c1-c3.yaml"
    meta = CASSETTES / "clienti-c1-c3.json"
    if not cassette.exists():
        with seeded_sandbox(CLIENTI) as seeded:
            record(seeded, cassette, meta)
    yield json.loads(meta.read_text())


def record(seeded: Seeded, cassette: Path, meta: Path) -> None:
    hosts = {seeded.sandbox.mailchimp_host: MAILCHIMP, seeded.sandbox.hubspot_host: HUBSPOT}
    with recording_vcr(cassette.parent, record_mode="all", host_map=hosts).use_cassette(cassette.name):
        result = exercise(
            mailchimp_at(seeded.sandbox.mailchimp_host, seeded.list_id), hubspot_at(seeded.sandbox.hubspot_host)
        )
    meta.write_text(json.dumps({"list_id": seeded.list_id, "result": result}, indent=1))


def test_a_recorded_cassette_replays_without_the_vendor(recorded: dict[str, object]) -> None:
    with recording_vcr(CASSETTES, record_mode="none").use_cassette("clienti-c1-c3.yaml"):
        result = exercise(mailchimp_at(MAILCHIMP, str(recorded["list_id"])), hubspot_at(HUBSPOT))
    assert result == recorded["result"]
    assert all(result["deleted"]) and all(result["absent"])  # type: ignore[arg-type]


def test_a_cassette_recorded_from_seeded_people_names_none_of_them(tmp_path: Path) -> None:
    with seeded_sandbox(CLIENTI) as seeded:
        record(seeded, tmp_path / "c.yaml", tmp_path / "c.json")
        written = (tmp_path / "c.yaml").read_text()
        hashes = {m.subscriber_hash for m in seeded.mailchimp.members}
        secrets = {credentials.MAILCHIMP_API_KEY, credentials.HUBSPOT_ACCESS_TOKEN}
        found = [n for n in seeded.needles | hashes | secrets if n.lower() in written.lower()]
        assert found == []
        assert "127.0.0.1" not in written and MAILCHIMP in written
