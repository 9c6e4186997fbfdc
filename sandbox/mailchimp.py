"""Emulator of the Mailchimp Marketing API 3.0 (the parts a data-hygiene connector uses).

Point the official SDK at it by setting the client's host, which the SDK otherwise builds from the key's
data centre (`https://server.api.mailchimp.com/3.0`, with `server` replaced by `us21`)::

    client = mailchimp_marketing.Client({"api_key": MAILCHIMP_API_KEY})
    client.api_client.host = sandbox.mailchimp_host          # e.g. http://127.0.0.1:PORT/mailchimp/3.0

(`set_config` resets only the key, server and timeout; the host is a plain attribute.) The SDK returns dicts,
raises `mailchimp_marketing.api_client.ApiClientError` with `status_code` and, for `application/problem+json`
errors, `text` holding the raw JSON string, exactly as it does against Mailchimp.

Covered: `GET /` and `/ping`; `GET|POST /lists`, `GET /lists/{id}`; `GET|POST /lists/{id}/merge-fields`;
`GET|POST /lists/{id}/members`; `GET|PUT|PATCH|DELETE /lists/{id}/members/{hash}`; `GET
.../activity-feed`; `POST .../actions/delete-permanent`; `GET /search-members`; `GET|POST /batches`,
`GET /batches/{id}` and the batch results archive. Limits: 10 simultaneous connections per API key (429).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox import credentials
from sandbox.common import ConcurrencyGate, VendorError, install_guard, json_object
from sandbox.mailchimp_batches import BatchRunner
from sandbox.mailchimp_store import (
    ALL_STATUSES,
    Audience,
    MailchimpStore,
    Member,
    invalid,
    mc_time,
)
from sandbox.state import SandboxState

VENDOR = "mailchimp"
SIMULTANEOUS_CONNECTIONS = 10
DEFAULT_COUNT = 10
MAX_COUNT = 1000
ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
RESULTS_PATH = "/batch-results/"
_FAULT_TITLES = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Resource Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class MailchimpPolicy:
    """Basic auth with any user name and the API key as password; a gate of simultaneous connections per key."""

    vendor = VENDOR

    def __init__(self) -> None:
        self._gate = ConcurrencyGate(SIMULTANEOUS_CONNECTIONS)

    def authenticate(self, request: Request) -> None:
        if request.url.path.startswith(f"{request.scope.get('root_path', '')}{RESULTS_PATH}"):
            return  # the results archive sits behind a pre-signed URL, not the API key
        key = _presented_key(request)
        if key is None:
            raise VendorError(401, "API Key Missing", "Your request did not include an API key.")
        if key != credentials.MAILCHIMP_API_KEY:
            raise VendorError(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )

    @contextmanager
    def admit(self, request: Request) -> Iterator[dict[str, str]]:
        key = _presented_key(request) or ""
        if not self._gate.try_enter(key):
            raise VendorError(
                429,
                "Too Many Requests",
                f"You have exceeded the limit of {SIMULTANEOUS_CONNECTIONS} simultaneous connections.",
            )
        try:
            yield {}
        finally:
            self._gate.leave(key)

    def fault_error(self, status: int) -> VendorError:
        return VendorError(status, _FAULT_TITLES.get(status, "Error"), "An unexpected error occurred (staged fault).")

    def render(self, error: VendorError, request: Request) -> Response:
        problem = {
            "type": ERROR_DOCS,
            "title": error.title,
            "status": error.status,
            "detail": error.detail,
            "instance": str(uuid.uuid4()),
            **error.extra,
        }
        return JSONResponse(
            problem,
            status_code=error.status,
            headers=error.headers,
            media_type="application/problem+json; charset=utf-8",
        )


def _presented_key(request: Request) -> str | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _, _, key = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return key or None


def create_mailchimp_app(state: SandboxState) -> FastAPI:
    """The Mailchimp app; its store and batch runner live as long as the app (one sandbox)."""
    app = FastAPI(title="mailchimp emulator", docs_url=None, redoc_url=None, openapi_url=None)
    store = MailchimpStore()
    state.stores[VENDOR] = store
    batches = BatchRunner(app, state.clock)
    install_guard(app, MailchimpPolicy(), state)
    _add_account_routes(app, store)
    _add_list_routes(app, store, state)
    _add_member_routes(app, store, state)
    _add_batch_routes(app, batches)
    return app


# routes ---------------------------------------------------------------------------------------------------


def _add_account_routes(app: FastAPI, store: MailchimpStore) -> None:
    @app.get("/")
    async def root() -> dict[str, Any]:
        total = sum(len(a.members) for a in store.audiences())
        return {
            "account_id": "sandbox",
            "login_id": "sandbox",
            "account_name": "Sandbox",
            "email": "owner@example.invalid",
            "role": "owner",
            "pricing_plan_type": "monthly",
            "account_timezone": "Europe/Copenhagen",
            "total_subscribers": total,
            "_links": [],
        }

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"health_status": "Everything's Chimpy!"}

    @app.get("/search-members")
    async def search_members(request: Request) -> Response:
        query = request.query_params.get("query", "")
        if not query:
            raise invalid(
                "The resource submitted could not be validated.",
                [{"field": "query", "message": "This value should not be blank."}],
            )
        exact, partial = store.search(query, request.query_params.get("list_id"))
        body = {
            "exact_matches": {"members": [_member_json(m, lid) for lid, m in exact], "total_items": len(exact)},
            "full_search": {"members": [_member_json(m, lid) for lid, m in partial], "total_items": len(partial)},
            "_links": [],
        }
        return _trimmed(request, body)


def _add_list_routes(app: FastAPI, store: MailchimpStore, state: SandboxState) -> None:
    @app.get("/lists")
    async def get_lists(request: Request) -> Response:
        audiences = store.audiences()
        count, offset = _paging(request)
        body = {
            "lists": [_audience_json(a) for a in audiences[offset : offset + count]],
            "total_items": len(audiences),
            "constraints": {"may_create": True},
            "_links": [],
        }
        return _trimmed(request, body)

    @app.post("/lists")
    async def create_list(request: Request) -> Response:
        audience = store.create_audience(await _body(request), state.clock.now())
        return JSONResponse(_audience_json(audience))

    @app.get("/lists/{list_id}")
    async def get_list(list_id: str, request: Request) -> Response:
        return _trimmed(request, _audience_json(store.audience(list_id)))

    @app.get("/lists/{list_id}/merge-fields")
    async def get_merge_fields(list_id: str, request: Request) -> Response:
        fields = store.audience(list_id).merge_fields
        count, offset = _paging(request)
        body = {
            "merge_fields": [f.as_json(list_id) for f in fields[offset : offset + count]],
            "list_id": list_id,
            "total_items": len(fields),
            "_links": [],
        }
        return _trimmed(request, body)

    @app.post("/lists/{list_id}/merge-fields")
    async def add_merge_field(list_id: str, request: Request) -> Response:
        return JSONResponse(store.add_merge_field(list_id, await _body(request)).as_json(list_id))


def _add_member_routes(app: FastAPI, store: MailchimpStore, state: SandboxState) -> None:
    @app.get("/lists/{list_id}/members")
    async def get_members(list_id: str, request: Request) -> Response:
        audience = store.audience(list_id)
        selected = _filter_members(list(audience.members.values()), request)
        count, offset = _paging(request)
        body = {
            "members": [_member_json(m, list_id) for m in selected[offset : offset + count]],
            "list_id": list_id,
            "total_items": len(selected),
            "_links": [],
        }
        return _trimmed(request, body)

    @app.post("/lists/{list_id}/members")
    async def add_member(list_id: str, request: Request) -> Response:
        member = store.add_member(list_id, await _body(request), state.clock.now())
        return JSONResponse(_member_json(member, list_id))

    @app.get("/lists/{list_id}/members/{subscriber_hash}")
    async def get_member(list_id: str, subscriber_hash: str, request: Request) -> Response:
        return _trimmed(request, _member_json(store.member(list_id, subscriber_hash), list_id))

    @app.put("/lists/{list_id}/members/{subscriber_hash}")
    async def put_member(list_id: str, subscriber_hash: str, request: Request) -> Response:
        member = store.put_member(list_id, subscriber_hash, await _body(request), state.clock.now())
        return JSONResponse(_member_json(member, list_id))

    @app.patch("/lists/{list_id}/members/{subscriber_hash}")
    async def patch_member(list_id: str, subscriber_hash: str, request: Request) -> Response:
        member = store.patch_member(list_id, subscriber_hash, await _body(request), state.clock.now())
        return JSONResponse(_member_json(member, list_id))

    @app.delete("/lists/{list_id}/members/{subscriber_hash}")
    async def archive_member(list_id: str, subscriber_hash: str) -> Response:
        store.archive_member(list_id, subscriber_hash, state.clock.now())
        return Response(status_code=204)

    @app.post("/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent")
    async def delete_permanent(list_id: str, subscriber_hash: str) -> Response:
        store.delete_permanent(list_id, subscriber_hash)
        return Response(status_code=204)

    @app.get("/lists/{list_id}/members/{subscriber_hash}/activity-feed")
    async def activity_feed(list_id: str, subscriber_hash: str, request: Request) -> Response:
        member = store.member(list_id, subscriber_hash)
        events = sorted(member.events, key=lambda e: str(e["created_at_timestamp"]), reverse=True)
        count, offset = _paging(request)
        body = {
            "activity": events[offset : offset + count],
            "email_id": member.hash,
            "list_id": list_id,
            "total_items": len(events),
            "_links": [],
        }
        return _trimmed(request, body)


def _add_batch_routes(app: FastAPI, batches: BatchRunner) -> None:
    @app.post("/batches")
    async def start_batch(request: Request) -> Response:
        mount = f"{str(request.base_url).rstrip('/')}{request.scope.get('root_path', '')}"
        batch = batches.submit(await _body(request), f"{mount}{RESULTS_PATH}")
        return JSONResponse(batch.as_json())

    @app.get("/batches")
    async def list_batches(request: Request) -> Response:
        every = batches.all()
        count, offset = _paging(request)
        body = {
            "batches": [b.as_json() for b in every[offset : offset + count]],
            "total_items": len(every),
            "_links": [],
        }
        return _trimmed(request, body)

    @app.get("/batches/{batch_id}")
    async def get_batch(batch_id: str, request: Request) -> Response:
        return _trimmed(request, batches.get(batch_id).as_json())

    @app.get(RESULTS_PATH + "{batch_id}.tar.gz")
    async def batch_results(batch_id: str) -> Response:
        return Response(batches.archive(batch_id), media_type="application/x-gzip")


# request parsing ------------------------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    if body is None:
        raise VendorError(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.")
    return body


def _paging(request: Request) -> tuple[int, int]:
    """`count` (default 10, at most 1000) and `offset`; out-of-range values are refused rather than clamped."""
    try:
        count = int(request.query_params.get("count", DEFAULT_COUNT))
        offset = int(request.query_params.get("offset", 0))
    except ValueError as exc:
        raise invalid("count and offset must be integers.") from exc
    if not 0 <= count <= MAX_COUNT or offset < 0:
        raise invalid(
            f"count must be between 0 and {MAX_COUNT} and offset not negative.",
            [{"field": "count", "message": f"The value must be at most {MAX_COUNT}."}],
        )
    return count, offset


def _filter_members(members: list[Member], request: Request) -> list[Member]:
    params = request.query_params
    status = params.get("status")
    if status is not None and status not in ALL_STATUSES:
        raise invalid(
            "The resource submitted could not be validated.",
            [{"field": "status", "message": "Schema describes enum, but the value is not one of them."}],
        )
    since = _moment(params.get("since_last_changed"), "since_last_changed")
    before = _moment(params.get("before_last_changed"), "before_last_changed")
    return [
        m
        for m in members
        if (status is None or m.status == status)
        and (since is None or m.last_changed > since)
        and (before is None or m.last_changed < before)
    ]


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError as exc:
        raise invalid(f"{name} must be an ISO 8601 time, e.g. 2015-10-21T15:41:36+00:00.") from exc
    if moment.tzinfo is None:
        raise invalid(f"{name} must carry a UTC offset, e.g. 2015-10-21T15:41:36+00:00.")
    return moment


# response shaping -----------------------------------------------------------------------------------------


def _trimmed(request: Request, body: dict[str, Any]) -> Response:
    """Apply `fields` / `exclude_fields` (comma-separated, dotted into sub-objects and lists of them)."""
    fields = _paths(request, "fields")
    excluded = _paths(request, "exclude_fields")
    if fields:
        body = _keep(body, _tree(fields))
    if excluded:
        body = _drop(body, _tree(excluded))
    return JSONResponse(body)


def _paths(request: Request, name: str) -> list[str]:
    return [p.strip() for raw in request.query_params.getlist(name) for p in raw.split(",") if p.strip()]


def _tree(paths: list[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


def _keep(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_keep(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: (_keep(value[key], sub) if sub else value[key]) for key, sub in tree.items() if key in value}


def _drop(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_drop(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: (_drop(item, tree[key]) if tree.get(key) else item)
        for key, item in value.items()
        if key not in tree or tree[key]
    }


def _audience_json(audience: Audience) -> dict[str, Any]:
    members = list(audience.members.values())

    def count(status: str) -> int:
        return sum(1 for m in members if m.status == status)

    return {
        "id": audience.id,
        "web_id": audience.web_id,
        "name": audience.name,
        "contact": audience.contact,
        "permission_reminder": audience.permission_reminder,
        "use_archive_bar": True,
        "campaign_defaults": audience.campaign_defaults,
        "notify_on_subscribe": "",
        "notify_on_unsubscribe": "",
        "date_created": mc_time(audience.date_created),
        "list_rating": 0,
        "email_type_option": audience.email_type_option,
        "subscribe_url_short": f"https://eepurl.com/{audience.id}",
        "subscribe_url_long": f"https://sandbox.us21.list-manage.com/subscribe?id={audience.id}",
        "beamer_address": "",
        "visibility": "prv",
        "double_optin": audience.double_optin,
        "has_welcome": False,
        "marketing_permissions": False,
        "modules": [],
        "stats": {
            "member_count": count("subscribed"),
            "total_contacts": len(members),
            "unsubscribe_count": count("unsubscribed"),
            "cleaned_count": count("cleaned"),
            "member_count_since_send": count("subscribed"),
            "unsubscribe_count_since_send": count("unsubscribed"),
            "cleaned_count_since_send": count("cleaned"),
            "campaign_count": 0,
            "merge_field_count": len(audience.merge_fields),
        },
        "_links": [],
    }


def _member_json(member: Member, list_id: str) -> dict[str, Any]:
    full_name = " ".join(str(member.merge_fields.get(t, "")) for t in ("FNAME", "LNAME")).strip()
    body: dict[str, Any] = {
        "id": member.hash,
        "email_address": member.email,
        "unique_email_id": member.hash[:10],
        "contact_id": member.hash,
        "full_name": full_name,
        "web_id": member.web_id,
        "email_type": member.email_type,
        "status": member.status,
        "consents_to_one_to_one_messaging": True,
        "merge_fields": dict(member.merge_fields),
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": "",
        "timestamp_signup": member.timestamp_signup,
        "ip_opt": "",
        "timestamp_opt": mc_time(member.timestamp_opt),
        "member_rating": 2,
        "last_changed": mc_time(member.last_changed),
        "language": member.language,
        "vip": member.vip,
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0, "country_code": "", "timezone": ""},
        "source": "API - Generic",
        "tags_count": 0,
        "tags": [],
        "list_id": list_id,
        "_links": [],
    }
    if member.unsubscribe_reason:
        body["unsubscribe_reason"] = member.unsubscribe_reason
    return body
