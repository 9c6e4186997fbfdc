"""Emulator of HubSpot's CRM v3 contacts API (plus the contact properties a connector needs to define).

Point the official SDK at it through its configuration host::

    client = hubspot.HubSpot(access_token=HUBSPOT_ACCESS_TOKEN, host=sandbox.hubspot_host)

(`host` becomes `Configuration.host` of every API client the SDK builds.) Answers deserialize into the SDK's
models (`SimplePublicObject`, `CollectionResponseWithTotal...`, `BatchResponse...`); errors raise the SDK's
`ApiException` with `status` and a JSON body of `status`, `message`, `correlationId`, `category`.

Covered: `GET|POST /crm/v3/objects/contacts`, `GET|PATCH|DELETE /crm/v3/objects/contacts/{contactId}`,
`POST .../contacts/search`, `POST .../contacts/batch/{read,create,update,archive}` (at most 100 inputs),
`POST .../contacts/gdpr-delete`, `GET|POST /crm/v3/properties/contacts`, and
`POST /communication-preferences/v3/unsubscribe`: the portal has one subscription type (the newsletter), so
unsubscribing from it opts the person out of all email (`hs_email_optout` true). `batch/read` answers
`propertiesWithHistory` (newest first), which is how a connector learns when a property changed.
Limits (when the sandbox enforces them): 100 requests per rolling 10 s (190 on Professional/Enterprise, set
with `state.limit_tiers["hubspot"]`) and a daily cap, reported in `X-HubSpot-RateLimit-*` headers; search has
its own limit of 5 requests a second per account, and its answers carry no rate-limit headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox import credentials
from sandbox.common import DailyCounter, SlidingWindow, VendorError, install_guard, json_object
from sandbox.hubspot_search import search
from sandbox.hubspot_store import (
    ALWAYS_PROPERTIES,
    DEFAULT_PROPERTIES,
    Contact,
    HubSpotStore,
    hs_time,
    validation_error,
)
from sandbox.state import SandboxState

VENDOR = "hubspot"
CONTACTS = "/crm/v3/objects/contacts"
MAX_PAGE = 100
DEFAULT_PAGE = 10
MAX_BATCH_INPUTS = 100
INTERVAL = timedelta(seconds=10)
SEARCH_PER_SECOND = 5
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_FAULT_CATEGORIES = {
    429: "RATE_LIMITS",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


@dataclass(frozen=True)
class Tier:
    """A plan's documented private-app limits."""

    per_interval: int
    daily: int


TIERS = {
    "free": Tier(100, 250_000),
    "starter": Tier(100, 250_000),
    "professional": Tier(190, 625_000),
    "enterprise": Tier(190, 1_000_000),
}


class HubSpotPolicy:
    """Bearer-token auth; the ten-second, daily and search limits of one account."""

    vendor = VENDOR

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._windows: dict[str, tuple[SlidingWindow, DailyCounter]] = {}
        self._search = SlidingWindow(SEARCH_PER_SECOND, timedelta(seconds=1))

    def authenticate(self, request: Request) -> None:
        if request.headers.get("authorization", "") != f"Bearer {credentials.HUBSPOT_ACCESS_TOKEN}":
            raise VendorError(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)

    @contextmanager
    def admit(self, request: Request) -> Iterator[dict[str, str]]:
        now = self._state.clock.now()
        if request.url.path.endswith(f"{CONTACTS}/search"):
            if self._search.acquire(now) is None:
                raise _rate_limited("You have reached your secondly limit.", "SECONDLY", {})
            yield {}
            return
        tier_name = self._state.limit_tiers.get(VENDOR, "starter")
        tier = TIERS.get(tier_name, TIERS["starter"])
        interval, daily = self._limits(tier_name, tier)
        daily_left = daily.acquire(now)
        if daily_left is None:
            raise _rate_limited("You have reached your daily limit.", "DAILY", _headers(tier, 0, 0))
        interval_left = interval.acquire(now)
        if interval_left is None:
            raise _rate_limited(
                "You have reached your ten_secondly_rolling limit.",
                "TEN_SECONDLY_ROLLING",
                _headers(tier, daily_left, 0),
            )
        yield _headers(tier, daily_left, interval_left)

    def fault_error(self, status: int) -> VendorError:
        if status == 429:
            return _rate_limited("You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING", {})
        return VendorError(status, _FAULT_CATEGORIES.get(status, "INTERNAL_ERROR"), "internal error (staged fault)")

    def render(self, error: VendorError, request: Request) -> Response:
        body = {
            "status": "error",
            "message": error.detail,
            "correlationId": str(uuid.uuid4()),
            "category": error.title,
            **error.extra,
        }
        return JSONResponse(body, status_code=error.status, headers=error.headers)

    def _limits(self, tier_name: str, tier: Tier) -> tuple[SlidingWindow, DailyCounter]:
        if tier_name not in self._windows:
            self._windows[tier_name] = (SlidingWindow(tier.per_interval, INTERVAL), DailyCounter(tier.daily))
        return self._windows[tier_name]


