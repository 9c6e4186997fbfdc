"""Fidelity of the Mailchimp emulator, driven through the official mailchimp-marketing SDK over HTTP."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import mailchimp_marketing
import pytest
from mailchimp_marketing.api_client import ApiClientError

from sandbox import credentials
from sandbox.mailchimp_store import subscriber_hash
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed import MailchimpManifest, mailchimp_client, seed_mailchimp
from sandbox.state import Fault

CLOCK_NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[RunningSandbox, MailchimpManifest]]:
    """One sandbox seeded through the SDK, shared by the read-only tests."""
    with running_sandbox() as sb:
        sb.state.enforce_rate_limits = False
        client = mailchimp_client(sb.mailchimp_host)
        yield sb, seed_mailchimp(client, sb.state.clock, n=12, clock_now=CLOCK_NOW, rng_seed=11)


@pytest.fixture
def client(seeded: tuple[RunningSandbox, MailchimpManifest]) -> mailchimp_marketing.Client:
    return mailchimp_client(seeded[0].mailchimp_host)


@pytest.fixture
def manifest(seeded: tuple[RunningSandbox, MailchimpManifest]) -> MailchimpManifest:
    return seeded[1]


@pytest.fixture
def fresh(fresh_sandbox: RunningSandbox) -> tuple[RunningSandbox, mailchimp_marketing.Client, str]:
    """An empty sandbox with one audience, for tests that change state."""
    client = mailchimp_client(fresh_sandbox.mailchimp_host)
    audience = client.lists.create_list(
        {
            "name": "Test",
            "contact": {"company": "T"},
            "permission_reminder": "You signed up.",
            "campaign_defaults": {"from_name": "T", "from_email": "t@example.invalid", "subject": "", "language": "da"},
            "email_type_option": False,
        }
    )
    return fresh_sandbox, client, str(audience["id"])


def _problem(error: ApiClientError) -> dict[str, Any]:
    """The SDK leaves problem+json bodies as text, as it does against Mailchimp."""
    return dict(json.loads(str(error.text)))


def _add(client: mailchimp_marketing.Client, list_id: str, email: str, status: str = "subscribed") -> dict[str, Any]:
    return dict(client.lists.add_list_member(list_id, {"email_address": email, "status": status}))


def test_wrong_api_key_is_401_problem_json(seeded: tuple[RunningSandbox, MailchimpManifest]) -> None:
    wrong = mailchimp_client(seeded[0].mailchimp_host, api_key="wrong-key-us21")
    with pytest.raises(ApiClientError) as caught:
        wrong.ping.get()
    assert caught.value.status_code == 401
    assert set(_problem(caught.value)) >= {"type", "title", "status", "detail", "instance"}


def test_ping_and_root_answer(client: mailchimp_marketing.Client) -> None:
    assert client.ping.get() == {"health_status": "Everything's Chimpy!"}
    assert "account_id" in client.root.get_root()


def test_unknown_list_is_404_problem_json(client: mailchimp_marketing.Client) -> None:
    with pytest.raises(ApiClientError) as caught:
        client.lists.get_list("nosuchlist")
    assert caught.value.status_code == 404
    assert _problem(caught.value)["title"] == "Resource Not Found"


def test_lists_show_seeded_audiences_with_counts(
    client: mailchimp_marketing.Client, manifest: MailchimpManifest
) -> None:
    lists = client.lists.get_all_lists()
    assert {a["id"] for a in lists["lists"]} == set(manifest.audiences.values())
    clienti = client.lists.get_list(manifest.audiences["Clienti"])
    assert clienti["stats"]["unsubscribe_count"] == 6
    assert clienti["stats"]["member_count"] == 6


def test_members_carry_extra_merge_fields(client: mailchimp_marketing.Client, manifest: MailchimpManifest) -> None:
    member = client.lists.get_list_member(manifest.members[0].list_id, manifest.members[0].subscriber_hash)
    assert member["id"] == subscriber_hash(member["email_address"])
    assert {"FNAME", "LNAME", "PHONE", "BIRTHDAY", "CUSTNO"} <= set(member["merge_fields"])
    assert member["merge_fields"]["PHONE"]


def test_members_page_by_count_and_offset(client: mailchimp_marketing.Client, manifest: MailchimpManifest) -> None:
    list_id = manifest.audiences["Balance"]
    first = client.lists.get_list_members_info(list_id)
    second = client.lists.get_list_members_info(list_id, count=5, offset=10)
    assert len(first["members"]) == 10 and first["total_items"] == 12
    assert len(second["members"]) == 2
    assert {m["id"] for m in first["members"]}.isdisjoint(m["id"] for m in second["members"])


def test_count_above_1000_is_refused(seeded: tuple[RunningSandbox, MailchimpManifest]) -> None:
    sb, manifest = seeded
    answer = httpx.get(
        f"{sb.mailchimp_host}/lists/{manifest.audiences['Clienti']}/members",
        params={"count": 1001},
        auth=("any", credentials.MAILCHIMP_API_KEY),
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_status_and_last_changed_filters_select_old_unsubscribes(
    client: mailchimp_marketing.Client, manifest: MailchimpManifest
) -> None:
    list_id = manifest.audiences["Balansekonomi"]
    cutoff = CLOCK_NOW - timedelta(days=5)
    answer = client.lists.get_list_members_info(
        list_id, status="unsubscribed", count=1000, before_last_changed=cutoff.isoformat()
    )
    expected = {
        m.subscriber_hash
        for m in manifest.unsubscribed()
        if m.list_id == list_id and m.unsubscribed_at and m.unsubscribed_at < cutoff
    }
    assert {m["id"] for m in answer["members"]} == expected
    assert all(m["unsubscribe_reason"] for m in answer["members"])


def test_since_last_changed_selects_recent_changes(
    client: mailchimp_marketing.Client, manifest: MailchimpManifest
) -> None:
    list_id = manifest.audiences["Clienti"]
    since = CLOCK_NOW - timedelta(days=2)
    answer = client.lists.get_list_members_info(list_id, since_last_changed=since.isoformat())
    assert {m["status"] for m in answer["members"]} == {"unsubscribed"}
    assert answer["total_items"] == sum(
        1 for m in manifest.unsubscribed() if m.list_id == list_id and m.unsubscribed_at and m.unsubscribed_at > since
    )


def test_fields_and_exclude_fields_trim_dotted_paths(
    client: mailchimp_marketing.Client, manifest: MailchimpManifest
) -> None:
    list_id = manifest.audiences["Clienti"]
    kept = client.lists.get_list_members_info(list_id, fields=["members.email_address", "total_items"], count=2)
    dropped = client.lists.get_list_members_info(list_id, exclude_fields=["members.merge_fields", "_links"], count=2)
    assert kept == {"members": [{"email_address": m["email_address"]} for m in kept["members"]], "total_items": 12}
    assert "_links" not in dropped and all("merge_fields" not in m and "status" in m for m in dropped["members"])


def test_activity_feed_dates_the_unsubscribe(client: mailchimp_marketing.Client, manifest: MailchimpManifest) -> None:
    member = manifest.unsubscribed()[0]
    feed = client.lists.get_list_member_activity_feed(member.list_id, member.subscriber_hash)
    unsub = [e for e in feed["activity"] if e["activity_type"] == "unsub"]
    assert member.unsubscribed_at is not None
    assert [datetime.fromisoformat(e["created_at_timestamp"]) for e in unsub] == [
        member.unsubscribed_at.replace(microsecond=0)
    ]


def test_search_members_finds_exact_address(client: mailchimp_marketing.Client, manifest: MailchimpManifest) -> None:
    target = manifest.members[3]
    found = client.searchMembers.search(target.email.upper())
    assert [(m["list_id"], m["id"]) for m in found["exact_matches"]["members"]] == [
        (target.list_id, target.subscriber_hash)
    ]


def test_posting_an_existing_member_is_member_exists(fresh: tuple[RunningSandbox, Any, str]) -> None:
    _, client, list_id = fresh
    _add(client, list_id, "dup@example.dk")
    with pytest.raises(ApiClientError) as caught:
        _add(client, list_id, "DUP@example.dk")
    assert caught.value.status_code == 400
    assert _problem(caught.value)["title"] == "Member Exists"


def test_put_adds_then_updates(fresh: tuple[RunningSandbox, Any, str]) -> None:
    _, client, list_id = fresh
    member_hash = subscriber_hash("put@example.dk")
    body = {"email_address": "put@example.dk", "status_if_new": "subscribed"}
    created = client.lists.set_list_member(list_id, member_hash, body)
    updated = client.lists.set_list_member(list_id, member_hash, {**body, "status": "unsubscribed"})
    assert (created["status"], updated["status"]) == ("subscribed", "unsubscribed")


def test_patch_changes_merge_fields_and_last_changed(fresh: tuple[RunningSandbox, Any, str]) -> None:
    sb, client, list_id = fresh
    member = _add(client, list_id, "patch@example.dk")
    sb.state.clock.advance(timedelta(days=3))
    patched = client.lists.update_list_member(list_id, member["id"], {"merge_fields": {"FNAME": "Ida"}})
    assert patched["merge_fields"]["FNAME"] == "Ida"
    assert datetime.fromisoformat(patched["last_changed"]) > datetime.fromisoformat(member["last_changed"])


def test_delete_only_archives(fresh: tuple[RunningSandbox, Any, str]) -> None:
    _, client, list_id = fresh
    member = _add(client, list_id, "archive@example.dk")
    client.lists.delete_list_member(list_id, member["id"])
    assert client.lists.get_list_member(list_id, member["id"])["status"] == "archived"
    archived = client.lists.get_list_members_info(list_id, status="archived")
    assert [m["id"] for m in archived["members"]] == [member["id"]]


def test_delete_permanent_erases_the_member(fresh: tuple[RunningSandbox, Any, str]) -> None:
    _, client, list_id = fresh
    member = _add(client, list_id, "gone@example.dk")
    client.lists.delete_list_member_permanent(list_id, member["id"])
    with pytest.raises(ApiClientError) as caught:
        client.lists.get_list_member(list_id, member["id"])
    assert caught.value.status_code == 404
    assert client.searchMembers.search("gone@example.dk")["exact_matches"]["members"] == []


def test_permanently_deleted_address_cannot_be_reimported(fresh: tuple[RunningSandbox, Any, str]) -> None:
    _, client, list_id = fresh
    member = _add(client, list_id, "forgotten@example.dk")
    client.lists.delete_list_member_permanent(list_id, member["id"])
    for attempt in (
        lambda: _add(client, list_id, "forgotten@example.dk"),
        lambda: client.lists.set_list_member(
            list_id, member["id"], {"email_address": "forgotten@example.dk", "status_if_new": "subscribed"}
        ),
    ):
        with pytest.raises(ApiClientError) as caught:
            attempt()
        assert caught.value.status_code == 400
        assert _problem(caught.value)["title"] == "Forgotten Email Not Subscribed"


def _wait_for_batch(client: mailchimp_marketing.Client, batch_id: str) -> tuple[dict[str, Any], list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = client.batches.status(batch_id)
        if not seen or seen[-1] != status["status"]:
            seen.append(status["status"])
        if status["status"] == "finished":
            return status, seen
        time.sleep(0.005)
    raise AssertionError(f"batch {batch_id} did not finish; saw {seen}")


def _results(url: str) -> list[dict[str, Any]]:
    archive = httpx.get(url)
    archive.raise_for_status()
    results: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        for entry in tar.getmembers():
            extracted = tar.extractfile(entry)
            assert extracted is not None
            results.extend(json.loads(extracted.read()))
    return results


def test_batch_runs_through_its_lifecycle_and_reports_failed_operations(fresh: tuple[RunningSandbox, Any, str]) -> None:
    _, client, list_id = fresh
    kept = _add(client, list_id, "kept@example.dk")
    operations = [
        {
            "method": "POST",
            "path": f"/lists/{list_id}/members",
            "operation_id": "add",
            "body": json.dumps({"email_address": "new@example.dk", "status": "subscribed"}),
        },
        {
            "method": "POST",
            "path": f"/lists/{list_id}/members/{kept['id']}/actions/delete-permanent",
            "operation_id": "erase",
        },
        {
            "method": "POST",
            "path": f"/lists/{list_id}/members/{subscriber_hash('nobody@example.dk')}/actions/delete-permanent",
            "operation_id": "missing",
        },
        {"method": "GET", "path": f"/lists/{list_id}/members", "params": {"count": 1}, "operation_id": "read"},
    ]
    started = client.batches.start({"operations": operations})
    assert started["status"] == "pending" and started["total_operations"] == 4
    finished, seen = _wait_for_batch(client, started["id"])
    assert seen[-1] == "finished" and set(seen) <= {"pending", "preprocessing", "started", "finalizing", "finished"}
    assert (finished["finished_operations"], finished["errored_operations"]) == (4, 1)
    by_id = {r["operation_id"]: r for r in _results(finished["response_body_url"])}
    assert {k: r["status_code"] for k, r in by_id.items()} == {"add": 200, "erase": 204, "missing": 404, "read": 200}
    assert json.loads(by_id["missing"]["response"])["title"] == "Resource Not Found"
    assert json.loads(by_id["read"]["response"])["total_items"] == 1
    assert client.batches.list()["total_items"] == 1


def test_batch_operation_body_must_be_a_json_string(fresh: tuple[RunningSandbox, Any, str]) -> None:
    _, client, list_id = fresh
    operation = {"method": "POST", "path": f"/lists/{list_id}/members", "body": {"email_address": "x@example.dk"}}
    with pytest.raises(ApiClientError) as caught:
        client.batches.start({"operations": [operation]})
    assert caught.value.status_code == 400


def test_more_than_ten_simultaneous_connections_get_429(fresh_sandbox: RunningSandbox) -> None:
    fresh_sandbox.state.faults.stage("mailchimp", Fault(delay_seconds=0.6, remaining=12, path_contains="/ping"))
    statuses: list[int] = []
    lock = threading.Lock()

    def ping() -> None:
        try:
            mailchimp_client(fresh_sandbox.mailchimp_host).ping.get()
            code = 200
        except ApiClientError as error:
            code = int(error.status_code or 0)
        with lock:
            statuses.append(code)

    threads = [threading.Thread(target=ping) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 10 + [429] * 2


def test_staged_5xx_fault_answers_problem_json(fresh: tuple[RunningSandbox, Any, str]) -> None:
    sb, client, list_id = fresh
    sb.state.faults.stage("mailchimp", Fault(status=503, remaining=1, path_contains="/members"))
    with pytest.raises(ApiClientError) as caught:
        client.lists.get_list_members_info(list_id)
    assert caught.value.status_code == 503
    assert _problem(caught.value)["status"] == 503
    assert client.lists.get_list_members_info(list_id)["total_items"] == 0


def test_calls_are_counted_per_endpoint_template(fresh: tuple[RunningSandbox, Any, str]) -> None:
    sb, client, list_id = fresh
    _add(client, list_id, "count@example.dk")
    client.lists.get_list_member(list_id, subscriber_hash("count@example.dk"))
    counts = sb.state.stats.snapshot()["mailchimp"]
    assert counts["POST /lists/{list_id}/members"] == 1
    assert counts["GET /lists/{list_id}/members/{subscriber_hash}"] == 1


def test_seeding_is_deterministic(seeded: tuple[RunningSandbox, MailchimpManifest]) -> None:
    with running_sandbox() as other:
        again = seed_mailchimp(
            mailchimp_client(other.mailchimp_host), other.state.clock, n=12, clock_now=CLOCK_NOW, rng_seed=11
        )
    assert again.members == seeded[1].members
