"""Fidelity of the HubSpot emulator, driven through the official hubspot-api-client SDK over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObjectWithErrors,
    CollectionResponseWithTotalSimplePublicObjectForwardPaging,
    PublicGdprDeleteInput,
    PublicObjectSearchRequest,
    SimplePublicObject,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException

from sandbox.hubspot_store import HubSpotStore
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed import HubSpotManifest, hubspot_client, luhn_digit, seed_hubspot
from sandbox.state import Fault

CLOCK_NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[RunningSandbox, HubSpotManifest]]:
    """One portal seeded through the SDK, shared by the read-only tests."""
    with running_sandbox() as sb:
        sb.state.enforce_rate_limits = False
        yield sb, seed_hubspot(hubspot_client(sb.hubspot_host), sb.state.clock, n=10, clock_now=CLOCK_NOW, rng_seed=5)


@pytest.fixture
def client(seeded: tuple[RunningSandbox, HubSpotManifest]) -> HubSpot:
    return hubspot_client(seeded[0].hubspot_host)


@pytest.fixture
def manifest(seeded: tuple[RunningSandbox, HubSpotManifest]) -> HubSpotManifest:
    return seeded[1]


@pytest.fixture
def fresh(fresh_sandbox: RunningSandbox) -> tuple[RunningSandbox, HubSpot]:
    """An empty portal without rate limits, for tests that change state."""
    fresh_sandbox.state.enforce_rate_limits = False
    return fresh_sandbox, hubspot_client(fresh_sandbox.hubspot_host)


def _create(client: HubSpot, email: str, **properties: str) -> SimplePublicObject:
    body = SimplePublicObjectInputForCreate(properties={"email": email, **properties})
    return client.crm.contacts.basic_api.create(body)


def _search(client: HubSpot, *groups: list[dict[str, Any]], **options: Any) -> Any:
    request = PublicObjectSearchRequest(filter_groups=[{"filters": g} for g in groups], **options)
    return client.crm.contacts.search_api.do_search(request)


def _error(caught: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    return dict(json.loads(caught.value.body))


def test_wrong_token_is_401_with_hubspot_error(seeded: tuple[RunningSandbox, HubSpotManifest]) -> None:
    wrong = hubspot_client(seeded[0].hubspot_host, access_token="not-the-token")
    with pytest.raises(ApiException) as caught:
        wrong.crm.contacts.basic_api.get_page()
    assert caught.value.status == 401
    assert set(_error(caught)) >= {"status", "message", "correlationId", "category"}


def test_create_returns_a_simple_public_object(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    created = _create(fresh[1], "ny@example.dk", firstname="Ny")
    assert isinstance(created, SimplePublicObject)
    assert created.properties["hs_object_id"] == created.id
    assert created.created_at is not None and created.archived is False


def test_duplicate_email_is_409_conflict(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    _create(fresh[1], "dup@example.dk")
    with pytest.raises(ApiException) as caught:
        _create(fresh[1], "DUP@example.dk")
    assert caught.value.status == 409
    assert _error(caught)["category"] == "CONFLICT"


def test_unknown_property_on_create_is_400(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    with pytest.raises(ApiException) as caught:
        _create(fresh[1], "x@example.dk", favourite_colour="blue")
    assert caught.value.status == 400
    assert _error(caught)["category"] == "VALIDATION_ERROR"


def test_list_pages_with_the_after_cursor(client: HubSpot, manifest: HubSpotManifest) -> None:
    ids: list[str] = []
    after: str | None = None
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=7, after=after)
        ids.extend(c.id for c in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert ids == [c.id for c in manifest.contacts]


def test_list_limit_above_100_is_400(client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page(limit=101)
    assert caught.value.status == 400


def test_properties_parameter_picks_properties(client: HubSpot, manifest: HubSpotManifest) -> None:
    contact = client.crm.contacts.basic_api.get_by_id(
        manifest.contacts[0].id, properties=["notes", "customer_relationship_ended_at"]
    )
    assert set(contact.properties) == {
        "notes",
        "customer_relationship_ended_at",
        "createdate",
        "hs_object_id",
        "lastmodifieddate",
    }
    ended = manifest.contacts[0].relationship_ended
    assert ended is not None
    assert contact.properties["customer_relationship_ended_at"] == ended.isoformat()


def test_seeded_dates_come_from_the_sandbox_clock(client: HubSpot, manifest: HubSpotManifest) -> None:
    seeded = manifest.contacts[1]
    contact = client.crm.contacts.basic_api.get_by_id(seeded.id)
    assert abs(contact.updated_at - seeded.last_modified) < timedelta(seconds=1)
    assert abs(contact.created_at - seeded.created_at) < timedelta(seconds=1)


def test_seeded_notes_hold_valid_national_ids(manifest: HubSpotManifest) -> None:
    personnummer = [c.national_id for c in manifest.contacts if c.tenant == "Balansekonomi" and c.national_id]
    cpr = [c.national_id for c in manifest.contacts if c.tenant == "Clienti" and c.national_id]
    assert personnummer and cpr
    for number in personnummer:
        digits = number.replace("-", "")
        assert luhn_digit(digits[:9]) == int(digits[9])
    for number in cpr:
        weighted = zip((4, 3, 2, 7, 6, 5, 4, 3, 2, 1), (int(d) for d in number.replace("-", "")), strict=True)
        assert sum(w * d for w, d in weighted) % 11 == 0


def test_archive_moves_the_contact_to_the_recycle_bin(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    contacts = fresh[1].crm.contacts.basic_api
    created = _create(fresh[1], "bin@example.dk")
    contacts.archive(created.id)
    with pytest.raises(ApiException) as caught:
        contacts.get_by_id(created.id)
    assert caught.value.status == 404
    assert contacts.get_by_id(created.id, archived=True).archived is True
    assert [c.id for c in contacts.get_page(archived=True).results] == [created.id]


def test_gdpr_delete_is_permanent_and_blocklists_the_email(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    sb, client = fresh
    created = _create(client, "erase@example.dk")
    assert client.crm.contacts.basic_api.purge(PublicGdprDeleteInput(object_id=created.id)) is None
    for archived in (False, True):
        with pytest.raises(ApiException) as caught:
            client.crm.contacts.basic_api.get_by_id(created.id, archived=archived)
        assert caught.value.status == 404
    store: HubSpotStore = sb.state.stores["hubspot"]
    assert store.is_blocklisted("erase@example.dk")


def test_gdpr_delete_of_an_unknown_email_blocklists_it_anyway(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    sb, client = fresh
    client.crm.contacts.basic_api.purge(PublicGdprDeleteInput(object_id="never@example.dk", id_property="email"))
    assert sb.state.stores["hubspot"].is_blocklisted("never@example.dk")


def test_gdpr_delete_of_an_unknown_id_is_404(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    with pytest.raises(ApiException) as caught:
        fresh[1].crm.contacts.basic_api.purge(PublicGdprDeleteInput(object_id="999999"))
    assert caught.value.status == 404


def test_blocklisted_email_can_still_be_created_through_the_api(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    """HubSpot's knowledge base: the blocklist stops the UI and imports, not an API request."""
    created = _create(fresh[1], "back@example.dk")
    fresh[1].crm.contacts.basic_api.purge(PublicGdprDeleteInput(object_id=created.id))
    assert _create(fresh[1], "back@example.dk").id != created.id