def _headers(tier: Tier, daily_left: int, interval_left: int) -> dict[str, str]:
    """HubSpot's rate-limit headers; the secondly pair is derived from the ten-second policy."""
    secondly = tier.per_interval // 10
    return {
        "X-HubSpot-RateLimit-Daily": str(tier.daily),
        "X-HubSpot-RateLimit-Daily-Remaining": str(daily_left),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(INTERVAL.total_seconds() * 1000)),
        "X-HubSpot-RateLimit-Max": str(tier.per_interval),
        "X-HubSpot-RateLimit-Remaining": str(interval_left),
        "X-HubSpot-RateLimit-Secondly": str(secondly),
        "X-HubSpot-RateLimit-Secondly-Remaining": str(min(secondly, interval_left)),
    }


def _rate_limited(message: str, policy: str, headers: dict[str, str]) -> VendorError:
    return VendorError(
        429, "RATE_LIMITS", message, headers=headers, extra={"errorType": "RATE_LIMIT", "policyName": policy}
    )


def create_hubspot_app(state: SandboxState) -> FastAPI:
    """The HubSpot app; its store is also published as `state.stores["hubspot"]` for in-process inspection."""
    app = FastAPI(title="hubspot emulator", docs_url=None, redoc_url=None, openapi_url=None)
    store = HubSpotStore()
    state.stores[VENDOR] = store
    install_guard(app, HubSpotPolicy(state), state)
    _add_property_routes(app, store, state)
    _add_search_and_batch_routes(app, store, state)
    _add_contact_routes(app, store, state)
    _add_subscription_routes(app, store, state)
    return app


#: the one subscription type of the emulated portal
NEWSLETTER_SUBSCRIPTION = {"id": "1", "name": "Newsletter", "description": "The newsletter"}


def _add_subscription_routes(app: FastAPI, store: HubSpotStore, state: SandboxState) -> None:
    @app.post("/communication-preferences/v3/unsubscribe")
    async def unsubscribe(request: Request) -> dict[str, Any]:
        body = await _body(request)
        if not body.get("emailAddress") or str(body.get("subscriptionId")) != NEWSLETTER_SUBSCRIPTION["id"]:
            raise validation_error("emailAddress and a known subscriptionId are required")
        store.opt_out(str(body["emailAddress"]), state.clock.now())
        return {**NEWSLETTER_SUBSCRIPTION, "status": "NOT_SUBSCRIBED", "sourceOfStatus": "PORTAL_WIDE_STATUS"}


# routes ---------------------------------------------------------------------------------------------------


def _add_property_routes(app: FastAPI, store: HubSpotStore, state: SandboxState) -> None:
    @app.get("/crm/v3/properties/contacts")
    async def get_properties() -> dict[str, Any]:
        now = state.clock.now()
        return {"results": [p.as_json(now) for p in store.properties.values()]}

    @app.post("/crm/v3/properties/contacts")
    async def create_property(request: Request) -> Response:
        definition = store.define_property(await _body(request))
        return JSONResponse(definition.as_json(state.clock.now()), status_code=201)


def _add_contact_routes(app: FastAPI, store: HubSpotStore, state: SandboxState) -> None:
    @app.get(CONTACTS)
    async def list_contacts(request: Request) -> dict[str, Any]:
        limit = _int_param(request, "limit", DEFAULT_PAGE, MAX_PAGE)
        after = _int_param(request, "after", 0, None)
        contacts, next_id = store.page(archived=_archived(request), after=after, limit=limit)
        body: dict[str, Any] = {"results": [_object(c, _asked(request)) for c in contacts]}
        if next_id is not None:
            link = f"{request.url.path}?after={next_id}"
            body["paging"] = {"next": {"after": str(next_id), "link": link}}
        return body

    @app.post(CONTACTS)
    async def create_contact(request: Request) -> Response:
        body = await _body(request)
        contact = store.create(body.get("properties"), state.clock.now())
        return JSONResponse(_written(contact, body.get("properties")), status_code=201)

    @app.get(CONTACTS + "/{contactId}")
    async def get_contact(contactId: str, request: Request) -> dict[str, Any]:
        contact = store.find(contactId, archived=_archived(request), id_property=request.query_params.get("idProperty"))
        return _object(contact, _asked(request))

    @app.patch(CONTACTS + "/{contactId}")
    async def update_contact(contactId: str, request: Request) -> dict[str, Any]:
        contact = store.find(contactId, archived=False, id_property=request.query_params.get("idProperty"))
        body = await _body(request)
        return _written(store.update(contact, body.get("properties"), state.clock.now()), body.get("properties"))

    @app.delete(CONTACTS + "/{contactId}")
    async def archive_contact(contactId: str) -> Response:
        store.archive(contactId, state.clock.now())
        return Response(status_code=204)


