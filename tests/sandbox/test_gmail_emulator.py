"""Fidelity tests of the Gmail emulator, through google-api-python-client over real HTTP on loopback.

Each test checks one Gmail behaviour a retention connector depends on; a connector that passes here must run
unchanged against https://gmail.googleapis.com/.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

import googleapiclient
import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from sandbox import credentials
from sandbox.gmail import ROUTES, STANDARD_PARAMS
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed_gmail import NOT_RELEVANT_LABEL, default_customers, seed_stressfri_mailbox
from sandbox.state import Fault, SandboxState


def gmail_service(endpoint: str, token: str) -> Any:
    """Exactly how a connector builds its client; only the endpoint differs from production."""
    return build(
        "gmail",
        "v1",
        client_options={"api_endpoint": endpoint},
        credentials=cast(Any, Credentials)(token=token),  # google-auth's __init__ is unannotated
        static_discovery=True,
    )


def batch_for(endpoint: str) -> BatchHttpRequest:
    """A batch aimed at the endpoint's batch/gmail/v1 (service.new_batch_http_request() would go to Google)."""
    return BatchHttpRequest(batch_uri=f"{endpoint}batch/gmail/v1")


def raw_mail(sender: str, to: str, subject: str, at: datetime, body: str = "Hei, takk for sist.") -> str:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    mail["Date"] = format_datetime(at)
    mail.set_content(body)
    return base64.urlsafe_b64encode(mail.as_bytes()).decode()


def put(
    service: Any,
    subject: str,
    at: datetime,
    labels: list[str],
    *,
    sender: str = "kari@example.no",
    to: str = "stressfri.sandbox@example.com",
) -> str:
    """Insert one mail dated `at` (internalDateSource=dateHeader) and answer its id."""
    body = {"raw": raw_mail(sender, to, subject, at), "labelIds": labels}
    return str(
        service.users().messages().insert(userId="me", body=body, internalDateSource="dateHeader").execute()["id"]
    )


@pytest.fixture(scope="module")
def gmail_sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(SandboxState()) as served:
        yield served


@pytest.fixture(autouse=True)
def fresh_gmail(gmail_sandbox: RunningSandbox) -> Iterator[None]:
    """Each test starts on an empty mailbox, default quota, no faults, rate limits on, the real time."""
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/reset").raise_for_status()
    gmail_sandbox.state.faults.clear()
    gmail_sandbox.state.enforce_rate_limits = True
    yield
    gmail_sandbox.state.clock.set(datetime.now(UTC))


@pytest.fixture
def service(gmail_sandbox: RunningSandbox) -> Any:
    return gmail_service(gmail_sandbox.gmail_endpoint, credentials.GMAIL_ACCESS_TOKEN)


@pytest.fixture
def modify_service(gmail_sandbox: RunningSandbox) -> Any:
    """A client whose token has gmail.modify and gmail.readonly only, not https://mail.google.com/."""
    return gmail_service(gmail_sandbox.gmail_endpoint, credentials.GMAIL_READONLY_ACCESS_TOKEN)


OWNER = "stressfri.sandbox@example.com"
JAN_15 = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
# documented per-method quota units (developers.google.com/workspace/gmail/api/reference/quota)
DOCUMENTED_UNITS = {
    "users.getProfile": 1,
    "users.labels.list": 1,
    "users.labels.get": 1,
    "users.labels.create": 5,
    "users.labels.delete": 5,
    "users.messages.list": 5,
    "users.messages.get": 5,
    "users.messages.insert": 25,
    "users.messages.import": 25,
    "users.messages.delete": 10,
    "users.messages.trash": 5,
    "users.messages.untrash": 5,
    "users.messages.modify": 5,
    "users.messages.batchDelete": 50,
    "users.messages.batchModify": 50,
}


def discovery_methods() -> dict[str, dict[str, Any]]:
    path = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "gmail.v1.json"
    document = json.loads(path.read_text())
    methods: dict[str, dict[str, Any]] = {}

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                methods[method["id"].removeprefix("gmail.")] = method
            walk(resource.get("resources", {}))

    walk(document["resources"])
    methods["__document__"] = document
    return methods