def test_patch_updates_properties_and_lastmodifieddate(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    sb, client = fresh
    created = _create(client, "patch@example.dk")
    sb.state.clock.advance(timedelta(days=2))
    updated = client.crm.contacts.basic_api.update(created.id, SimplePublicObjectInput(properties={"firstname": "P"}))
    assert updated.properties["firstname"] == "P"
    assert updated.updated_at - created.updated_at >= timedelta(days=2)


def test_search_ands_filters_and_ors_groups(client: HubSpot, manifest: HubSpotManifest) -> None:
    cutoff = (CLOCK_NOW.date() - timedelta(days=24 * 30)).isoformat()
    ended_long_ago = [{"propertyName": "customer_relationship_ended_at", "operator": "LT", "value": cutoff}]
    not_relevant = [
        {"propertyName": "marked_not_relevant", "operator": "EQ", "value": "true"},
        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"},
    ]
    found = _search(client, ended_long_ago, not_relevant, limit=200)
    expected = {
        c.id
        for c in manifest.contacts
        if (c.relationship_ended and c.relationship_ended.isoformat() < cutoff) or c.not_relevant
    }
    assert isinstance(found, CollectionResponseWithTotalSimplePublicObjectForwardPaging)
    assert {c.id for c in found.results} == expected and found.total == len(expected)


@pytest.mark.parametrize(
    ("operator", "extra", "expected"),
    [
        ("HAS_PROPERTY", {}, lambda c: c.relationship_ended is not None),
        ("NOT_HAS_PROPERTY", {}, lambda c: c.relationship_ended is None),
        (
            "BETWEEN",
            {"value": "2022-01-01", "highValue": "2023-06-01"},
            lambda c: c.relationship_ended is not None and date(2022, 1, 1) <= c.relationship_ended <= date(2023, 6, 1),
        ),
        (
            "GTE",
            {"value": str(int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000))},
            lambda c: c.relationship_ended is not None and c.relationship_ended >= date(2024, 1, 1),
        ),
    ],
)
def test_search_operators_on_a_date_property(
    client: HubSpot, manifest: HubSpotManifest, operator: str, extra: dict[str, str], expected: Any
) -> None:
    found = _search(
        client, [{"propertyName": "customer_relationship_ended_at", "operator": operator, **extra}], limit=200
    )
    assert {c.id for c in found.results} == {c.id for c in manifest.contacts if expected(c)}