def _add_search_and_batch_routes(app: FastAPI, store: HubSpotStore, state: SandboxState) -> None:
    @app.post(CONTACTS + "/search")
    async def search_contacts(request: Request) -> dict[str, Any]:
        body = await _body(request)
        page = search(store, body)
        asked = [str(p) for p in body.get("properties") or []] or None
        answer: dict[str, Any] = {"total": page.total, "results": [_object(c, asked) for c in page.results]}
        if page.next_after is not None:
            answer["paging"] = {"next": {"after": page.next_after}}
        return answer

    @app.post(CONTACTS + "/gdpr-delete")
    async def gdpr_delete(request: Request) -> Response:
        body = await _body(request)
        if not body.get("objectId"):
            raise validation_error("objectId is required")
        store.gdpr_delete(str(body["objectId"]), body.get("idProperty"))
        return Response(status_code=204)

    @app.post(CONTACTS + "/batch/read")
    async def batch_read(request: Request) -> Response:
        body = await _body(request)
        inputs = _batch_inputs(body)
        asked = [str(p) for p in body.get("properties") or []] or None
        found, missing = [], []
        with_history = [str(p) for p in body.get("propertiesWithHistory") or []]
        for item in inputs:
            try:
                contact = store.find(
                    str(item.get("id")), archived=_archived(request), id_property=body.get("idProperty")
                )
                found.append(_object(contact, asked) | _history(contact, with_history))
            except VendorError:
                missing.append(str(item.get("id")))
        return _batch_answer(state.clock.now(), found, missing, "get", 200)

    @app.post(CONTACTS + "/batch/create")
    async def batch_create(request: Request) -> Response:
        inputs = _batch_inputs(await _body(request))
        now = state.clock.now()
        values = [i.get("properties") for i in inputs]
        created = [_written(c, v) for c, v in zip(store.create_many(values, now), values, strict=True)]
        return _batch_answer(now, created, [], "create", 201)

    @app.post(CONTACTS + "/batch/update")
    async def batch_update(request: Request) -> Response:
        inputs = _batch_inputs(await _body(request))
        now = state.clock.now()
        updated, missing = [], []
        for item in inputs:
            try:
                contact = store.find(str(item.get("id")), archived=False)
            except VendorError:
                missing.append(str(item.get("id")))
                continue
            updated.append(_written(store.update(contact, item.get("properties"), now), item.get("properties")))
        return _batch_answer(now, updated, missing, "update", 200)

    @app.post(CONTACTS + "/batch/archive")
    async def batch_archive(request: Request) -> Response:
        now = state.clock.now()
        for item in _batch_inputs(await _body(request)):
            store.archive(str(item.get("id")), now)
        return Response(status_code=204)


# request parsing ------------------------------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    if body is None:
        raise validation_error("Invalid input JSON on line 1: the body must be a JSON object.")
    return body


def _int_param(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError as exc:
        raise validation_error(f"{name} must be an integer") from exc
    if value < 0 or (maximum is not None and value > maximum):
        raise validation_error(f"{name} must be between 0 and {maximum}")
    return value


def _archived(request: Request) -> bool:
    return request.query_params.get("archived", "false").lower() == "true"


def _asked(request: Request) -> list[str] | None:
    names = [n.strip() for raw in request.query_params.getlist("properties") for n in raw.split(",") if n.strip()]
    return names or None


def _batch_inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs is required and must be an array")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise validation_error(f"Too many inputs: {len(inputs)}; the limit is {MAX_BATCH_INPUTS}.")
    return [item if isinstance(item, dict) else {} for item in inputs]


# response shaping -----------------------------------------------------------------------------------------


def _object(contact: Contact, asked: list[str] | None) -> dict[str, Any]:
    """A `SimplePublicObject`: asked-for properties (null when unset) plus the ones HubSpot always returns."""
    names = list(dict.fromkeys([*(asked or DEFAULT_PROPERTIES), *ALWAYS_PROPERTIES]))
    body: dict[str, Any] = {
        "id": str(contact.id),
        "properties": {name: contact.properties.get(name) for name in names},
        "createdAt": hs_time(contact.created_at),
        "updatedAt": hs_time(contact.updated_at),
        "archived": contact.archived,
    }
    if contact.archived_at is not None:
        body["archivedAt"] = hs_time(contact.archived_at)
    return body


def _history(contact: Contact, names: list[str]) -> dict[str, Any]:
    """`propertiesWithHistory`: each asked property's values, newest first, as HubSpot lists them."""
    if not names:
        return {}
    return {
        "propertiesWithHistory": {
            name: [
                {"value": value, "timestamp": hs_time(moment), "sourceType": "API"}
                for value, moment in reversed(contact.history.get(name, []))
            ]
            for name in names
        }
    }


def _written(contact: Contact, values: Any) -> dict[str, Any]:
    """A write's answer: the default properties plus the ones just written, as HubSpot echoes them."""
    written = list(values) if isinstance(values, dict) else []
    return _object(contact, [*DEFAULT_PROPERTIES, *written])


def _batch_answer(now: datetime, results: list[dict[str, Any]], missing: list[str], verb: str, ok: int) -> Response:
    """HubSpot's batch response; with any id not found, a 207 carrying OBJECT_NOT_FOUND errors."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": hs_time(now),
        "completedAt": hs_time(now),
    }
    if missing:
        body["numErrors"] = 1
        body["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not {verb} some CONTACT objects, they may be deleted or not exist. Check that ids "
                "are valid.",
                "context": {"ids": missing},
            }
        ]
    return JSONResponse(body, status_code=207 if missing else ok)