def ids(answer: dict[str, Any]) -> list[str]:
    return [m["id"] for m in answer.get("messages", [])]


def listed(service: Any, **params: Any) -> list[str]:
    return ids(service.users().messages().list(userId="me", **params).execute())


def http_error(call: Any) -> HttpError:
    with pytest.raises(HttpError) as caught:
        call.execute()
    return caught.value


def reason(error: HttpError) -> str:
    """The `errors[0].reason` of Google's error body (error_details prefers `details` when Google sends them)."""
    return str(json.loads(error.content)["error"]["errors"][0]["reason"])


def insert_many(service: Any, endpoint: str, count: int) -> None:
    """Insert `count` mails through HTTP batches of 100 (fast; each part still costs its 25 units)."""
    for start in range(0, count, 100):
        batch = batch_for(endpoint)
        for n in range(start, min(start + 100, count)):
            at = JAN_15 + timedelta(minutes=n)
            body = {"raw": raw_mail("a@example.no", OWNER, f"mail {n}", at), "labelIds": ["INBOX"]}
            batch.add(service.users().messages().insert(userId="me", body=body, internalDateSource="dateHeader"))
        batch.execute()


# ---- the client reaches the emulator ----


def test_client_built_with_api_endpoint_reaches_the_emulator(service: Any, gmail_sandbox: RunningSandbox) -> None:
    names = {label["id"] for label in service.users().labels().list(userId="me").execute()["labels"]}
    assert {"INBOX", "SENT", "TRASH", "SPAM", "UNREAD", "STARRED", "IMPORTANT", "DRAFT"} <= names
    assert gmail_sandbox.state.stats.snapshot()["gmail"]["GET /gmail/v1/users/{userId}/labels"] == 1


def test_new_batch_http_request_ignores_api_endpoint(service: Any) -> None:
    """Why connectors must build BatchHttpRequest(batch_uri=...) themselves: the SDK's helper goes to Google."""
    assert service.new_batch_http_request()._batch_uri == "https://gmail.googleapis.com/batch"


def test_every_route_matches_the_discovery_document() -> None:
    methods = discovery_methods()
    global_params = set(methods["__document__"]["parameters"])
    assert global_params >= STANDARD_PARAMS
    for route in ROUTES:
        method = methods[route.method_id]
        assert (route.http_method, route.path) == (method["httpMethod"], method["path"]), route.method_id
        assert route.scopes == set(method["scopes"]), route.method_id
        declared_query = {n for n, p in method.get("parameters", {}).items() if p["location"] == "query"}
        assert route.query_params <= declared_query, route.method_id
        assert route.units == DOCUMENTED_UNITS[route.method_id], route.method_id


# ---- authentication and scopes ----


def test_missing_token_is_401_login_required(gmail_sandbox: RunningSandbox) -> None:
    answer = httpx.get(f"{gmail_sandbox.gmail_endpoint}gmail/v1/users/me/labels")
    error = answer.json()["error"]
    assert answer.status_code == 401
    assert (error["code"], error["status"], error["errors"][0]["reason"]) == (401, "UNAUTHENTICATED", "required")
    assert set(error["errors"][0]) >= {"domain", "reason", "message"}


