"""The Mailchimp connector through the official SDK against the emulator: streaming, permanent deletion in
batches, proof of absence, and the errors a user can act on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import mailchimp_marketing
import pytest

import sandbox.mailchimp_batches
from hygiene.connector import Connector, ConnectorError
from integrations import mailchimp as connector_module
from integrations.mailchimp import BatchPolling, MailchimpConnector
from integrations.pacing import Backoff
from sandbox import credentials
from sandbox.common import call_in_process
from sandbox.seed import mailchimp_client
from sandbox.state import Fault
from tests.vendor_fixtures import CLIENTI, Seeded, seeded_sandbox

FAST_BACKOFF = Backoff(attempts=4, first_wait=0.01)
FAST_POLLING = BatchPolling(first=0.02)


@pytest.fixture
def seeded() -> Iterator[Seeded]:
    with seeded_sandbox(CLIENTI) as seeded:
        yield seeded


def connector(
    seeded: Seeded, api_key: str = credentials.MAILCHIMP_API_KEY, list_id: str | None = None
) -> MailchimpConnector:
    client = mailchimp_client(seeded.sandbox.mailchimp_host, api_key)
    return MailchimpConnector(client, list_id or seeded.list_id, backoff=FAST_BACKOFF, polling=FAST_POLLING)


def unsubscribed(seeded: Seeded) -> dict[str, Any]:
    return {m.subscriber_hash: m for m in seeded.mailchimp.unsubscribed()}


def test_the_connector_satisfies_the_protocol(seeded: Seeded) -> None:
    assert isinstance(connector(seeded), Connector)


def test_unsubscribed_members_stream_with_their_unsubscribe_time(seeded: Seeded) -> None:
    records = {r.record_id: r for r in connector(seeded).records({"status": "unsubscribed"}, "unsubscribed_at")}
    expected = unsubscribed(seeded)
    assert set(records) == set(expected)
    for record_id, record in records.items():
        assert record.subject == expected[record_id].email
        assert record.trigger == expected[record_id].unsubscribed_at.replace(microsecond=0)


def test_last_changed_of_an_unsubscribed_member_is_the_unsub_event_of_its_activity_feed(seeded: Seeded) -> None:
    client = mailchimp_client(seeded.sandbox.mailchimp_host)
    for record in connector(seeded).records({"status": "unsubscribed"}, "unsubscribed_at"):
        feed = client.lists.get_list_member_activity_feed(seeded.list_id, record.record_id)
        [unsub] = [e for e in feed["activity"] if e["activity_type"] == "unsub"]
        assert unsub["created_at_timestamp"] == record.trigger.isoformat()  # type: ignore[union-attr]


def test_pages_are_followed_to_the_end(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector_module, "PAGE_SIZE", 4)
    assert len(list(connector(seeded).records({}, ""))) == len(seeded.mailchimp.members)


def test_a_few_are_deleted_directly_and_proven_gone(seeded: Seeded) -> None:
    ids = list(unsubscribed(seeded))[:3]
    mc = connector(seeded)
    assert all(r.ok for r in mc.delete(ids))
    assert all(p.absent for p in mc.verify_absent(ids))
    stats = seeded.sandbox.state.stats.snapshot()["mailchimp"]
    assert stats["POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent"] == 3
    assert "DELETE /lists/{list_id}/members/{subscriber_hash}" not in stats, "archive is never used"


def test_many_are_deleted_through_one_batch(seeded: Seeded) -> None:
    ids = list(unsubscribed(seeded))
    seeded.sandbox.state.stats.reset()
    mc = connector(seeded)
    assert all(r.ok for r in mc.delete(ids))
    assert all(p.absent for p in mc.verify_absent(ids))
    stats = seeded.sandbox.state.stats.snapshot()["mailchimp"]
    assert stats["POST /batches"] == 2, "one batch to delete, one to re-read"
    assert "POST /lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent" not in stats


def test_failed_operations_in_a_batch_are_found_in_the_results_and_sent_again(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = call_in_process
    failures = {"left": 4}

    def flaky(app: Any, method: str, path: str, params: Any, body: bytes) -> tuple[int, bytes]:
        if path.endswith("delete-permanent") and failures["left"] > 0:
            failures["left"] -= 1
            return 500, json.dumps({"status": 500, "title": "Internal Server Error"}).encode()
        return real(app, method, path, params, body)

    monkeypatch.setattr(sandbox.mailchimp_batches, "call_in_process", flaky)
    ids = list(unsubscribed(seeded))
    seeded.sandbox.state.stats.reset()
    receipts = connector(seeded).delete(ids)
    assert all(r.ok for r in receipts) and failures["left"] == 0
    assert seeded.sandbox.state.stats.snapshot()["mailchimp"]["POST /batches"] == 2, "the 4 failed ones, again"
    assert all(p.absent for p in connector(seeded).verify_absent(ids))


def test_a_wrong_api_key_is_one_line(seeded: Seeded) -> None:
    with pytest.raises(ConnectorError, match=r"^mailchimp: the API key was refused \(401\)") as caught:
        list(connector(seeded, api_key="wrong-key-us21").records({}, ""))
    assert "wrong-key" not in str(caught.value)


def test_a_list_that_does_not_exist_is_one_line(seeded: Seeded) -> None:
    with pytest.raises(ConnectorError, match=r"list nosuchlist does not exist in this account \(404\)"):
        list(connector(seeded, list_id="nosuchlist").records({}, ""))


def test_a_short_5xx_burst_is_waited_out_and_a_long_one_is_one_line(seeded: Seeded) -> None:
    seeded.sandbox.state.faults.stage("mailchimp", Fault(status=503, remaining=2))
    assert len(list(connector(seeded).records({}, ""))) == len(seeded.mailchimp.members)
    seeded.sandbox.state.faults.stage("mailchimp", Fault(status=500, remaining=10))
    with pytest.raises(ConnectorError, match=r"failed 4 times \(HTTP 500\); nothing was deleted"):
        list(connector(seeded).records({}, ""))


def test_a_malformed_member_names_its_page_and_place_not_its_content(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    mc = connector(seeded)
    real = mc.client.lists.get_list_members_info

    def broken(*args: Any, **kwargs: Any) -> Any:
        page = real(*args, **kwargs)
        page["members"][2]["last_changed"] = "yesterday"
        return page

    monkeypatch.setattr(mc.client.lists, "get_list_members_info", broken)
    with pytest.raises(ConnectorError) as caught:
        list(mc.records({"status": "unsubscribed"}, "unsubscribed_at"))
    assert "offset 0, position 2" in str(caught.value) and "last_changed" in str(caught.value)
    assert "@" not in str(caught.value)


def test_the_wrong_trigger_for_the_status_is_refused(seeded: Seeded) -> None:
    with pytest.raises(ConnectorError, match="needs the selection status: unsubscribed"):
        list(connector(seeded).records({}, "unsubscribed_at"))


def test_merge_fields_are_read_only_when_asked_for(seeded: Seeded) -> None:
    plain = next(iter(connector(seeded).records({}, "")))
    detailed = next(iter(connector(seeded).records({"merge_fields": "yes"}, "")))
    assert not any(k.startswith("merge:") for k in plain.attributes)
    assert {"merge:FNAME", "merge:PHONE", "merge:CUSTNO"} <= set(detailed.attributes)


def test_the_sdk_client_is_aimed_by_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.mailchimp import MailchimpSettings
    from integrations.mailchimp import mailchimp_client as build

    monkeypatch.delenv("HYGIENE_MAILCHIMP_API_KEY", raising=False)
    with pytest.raises(ConnectorError, match="set HYGIENE_MAILCHIMP_API_KEY"):
        build(MailchimpSettings())
    monkeypatch.setenv("HYGIENE_MAILCHIMP_API_KEY", "secret-us21")
    settings = MailchimpSettings()
    assert "secret" not in repr(settings)
    assert isinstance(build(settings), mailchimp_marketing.Client)