def test_search_in_and_contains_token(client: HubSpot, manifest: HubSpotManifest) -> None:
    emails = [c.email for c in manifest.contacts[:3]]
    by_in = _search(client, [{"propertyName": "email", "operator": "IN", "values": emails}])
    by_token = _search(
        client,
        [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@balansekonomi-kunde.example"}],
        limit=200,
    )
    assert sorted(c.properties["email"] for c in by_in.results) == sorted(emails)
    assert by_token.total == sum(1 for c in manifest.contacts if c.tenant == "Balansekonomi")


def test_search_pages_with_after_and_sorts(client: HubSpot, manifest: HubSpotManifest) -> None:
    sort = [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]
    first = _search(client, [{"propertyName": "email", "operator": "HAS_PROPERTY"}], limit=4, sorts=sort)
    second = _search(
        client,
        [{"propertyName": "email", "operator": "HAS_PROPERTY"}],
        limit=4,
        sorts=sort,
        after=first.paging.next.after,
    )
    ids = [c.id for c in first.results + second.results]
    assert ids == sorted((c.id for c in manifest.contacts), key=int, reverse=True)[:8]
    assert first.total == len(manifest.contacts)


def test_search_on_an_unknown_property_is_400(client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        _search(client, [{"propertyName": "no_such_property", "operator": "EQ", "value": "x"}])
    assert caught.value.status == 400


def test_search_with_more_than_five_groups_is_400(client: HubSpot) -> None:
    group = [{"propertyName": "email", "operator": "HAS_PROPERTY"}]
    with pytest.raises(ApiException) as caught:
        _search(client, *[group] * 6)
    assert caught.value.status == 400


def test_search_limit_above_200_is_400(client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        _search(client, limit=201)
    assert caught.value.status == 400


def test_search_refuses_to_page_past_10000_results(client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        _search(client, [{"propertyName": "email", "operator": "HAS_PROPERTY"}], after="10000")
    assert caught.value.status == 400


def test_batch_read_reports_missing_ids_with_207(client: HubSpot, manifest: HubSpotManifest) -> None:
    request = BatchReadInputSimplePublicObjectId(
        inputs=[{"id": manifest.contacts[0].id}, {"id": "424242"}], properties=["email"], properties_with_history=[]
    )
    answer = client.crm.contacts.batch_api.read(request)
    assert isinstance(answer, BatchResponseSimplePublicObjectWithErrors)
    assert [c.id for c in answer.results] == [manifest.contacts[0].id]
    assert answer.errors[0].context == {"ids": ["424242"]}


def test_batch_create_update_and_archive(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    batch = fresh[1].crm.contacts.batch_api
    created = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": {"email": f"b{i}@example.dk"}} for i in range(3)]
        )
    )
    ids = [c.id for c in created.results]
    updated = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": i, "properties": {"lifecyclestage": "other"}} for i in ids]
        )
    )
    batch.archive(BatchInputSimplePublicObjectId(inputs=[{"id": i} for i in ids]))
    assert {c.properties["email"] for c in created.results} == {"b0@example.dk", "b1@example.dk", "b2@example.dk"}
    assert all(c.properties["lifecyclestage"] == "other" for c in updated.results)
    assert fresh[1].crm.contacts.basic_api.get_page().results == []


def test_batch_with_more_than_100_inputs_is_400(client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.archive(
            BatchInputSimplePublicObjectId(inputs=[{"id": str(i)} for i in range(101)])
        )
    assert caught.value.status == 400


def test_101st_request_in_ten_seconds_is_429_with_rate_limit_headers(fresh_sandbox: RunningSandbox) -> None:
    client = hubspot_client(fresh_sandbox.hubspot_host)
    for _ in range(100):
        client.crm.contacts.basic_api.get_page()
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page()
    assert caught.value.status == 429
    assert caught.value.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert caught.value.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert _error(caught)["policyName"] == "TEN_SECONDLY_ROLLING"


def test_rate_limit_window_rolls_with_the_clock(fresh_sandbox: RunningSandbox) -> None:
    client = hubspot_client(fresh_sandbox.hubspot_host)
    for _ in range(100):
        client.crm.contacts.basic_api.get_page()
    fresh_sandbox.state.clock.advance(timedelta(seconds=11))
    assert client.crm.contacts.basic_api.get_page().results == []


def test_professional_tier_allows_190_per_interval(fresh_sandbox: RunningSandbox) -> None:
    fresh_sandbox.state.limit_tiers["hubspot"] = "professional"
    client = hubspot_client(fresh_sandbox.hubspot_host)
    for _ in range(189):
        client.crm.contacts.basic_api.get_page()
    _, status, headers = client.crm.contacts.basic_api.get_page_with_http_info()
    assert status == 200 and headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_search_has_its_own_limit_of_five_a_second(fresh_sandbox: RunningSandbox) -> None:
    client = hubspot_client(fresh_sandbox.hubspot_host)
    for _ in range(5):
        _search(client)
    with pytest.raises(ApiException) as caught:
        _search(client)
    assert caught.value.status == 429
    assert client.crm.contacts.basic_api.get_page().results == []  # the general limit is untouched


def test_staged_503_fault_answers_hubspot_error_then_recovers(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    sb, client = fresh
    sb.state.faults.stage("hubspot", Fault(status=503, remaining=1))
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page()
    assert caught.value.status == 503 and "correlationId" in _error(caught)
    assert client.crm.contacts.basic_api.get_page().results == []


def test_calls_are_counted_per_endpoint_template(fresh: tuple[RunningSandbox, HubSpot]) -> None:
    sb, client = fresh
    created = _create(client, "count@example.dk")
    client.crm.contacts.basic_api.get_by_id(created.id)
    counts = sb.state.stats.snapshot()["hubspot"]
    assert counts["POST /crm/v3/objects/contacts"] == 1
    assert counts["GET /crm/v3/objects/contacts/{contactId}"] == 1


def test_seeding_is_deterministic(seeded: tuple[RunningSandbox, HubSpotManifest]) -> None:
    with running_sandbox() as other:
        other.state.enforce_rate_limits = False
        again = seed_hubspot(
            hubspot_client(other.hubspot_host), other.state.clock, n=10, clock_now=CLOCK_NOW, rng_seed=5
        )
    assert again.contacts == seeded[1].contacts