def test_unknown_token_is_401_invalid_credentials(gmail_sandbox: RunningSandbox) -> None:
    answer = httpx.get(
        f"{gmail_sandbox.gmail_endpoint}gmail/v1/users/me/labels", headers={"Authorization": "Bearer nope"}
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["errors"][0]["message"] == "Invalid Credentials"


def test_revoked_token_is_401_which_the_sdk_cannot_refresh(service: Any, gmail_sandbox: RunningSandbox) -> None:
    """A token without refresh credentials: google-auth tries to refresh on 401 and raises RefreshError."""
    revoke = {"token": credentials.GMAIL_ACCESS_TOKEN}
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/tokens/revoke", json=revoke).raise_for_status()
    with pytest.raises(RefreshError):
        service.users().labels().list(userId="me").execute()


def test_batch_delete_without_full_scope_is_403_insufficient_permissions(service: Any, modify_service: Any) -> None:
    message_id = put(service, "hei", JAN_15, ["INBOX"])
    error = http_error(modify_service.users().messages().batchDelete(userId="me", body={"ids": [message_id]}))
    assert (error.status_code, error.reason) == (403, "Request had insufficient authentication scopes.")
    assert reason(error) == "insufficientPermissions"
    assert listed(service) == [message_id]


def test_modify_scope_may_trash(service: Any, modify_service: Any) -> None:
    message_id = put(service, "hei", JAN_15, ["INBOX"])
    assert "TRASH" in modify_service.users().messages().trash(userId="me", id=message_id).execute()["labelIds"]


def test_other_user_is_refused(service: Any) -> None:
    assert http_error(service.users().labels().list(userId="someone@example.com")).status_code == 403


def test_unknown_query_parameter_is_400(gmail_sandbox: RunningSandbox) -> None:
    answer = httpx.get(
        f"{gmail_sandbox.gmail_endpoint}gmail/v1/users/me/messages",
        params={"query": "in:sent"},
        headers={"Authorization": f"Bearer {credentials.GMAIL_ACCESS_TOKEN}"},
    )
    assert answer.status_code == 400
    assert "Unknown name" in answer.json()["error"]["message"]


# ---- labels and messages ----


def test_labels_create_makes_a_user_label(service: Any) -> None:
    label = service.users().labels().create(userId="me", body={"name": "Kunder/Kari Nordmann"}).execute()
    listed_labels = service.users().labels().list(userId="me").execute()["labels"]
    assert {"id": label["id"], "name": "Kunder/Kari Nordmann", "type": "user"}.items() <= next(
        x for x in listed_labels if x["id"] == label["id"]
    ).items()


def test_labels_create_refuses_a_taken_name_with_409(service: Any) -> None:
    service.users().labels().create(userId="me", body={"name": "Ikke relevant"}).execute()
    error = http_error(service.users().labels().create(userId="me", body={"name": "ikke RELEVANT"}))
    assert error.status_code == 409


def test_insert_with_date_header_sets_internal_date(service: Any) -> None:
    message_id = put(service, "hei", JAN_15, ["INBOX"])
    message = service.users().messages().get(userId="me", id=message_id, format="minimal").execute()
    assert message["internalDate"] == str(int(JAN_15.timestamp() * 1000))


def test_insert_without_date_source_uses_the_sandbox_clock(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.clock.set(JAN_15)
    body = {"raw": raw_mail("a@example.no", OWNER, "hei", datetime(2020, 1, 1, tzinfo=UTC)), "labelIds": ["INBOX"]}
    message = service.users().messages().insert(userId="me", body=body).execute()
    got = service.users().messages().get(userId="me", id=message["id"], format="minimal").execute()
    assert abs(int(got["internalDate"]) - JAN_15.timestamp() * 1000) < 5000


def test_list_returns_only_ids_newest_first(service: Any) -> None:
    older = put(service, "eldre", JAN_15, ["INBOX"])
    newer = put(service, "nyere", JAN_15 + timedelta(hours=1), ["INBOX"])
    answer = service.users().messages().list(userId="me").execute()
    assert [set(m) for m in answer["messages"]] == [{"id", "threadId"}] * 2
    assert ids(answer) == [newer, older]
    assert answer["resultSizeEstimate"] == 2


def test_empty_list_has_no_messages_key(service: Any) -> None:
    assert service.users().messages().list(userId="me").execute() == {"resultSizeEstimate": 0}


def test_list_default_page_is_100(service: Any, gmail_sandbox: RunningSandbox) -> None:
    insert_many(service, gmail_sandbox.gmail_endpoint, 101)
    answer = service.users().messages().list(userId="me").execute()
    assert (len(answer["messages"]), "nextPageToken" in answer) == (100, True)


def test_list_caps_max_results_at_500(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.enforce_rate_limits = False
    insert_many(service, gmail_sandbox.gmail_endpoint, 501)
    answer = service.users().messages().list(userId="me", maxResults=1000).execute()
    assert len(answer["messages"]) == 500
    assert answer["resultSizeEstimate"] == 501


def test_page_token_walks_every_message_once(service: Any, gmail_sandbox: RunningSandbox) -> None:
    insert_many(service, gmail_sandbox.gmail_endpoint, 25)
    messages = service.users().messages()
    request, seen = messages.list(userId="me", maxResults=10), []
    while request is not None:
        answer = request.execute()
        seen += ids(answer)
        request = messages.list_next(request, answer)
    assert len(seen) == len(set(seen)) == 25


def test_invalid_page_token_is_400(service: Any) -> None:
    assert http_error(service.users().messages().list(userId="me", pageToken="garbage!")).status_code == 400


# ---- search ----


@pytest.fixture
def small_mailbox(service: Any) -> dict[str, str]:
    """Named mails around 2024-01-15: customer mail in and out, a trashed one, an unrelated newsletter."""
    kari = service.users().labels().create(userId="me", body={"name": "Kunder/Kari Nordmann"}).execute()["id"]
    moved = service.users().labels().create(userId="me", body={"name": "Ikke relevant"}).execute()["id"]
    return {
        # 2024-01-14 23:30 in Los Angeles, already the 15th in UTC and Oslo
        "late_inbound": put(service, "Timebestilling", datetime(2024, 1, 15, 7, 30, tzinfo=UTC), ["INBOX", kari]),
        # 2024-01-15 00:30 in Los Angeles
        "reply": put(
            service,
            "Re: Timebestilling",
            datetime(2024, 1, 15, 8, 30, tzinfo=UTC),
            ["SENT", kari, moved],
            sender=OWNER,
            to="kari@example.no",
        ),
        "trashed": put(service, "Faktura", datetime(2023, 6, 1, tzinfo=UTC), ["TRASH", kari]),
        "newsletter": put(
            service, "Nyhetsbrev", datetime(2022, 3, 1, tzinfo=UTC), ["INBOX"], sender="nyhet@example.org"
        ),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('label:"Kunder/Kari Nordmann"', {"late_inbound", "reply"}),
        ("label:kunder-kari-nordmann", {"late_inbound", "reply"}),
        ("in:sent", {"reply"}),
        ("in:inbox", {"late_inbound", "newsletter"}),
        ("in:trash", {"trashed"}),
        ("label:kunder-kari-nordmann in:trash", {"trashed"}),
        ("before:2024/01/15", {"late_inbound", "newsletter"}),
        ("after:2024/01/15", {"reply"}),
        ("after:1705305600", {"reply"}),  # 2024-01-15 08:00 UTC, exact
        ("from:me", {"reply"}),
        ("from:nyhet@example.org", {"newsletter"}),
        ("to:kari@example.no", {"reply"}),
        ('label:kunder-kari-nordmann -label:"Ikke relevant"', {"late_inbound"}),
        ("in:inbox AND -label:kunder-kari-nordmann", {"newsletter"}),
        ("older_than:1y", {"newsletter"}),
        ("newer_than:3m", {"late_inbound", "reply"}),
        ("in:anywhere older_than:6m", {"trashed", "newsletter"}),
        ("Timebestilling", {"late_inbound", "reply"}),
    ],
)
def test_q_operator_selects(
    q: str, expected: set[str], service: Any, small_mailbox: dict[str, str], gmail_sandbox: RunningSandbox
) -> None:
    gmail_sandbox.state.clock.set(datetime(2024, 2, 1, tzinfo=UTC))
    names = {v: k for k, v in small_mailbox.items()}
    assert {names[i] for i in listed(service, q=q)} == expected


def test_unemulated_search_syntax_is_refused(service: Any) -> None:
    assert http_error(service.users().messages().list(userId="me", q="from:a OR from:b")).status_code == 400


def test_trash_is_hidden_unless_include_spam_trash(service: Any, small_mailbox: dict[str, str]) -> None:
    assert small_mailbox["trashed"] not in listed(service)
    assert small_mailbox["trashed"] in listed(service, includeSpamTrash=True)


def test_label_ids_filter_ands_labels(service: Any, small_mailbox: dict[str, str]) -> None:
    assert listed(service, labelIds=["INBOX"]) == [small_mailbox["late_inbound"], small_mailbox["newsletter"]]
    assert listed(service, labelIds=["TRASH"]) == [small_mailbox["trashed"]]


# ---- formats ----


def test_metadata_format_has_asked_headers_but_no_body(service: Any) -> None:
    message_id = put(service, "Hemmelig", JAN_15, ["INBOX"])
    got = (
        service.users()
        .messages()
        .get(userId="me", id=message_id, format="metadata", metadataHeaders=["From", "date"])
        .execute()
    )
    assert {h["name"] for h in got["payload"]["headers"]} == {"From", "Date"}
    assert "body" not in got["payload"] and "parts" not in got["payload"] and "raw" not in got


def test_minimal_format_has_no_payload(service: Any) -> None:
    got = service.users().messages().get(userId="me", id=put(service, "x", JAN_15, []), format="minimal").execute()
    assert {"id", "threadId", "labelIds", "internalDate", "sizeEstimate"} <= set(got) and "payload" not in got


def test_full_format_has_the_body_in_base64url(service: Any) -> None:
    got = service.users().messages().get(userId="me", id=put(service, "x", JAN_15, [])).execute()
    assert base64.urlsafe_b64decode(got["payload"]["body"]["data"]).decode().startswith("Hei, takk for sist.")


def test_raw_format_gives_back_the_message(service: Any) -> None:
    got = service.users().messages().get(userId="me", id=put(service, "Æøå", JAN_15, []), format="raw").execute()
    assert message_from_bytes(base64.urlsafe_b64decode(got["raw"]))["Subject"] is not None


# ---- deletion, trash, labels ----


def test_batch_delete_is_permanent(service: Any) -> None:
    message_id = put(service, "hei", JAN_15, ["INBOX"])
    service.users().messages().batchDelete(userId="me", body={"ids": [message_id]}).execute()
    assert http_error(service.users().messages().get(userId="me", id=message_id)).status_code == 404
    assert listed(service, includeSpamTrash=True) == []


def test_delete_is_permanent(service: Any) -> None:
    message_id = put(service, "hei", JAN_15, ["INBOX"])
    service.users().messages().delete(userId="me", id=message_id).execute()
    assert http_error(service.users().messages().get(userId="me", id=message_id)).status_code == 404


def test_batch_delete_over_1000_ids_is_refused(service: Any) -> None:
    too_many = [f"{n:016x}" for n in range(1001)]
    error = http_error(service.users().messages().batchDelete(userId="me", body={"ids": too_many}))
    assert error.status_code == 400


def test_trash_is_reversible_and_keeps_labels(service: Any) -> None:
    label = service.users().labels().create(userId="me", body={"name": "Kunder/Ola"}).execute()["id"]
    message_id = put(service, "hei", JAN_15, ["INBOX", label])
    trashed = service.users().messages().trash(userId="me", id=message_id).execute()
    assert set(trashed["labelIds"]) == {"INBOX", label, "TRASH"}
    assert listed(service, q="in:inbox") == []
    service.users().messages().untrash(userId="me", id=message_id).execute()
    assert listed(service, q="in:inbox") == [message_id]


def test_batch_modify_adds_and_removes_labels(service: Any) -> None:
    label = service.users().labels().create(userId="me", body={"name": NOT_RELEVANT_LABEL}).execute()["id"]
    message_id = put(service, "hei", JAN_15, ["INBOX", "UNREAD"])
    body = {"ids": [message_id], "addLabelIds": [label], "removeLabelIds": ["UNREAD"]}
    service.users().messages().batchModify(userId="me", body=body).execute()
    got = service.users().messages().get(userId="me", id=message_id, format="minimal").execute()
    assert set(got["labelIds"]) == {"INBOX", label}


def test_batch_modify_over_1000_ids_is_refused(service: Any) -> None:
    body = {"ids": [f"{n:016x}" for n in range(1001)], "addLabelIds": ["STARRED"]}
    assert http_error(service.users().messages().batchModify(userId="me", body=body)).status_code == 400


def test_unknown_body_field_is_400(service: Any) -> None:
    error = http_error(service.users().messages().batchDelete(userId="me", body={"messageIds": ["1"]}))
    assert error.status_code == 400


# ---- quota and faults ----


def test_quota_exceeded_is_429_rate_limit_exceeded(service: Any, gmail_sandbox: RunningSandbox) -> None:
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/quota", json={"units_per_minute": 12}).raise_for_status()
    service.users().messages().list(userId="me").execute()
    service.users().messages().list(userId="me").execute()
    error = http_error(service.users().messages().list(userId="me"))
    assert (error.status_code, reason(error)) == (429, "rateLimitExceeded")


def test_quota_frees_up_after_a_minute(service: Any, gmail_sandbox: RunningSandbox) -> None:
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/quota", json={"units_per_minute": 5}).raise_for_status()
    service.users().messages().list(userId="me").execute()
    gmail_sandbox.state.clock.advance(timedelta(seconds=61))
    service.users().messages().list(userId="me").execute()


def test_quota_not_enforced_when_rate_limits_are_off(service: Any, gmail_sandbox: RunningSandbox) -> None:
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/quota", json={"units_per_minute": 1}).raise_for_status()
    gmail_sandbox.state.enforce_rate_limits = False
    service.users().messages().list(userId="me").execute()


def test_quota_units_are_counted_per_method(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.stats.reset()
    message_id = put(service, "hei", JAN_15, ["INBOX"])
    service.users().messages().get(userId="me", id=message_id).execute()
    service.users().messages().batchDelete(userId="me", body={"ids": [message_id]}).execute()
    assert gmail_sandbox.state.stats.snapshot()["gmail"]["quota_units"] == 25 + 5 + 50


def test_staged_503_answers_backend_error_once(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.faults.stage("gmail", Fault(status=503, remaining=1, path_contains="/messages"))
    error = http_error(service.users().messages().list(userId="me"))
    assert (error.status_code, reason(error)) == (503, "backendError")
    service.users().messages().list(userId="me").execute()


def test_staged_403_is_user_rate_limit_exceeded(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.faults.stage("gmail", Fault(status=403, remaining=1))
    error = http_error(service.users().labels().list(userId="me"))
    assert reason(error) == "userRateLimitExceeded"


def test_a_dropped_connection_is_a_cut_off_answer_not_an_http_error(
    service: Any, gmail_sandbox: RunningSandbox
) -> None:
    gmail_sandbox.state.faults.stage("gmail", Fault(drop=True, remaining=1, path_contains="/labels"))
    with pytest.raises(http.client.IncompleteRead):
        service.users().labels().list(userId="me").execute()


def test_a_dropped_connection_loses_the_whole_batch_answer(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.faults.stage("gmail", Fault(drop=True, remaining=1, path_contains="/labels"))
    with pytest.raises(http.client.IncompleteRead):
        run_batch(gmail_sandbox.gmail_endpoint, [service.users().labels().list(userId="me") for _ in range(2)])


def test_a_staged_body_replaces_the_answer_as_it_is(gmail_sandbox: RunningSandbox) -> None:
    page = b"<html><body>Bad gateway</body></html>"
    gmail_sandbox.state.faults.stage("gmail", Fault(remaining=1, body=page, content_type="text/html"))
    answer = httpx.get(f"{gmail_sandbox.gmail_endpoint}gmail/v1/users/me/labels")
    assert (answer.status_code, answer.content, answer.headers["content-type"]) == (
        200,
        page,
        "text/html; charset=utf-8",
    )


def test_a_batch_fault_stops_batch_delete_half_way(service: Any, gmail_sandbox: RunningSandbox) -> None:
    message_ids = [put(service, f"mail {n}", JAN_15, ["INBOX"]) for n in range(4)]
    gmail_sandbox.state.faults.stage("gmail/batch", Fault(status=500, remaining=1))
    error = http_error(service.users().messages().batchDelete(userId="me", body={"ids": message_ids}))
    assert (error.status_code, reason(error)) == (500, "backendError")
    assert set(listed(service, includeSpamTrash=True)) == set(message_ids[2:])
    service.users().messages().batchDelete(userId="me", body={"ids": message_ids}).execute()
    assert listed(service, includeSpamTrash=True) == []


# ---- HTTP batch ----


def run_batch(endpoint: str, calls: list[Any]) -> dict[str, tuple[Any, HttpError | None]]:
    answers: dict[str, tuple[Any, HttpError | None]] = {}
    batch = batch_for(endpoint)
    for call in calls:
        batch.add(call, callback=lambda rid, resp, exc: answers.__setitem__(rid, (resp, exc)))
    batch.execute()
    return answers


def test_batch_runs_several_gets(service: Any, gmail_sandbox: RunningSandbox) -> None:
    message_ids = [put(service, f"mail {n}", JAN_15, ["INBOX"]) for n in range(3)]
    calls = [service.users().messages().get(userId="me", id=i, format="minimal") for i in message_ids]
    answers = run_batch(gmail_sandbox.gmail_endpoint, calls)
    assert [answers[str(n + 1)][0]["id"] for n in range(3)] == message_ids


def test_batch_part_errors_are_per_part(service: Any, gmail_sandbox: RunningSandbox) -> None:
    message_id = put(service, "hei", JAN_15, ["INBOX"])
    calls = [service.users().messages().get(userId="me", id=i) for i in (message_id, "00000000000000ff")]
    answers = run_batch(gmail_sandbox.gmail_endpoint, calls)
    assert answers["1"][1] is None
    error = answers["2"][1]
    assert error is not None and error.status_code == 404


def test_batch_parts_each_cost_quota(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.stats.reset()
    run_batch(gmail_sandbox.gmail_endpoint, [service.users().messages().list(userId="me") for _ in range(4)])
    assert gmail_sandbox.state.stats.snapshot()["gmail"]["quota_units"] == 4 * 5


def test_batch_over_100_parts_is_refused(service: Any, gmail_sandbox: RunningSandbox) -> None:
    with pytest.raises(HttpError) as caught:
        run_batch(gmail_sandbox.gmail_endpoint, [service.users().labels().list(userId="me") for _ in range(101)])
    assert caught.value.status_code == 400


def test_staged_5xx_hits_one_batch_part(service: Any, gmail_sandbox: RunningSandbox) -> None:
    gmail_sandbox.state.faults.stage("gmail", Fault(status=500, remaining=1, path_contains="/labels"))
    calls = [service.users().labels().list(userId="me") for _ in range(2)]
    answers = run_batch(gmail_sandbox.gmail_endpoint, calls)
    first_error = answers["1"][1]
    assert first_error is not None and first_error.status_code == 500
    assert answers["2"][1] is None


# ---- seeding ----

SEED_NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def seed(service: Any, count: int = 6, rng_seed: int = 7) -> Any:
    customers = default_customers(count, now=SEED_NOW, rng_seed=rng_seed)
    return customers, seed_stressfri_mailbox(service, SEED_NOW, customers, rng_seed)


def test_seed_is_deterministic_per_seed(service: Any, gmail_sandbox: RunningSandbox) -> None:
    _, first = seed(service)
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/reset").raise_for_status()
    _, second = seed(service)
    assert first == second


def test_seed_customer_label_finds_exactly_that_customers_mail(service: Any) -> None:
    customers, manifest = seed(service)
    for customer in customers:
        found = listed(service, labelIds=[manifest.customer_label_ids[customer.ref]], includeSpamTrash=True)
        assert sorted(found) == sorted(manifest.of_customer(customer.ref))


def test_seed_folders_match_gmail_folders(service: Any) -> None:
    _, manifest = seed(service)
    for folder in ("inbox", "sent", "trash"):
        assert sorted(listed(service, q=f"in:{folder}", maxResults=500)) == sorted(manifest.folders[folder])


def test_seed_unrelated_mail_has_no_customer_label(service: Any) -> None:
    _, manifest = seed(service)
    unlabelled = listed(service, q="has:nouserlabels", includeSpamTrash=True, maxResults=500)
    assert sorted(unlabelled) == sorted(manifest.unrelated) and manifest.unrelated


def test_seed_dates_mail_at_its_date_header(service: Any) -> None:
    _, manifest = seed(service, count=2)
    message_id, at = next(iter(manifest.internal_dates.items()))
    got = service.users().messages().get(userId="me", id=message_id, format="minimal").execute()
    assert int(got["internalDate"]) == int(at.timestamp() * 1000)
    assert max(manifest.internal_dates.values()) <= SEED_NOW
