"""The HubSpot connector through the official SDK against the emulator: search past the 10,000-result cap,
gdpr-delete paced to the account's limit, proof by batch/read, and the errors a user can act on."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from hubspot.crm.contacts.exceptions import ApiException
from pydantic import SecretStr

import sandbox.hubspot_search
from hygiene.connector import Connector, ConnectorError
from integrations.hubspot import HubSpotConnector, HubSpotSettings, PropertyTest
from integrations.hubspot import hubspot_client as product_client
from integrations.malformed import MalformedAnswer
from integrations.pacing import Backoff, Throttle, parse_rate
from sandbox import credentials
from sandbox.hubspot_store import Contact, hs_time
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed import hubspot_client
from sandbox.state import Fault
from tests.vendor_fixtures import AS_OF, CLIENTI, Seeded, seeded_sandbox

ZONE = ZoneInfo("Europe/Copenhagen")
FAST = Backoff(attempts=4, first_wait=0.01)


@pytest.fixture
def seeded() -> Iterator[Seeded]:
    with seeded_sandbox(CLIENTI) as seeded:
        yield seeded


def connector(host: str, token: str = credentials.HUBSPOT_ACCESS_TOKEN, **options: object) -> HubSpotConnector:
    return HubSpotConnector(hubspot_client(host, token), tz=ZONE, rate=(10_000, 10.0), backoff=FAST, **options)  # type: ignore[arg-type]


def test_the_connector_satisfies_the_protocol(seeded: Seeded) -> None:
    assert isinstance(connector(seeded.sandbox.hubspot_host), Connector)


def test_customers_stream_with_the_date_their_relationship_ended(seeded: Seeded) -> None:
    records = list(
        connector(seeded.sandbox.hubspot_host).records({"lifecyclestage": "customer"}, "customer_relationship_ended_at")
    )
    expected = {c.id: c for c in seeded.hubspot.contacts if c.relationship_ended and c.id not in seeded.newsletter_only}
    assert {r.record_id for r in records} == set(expected)
    assert all(r.trigger is not None and r.trigger.date() == expected[r.record_id].relationship_ended for r in records)


def test_without_a_filter_every_contact_is_listed_in_pages_of_100(seeded: Seeded) -> None:
    records = list(connector(seeded.sandbox.hubspot_host).records({}, "lastmodifieddate"))
    assert len(records) == len(seeded.hubspot.contacts)
    assert "POST /crm/v3/objects/contacts/search" not in seeded.sandbox.state.stats.snapshot()["hubspot"]


@pytest.fixture
def large_portal(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    """More contacts than one search may return. HubSpot's cap is 10,000; the emulator's is lowered to 1,000
    here so the test pages 1,050 contacts instead of 10,050 (the paging logic is the same)."""
    monkeypatch.setattr(sandbox.hubspot_search, "MAX_RESULTS", 1000)
    with running_sandbox() as sb:
        sb.state.enforce_rate_limits = False
        store = sb.state.stores["hubspot"]
        for i in range(1050):
            store.contacts[i + 1] = Contact(
                i + 1,
                {
                    "email": f"p{i}@example.invalid",
                    "lifecyclestage": "customer",
                    "hs_object_id": str(i + 1),
                    "createdate": hs_time(AS_OF),
                },
                AS_OF,
                AS_OF,
            )
        yield sb


def test_a_moving_id_filter_passes_the_result_cap_of_search(large_portal: RunningSandbox) -> None:
    with pytest.raises(ApiException, match="paging limit"):  # the cap, as HubSpot enforces it
        hubspot_client(large_portal.hubspot_host).crm.contacts.search_api.do_search(
            {"filterGroups": [], "limit": 200, "after": 1000}
        )
    records = list(connector(large_portal.hubspot_host).records({"lifecyclestage": "customer"}, "createdate"))
    assert len({r.record_id for r in records}) == 1050
    assert large_portal.state.stats.snapshot()["hubspot"]["POST /crm/v3/objects/contacts/search"] == 7


def test_gdpr_delete_one_call_each_and_batch_read_proves_absence(seeded: Seeded) -> None:
    ids = [c.id for c in seeded.hubspot.contacts[:7]]
    hubspot = connector(seeded.sandbox.hubspot_host)
    seeded.sandbox.state.stats.reset()
    assert all(r.ok for r in hubspot.delete(ids))
    proofs = hubspot.verify_absent([*ids, seeded.hubspot.contacts[8].id])
    assert [p.absent for p in proofs] == [True] * 7 + [False]
    stats = seeded.sandbox.state.stats.snapshot()["hubspot"]
    assert stats == {"POST /crm/v3/objects/contacts/gdpr-delete": 7, "POST /crm/v3/objects/contacts/batch/read": 1}
    store = seeded.sandbox.state.stores["hubspot"]
    assert all(store.is_blocklisted(c.email) for c in seeded.hubspot.contacts[:7])


def test_deleting_an_already_erased_contact_is_done_not_failed(seeded: Seeded) -> None:
    hubspot = connector(seeded.sandbox.hubspot_host)
    contact_id = seeded.hubspot.contacts[0].id
    hubspot.delete([contact_id])
    [receipt] = hubspot.delete([contact_id])
    assert receipt.ok and "404" in receipt.detail


def test_an_empty_re_read_proves_no_deletion(seeded: Seeded) -> None:
    settings = HubSpotSettings(token=SecretStr(credentials.HUBSPOT_ACCESS_TOKEN), host=seeded.sandbox.hubspot_host)
    hubspot = HubSpotConnector(product_client(settings), tz=ZONE, backoff=FAST)
    seeded.sandbox.state.faults.stage("hubspot", Fault(remaining=1, body=b"", path_contains="batch/read"))
    with pytest.raises(MalformedAnswer, match=r"^hubspot: re-reading contacts: malformed answer \(an empty body\)"):
        hubspot.verify_absent([c.id for c in seeded.hubspot.contacts[:3]])


def test_a_429_storm_is_waited_out(seeded: Seeded) -> None:
    seeded.sandbox.state.faults.stage("hubspot", Fault(status=429, remaining=3, path_contains="gdpr-delete"))
    ids = [c.id for c in seeded.hubspot.contacts[:3]]
    hubspot = connector(seeded.sandbox.hubspot_host)
    assert all(r.ok for r in hubspot.delete(ids))
    assert all(p.absent for p in hubspot.verify_absent(ids))


def test_a_rule_selecting_an_unknown_property_is_one_clear_line(seeded: Seeded) -> None:
    with pytest.raises(ConnectorError, match=r"the rule selects the property 'message', which this account does not"):
        list(connector(seeded.sandbox.hubspot_host).records({"properties": "notes,message"}, ""))


def test_a_wrong_token_is_one_line(seeded: Seeded) -> None:
    with pytest.raises(ConnectorError, match=r"^hubspot: the access token was refused \(401\)") as caught:
        list(connector(seeded.sandbox.hubspot_host, token="nope").records({}, "lastmodifieddate"))
    assert "nope" not in str(caught.value)


def test_newsletter_contacts_carry_the_unsubscribe_time_and_customers_the_bookkeeping_exemption(
    seeded: Seeded,
) -> None:
    from integrations.mailchimp import MailchimpConnector
    from sandbox.seed import mailchimp_client

    newsletter = MailchimpConnector(mailchimp_client(seeded.sandbox.mailchimp_host), seeded.list_id)
    hubspot = connector(
        seeded.sandbox.hubspot_host, newsletter=newsletter, bookkeeping_when=PropertyTest("lifecyclestage", "customer")
    )
    records = {r.subject: r for r in hubspot.records({"status": "unsubscribed"}, "unsubscribed_at")}
    members = {m.email: m for m in seeded.mailchimp.unsubscribed()}
    assert set(records) == set(members)
    for email, record in records.items():
        assert record.trigger == members[email].unsubscribed_at.replace(microsecond=0)  # type: ignore[union-attr]
        customer = seeded.contact(email).id not in seeded.newsletter_only  # type: ignore[union-attr]
        assert (record.attributes.get("exemption") == "bookkeeping_duty") == customer


def test_the_throttle_holds_the_rolling_window() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    throttle = Throttle(100, 10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(250):
        throttle.wait()
    assert 20.0 <= now[0] < 20.1


def test_a_rate_is_calls_per_seconds() -> None:
    assert parse_rate("190/10") == (190, 10.0)
    with pytest.raises(ValueError, match="calls/seconds"):
        parse_rate("fast")
