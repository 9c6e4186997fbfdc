"""Gmail API v1 emulator, reached by googleapiclient built with `client_options={"api_endpoint": <base>/gmail/}`.

Paths are the discovery document's (`gmail/v1/users/{userId}/...`, joined to the endpoint), so a connector written
with google-api-python-client runs unchanged against this and against https://gmail.googleapis.com/. Two client
facts a connector must respect (both also true against real Gmail):
- `service.new_batch_http_request()` ignores `api_endpoint` (it uses the document's rootUrl): build the batch as
  `BatchHttpRequest(batch_uri=<api_endpoint> + "batch/gmail/v1")`, which this app serves (and `batch` too).
- media uploads (`media_body=`) go to `https://<host>/upload/...` whatever the endpoint: create messages with
  `insert`/`import` and `body={"raw": ...}` instead, which Gmail accepts as well.

Every call: staged faults first (`state.faults.take("gmail", path)`), then the bearer token and its scopes, the
userId, the per-user quota (15,000 units a sliding minute, units per method as Google documents them, only when
`state.enforce_rate_limits`), then strict validation of query parameters and body fields (Google refuses unknown
names with 400), then the method. Each call is counted as `state.stats.count("gmail", "<METHOD> /<path>", units)`.
A staged fault answers Google's error shape for its status; one that drops the connection or stages a body
replaces the whole HTTP answer, as Google's front end losing a connection does, even when a batch part meets it.
batchDelete and batchModify also ask `state.faults.take("gmail/batch", path)`: such a fault lets the first half of
the ids through and then answers its status, as a backend failing part-way through a bulk operation does.
The emulator is published as `state.stores["gmail"]` for in-process inspection of its mailbox.
Control endpoints for tests live under `/_sandbox/` of this app (reset, quota, token revocation).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sandbox import credentials
from sandbox.common import staged_answer
from sandbox.gmail_batch import HttpCall, build_batch_response, parse_batch
from sandbox.gmail_errors import (
    ApiError,
    bad_request,
    delegation_denied,
    insufficient_scope,
    not_found,
    rate_limited,
    staged_fault,
    unauthenticated,
)
from sandbox.gmail_query import QueryContext, parse_query
from sandbox.gmail_store import SPAM_AND_TRASH, Label, Mailbox, StoredMessage, date_header_ms, decode_b64url
from sandbox.state import Fault, SandboxState

DEFAULT_ADDRESS = "stressfri.sandbox@example.com"
DEFAULT_QUOTA_UNITS_PER_MINUTE = 15_000
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_IDS_PER_BATCH_CALL = 1000
BATCH_PATHS = ("batch/gmail/v1", "batch")

FULL_SCOPE = "https://mail.google.com/"
_G = "https://www.googleapis.com/auth/gmail."
READONLY, MODIFY, METADATA = f"{_G}readonly", f"{_G}modify", f"{_G}metadata"
INSERT, LABELS, COMPOSE = f"{_G}insert", f"{_G}labels", f"{_G}compose"
ADDON_SCOPES = frozenset(f"{_G}addons.current.message.{s}" for s in ("action", "metadata", "readonly"))
TOKEN_SCOPES: dict[str, frozenset[str]] = {
    credentials.GMAIL_ACCESS_TOKEN: frozenset({FULL_SCOPE}),
    credentials.GMAIL_READONLY_ACCESS_TOKEN: frozenset({MODIFY, READONLY}),
}
#: parameters every Google API method takes (the discovery document's top-level `parameters`) that we honour
STANDARD_PARAMS = frozenset({"alt", "fields", "prettyPrint", "quotaUser", "access_token", "oauth_token", "key"})
_MESSAGE_FIELDS = frozenset(
    {"id", "threadId", "labelIds", "snippet", "historyId", "internalDate", "payload", "sizeEstimate", "raw"}
)
_LABEL_FIELDS = frozenset(
    {"id", "name", "type", "messageListVisibility", "labelListVisibility", "color"}
    | {"messagesTotal", "messagesUnread", "threadsTotal", "threadsUnread"}
)
_GET_FORMATS = ("full", "metadata", "minimal", "raw")
_DATE_SOURCES = ("receivedTime", "dateHeader")

Answer = tuple[int, dict[str, Any] | None]


@dataclass(frozen=True)
class Call:
    """One validated call as a method handler sees it."""

    mailbox: Mailbox
    path: dict[str, str]
    query: dict[str, list[str]]
    body: dict[str, Any]
    now: datetime

    def one(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        value = self.one(name, "false").lower()
        if value not in ("true", "false"):
            raise bad_request(f"Invalid value at '{name}' (TYPE_BOOL), \"{value}\"")
        return value == "true"

    def str_list(self, name: str) -> list[str]:
        value = self.body.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request(f"Invalid JSON payload received. '{name}' must be a list of strings.")
        return value

    def ids(self) -> list[str]:
        """`ids` of batchDelete/batchModify: Gmail takes at most 1000 a call."""
        ids = self.str_list("ids")
        if len(ids) > MAX_IDS_PER_BATCH_CALL:
            raise bad_request(f"Too many ids: at most {MAX_IDS_PER_BATCH_CALL} are allowed per request.")
        return ids


Handler = Callable[[Call], Answer]


@dataclass(frozen=True)
class Route:
    """One Gmail method; `path`, `http_method`, `query_params` and `scopes` match the discovery document."""

    method_id: str
    http_method: str
    path: str
    units: int
    scopes: frozenset[str]
    handler: Handler
    query_params: frozenset[str] = frozenset()
    body_fields: frozenset[str] | None = None
    #: works through a list of ids, so a backend failure can leave it part-way done
    bulk: bool = False

    @property
    def endpoint(self) -> str:
        return f"{self.http_method} /{self.path}"

    @cached_property
    def _segments(self) -> list[str]:
        return self.path.split("/")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if `method path` is this route (templates have one `{name}` per segment)."""
        segments = path.split("/")
        if method != self.http_method or len(segments) != len(self._segments):
            return None
        params: dict[str, str] = {}
        for template, actual in zip(self._segments, segments, strict=True):
            if template.startswith("{"):
                if not actual:
                    return None
                params[template.strip("{}")] = actual
            elif template != actual:
                return None
        return params


class QuotaMeter:
    """Gmail's per-user rate limit: quota units spent in the last 60 seconds of the sandbox clock."""

    def __init__(self, units_per_minute: int) -> None:
        self.units_per_minute = units_per_minute
        self._spent: deque[tuple[datetime, int]] = deque()
        self._lock = threading.Lock()

    def spend(self, now: datetime, units: int) -> datetime | None:
        """Spend `units`; if that would pass the limit, spend nothing and answer when to retry."""
        with self._lock:
            while self._spent and self._spent[0][0] <= now - timedelta(minutes=1):
                self._spent.popleft()
            if sum(u for _, u in self._spent) + units > self.units_per_minute:
                oldest = self._spent[0][0] if self._spent else now
                return oldest + timedelta(minutes=1)
            self._spent.append((now, units))
            return None

    def reset(self, units_per_minute: int) -> None:
        with self._lock:
            self.units_per_minute = units_per_minute
            self._spent.clear()


@dataclass
class GmailEmulator:
    """The mailbox of one user plus what Google enforces in front of it."""

    state: SandboxState
    address: str = DEFAULT_ADDRESS
    default_quota: int = DEFAULT_QUOTA_UNITS_PER_MINUTE
    mailbox: Mailbox = field(init=False)
    quota: QuotaMeter = field(init=False)
    revoked_tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.mailbox = Mailbox(self.address)
        self.quota = QuotaMeter(self.default_quota)

    def reset(self) -> None:
        """A fresh empty mailbox, the default quota, every token valid again."""
        self.mailbox = Mailbox(self.address)
        self.quota.reset(self.default_quota)
        self.revoked_tokens.clear()

    def handle(self, call: HttpCall) -> Answer:
        try:
            return self._serve(call)
        except ApiError as error:
            return error.code, error.body()

    def _serve(self, call: HttpCall) -> Answer:
        fault = self.state.faults.take("gmail", "/" + call.path)
        found = resolve(call.method, call.path)
        endpoint = found[0].endpoint if found else f"{call.method} /{call.path}"
        charged = 0
        try:
            if fault:
                raise _staged(fault)
            if found is None:
                raise not_found()
            route, path_params = found
            self._authorise(call, route)
            self._check_user(path_params["userId"])
            charged = self._charge(route)
            validated = self._validated(call, route, path_params)
            return self._part_way(route, validated, call.path) if route.bulk else route.handler(validated)
        finally:
            self.state.stats.count("gmail", endpoint, units=charged)

    def _part_way(self, route: Route, call: Call, path: str) -> Answer:
        """A bulk method, unless a `gmail/batch` fault stops it after the first half of its ids."""
        fault = self.state.faults.take("gmail/batch", "/" + path)
        if fault is None:
            return route.handler(call)
        ids = call.ids()
        route.handler(replace(call, body={**call.body, "ids": ids[: len(ids) // 2]}))
        raise staged_fault(fault.status or 500)

    def _authorise(self, call: HttpCall, route: Route) -> None:
        """401 without a token or with an unknown, expired or revoked one; 403 if its scopes miss the method's."""
        header = call.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        token = token or _last(call.query, "access_token") or _last(call.query, "oauth_token") or ""
        if not token:
            raise unauthenticated(missing=True)
        scopes = TOKEN_SCOPES.get(token)
        if scopes is None or token in self.revoked_tokens:
            raise unauthenticated(missing=False)
        if not scopes & route.scopes:
            raise insufficient_scope()

    def _check_user(self, user_id: str) -> None:
        """`me` or the owner's address; any other user needs domain-wide delegation, which Gmail denies here."""
        if user_id != "me" and user_id.lower() != self.address.lower():
            raise delegation_denied(user_id)

    def _charge(self, route: Route) -> int:
        if not self.state.enforce_rate_limits:
            return route.units
        retry_at = self.quota.spend(self.state.clock.now(), route.units)
        if retry_at is not None:
            raise rate_limited(retry_at)
        return route.units

    def _validated(self, call: HttpCall, route: Route, path_params: dict[str, str]) -> Call:
        for name in call.query:
            if name not in STANDARD_PARAMS | route.query_params:
                raise bad_request(
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                    f"Field '{name}' could not be found in request message."
                )
        if _last(call.query, "alt") not in (None, "json"):
            raise bad_request("The sandbox serves alt=json only.")
        return Call(self.mailbox, path_params, call.query, _body(call.body, route), self.state.clock.now())


class ReplacedAnswer(Exception):
    """A staged fault that replaces the whole HTTP answer: the connection carries one answer, and that is lost."""

    def __init__(self, fault: Fault) -> None:
        super().__init__("a staged fault replaces the answer")
        self.fault = fault


def _staged(fault: Fault) -> Exception:
    return ReplacedAnswer(fault) if fault.replaces_answer else staged_fault(fault.status)


async def _answered(serve: Callable[[], Response]) -> Response:
    """`serve()` in a worker thread, or the staged answer that replaced its answer."""
    try:
        return await run_in_threadpool(serve)
    except ReplacedAnswer as replaced:
        return staged_answer(replaced.fault)


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _body(raw: bytes, route: Route) -> dict[str, Any]:
    if route.body_fields is None:
        return {}
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise bad_request("Invalid JSON payload received.") from exc
    if not isinstance(body, dict):
        raise bad_request("Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in route.body_fields:
            raise bad_request(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
    return body


# ---- method handlers ----


def get_profile(call: Call) -> Answer:
    return 200, call.mailbox.profile()


def list_labels(call: Call) -> Answer:
    return 200, {"labels": [label.resource() for label in call.mailbox.labels()]}


def get_label(call: Call) -> Answer:
    return 200, call.mailbox.label(call.path["id"]).resource()


def create_label(call: Call) -> Answer:
    name = call.body.get("name")
    if not isinstance(name, str):
        raise bad_request("Invalid label name")
    return 200, call.mailbox.create_label(name).resource()


def delete_label(call: Call) -> Answer:
    call.mailbox.delete_label(call.path["id"])
    return 204, None


def list_messages(call: Call) -> Answer:
    """Newest first; SPAM and TRASH only when includeSpamTrash or when the query or labelIds name them."""
    query = parse_query(call.one("q"), QueryContext(call.now, call.mailbox.address))
    wanted = set(call.query.get("labelIds", []))
    hidden = set() if call.flag("includeSpamTrash") else SPAM_AND_TRASH - query.explicit_spam_trash - wanted

    def accept(message: StoredMessage, labels: Mapping[str, Label]) -> bool:
        ids = message.label_ids
        return not (ids & hidden) and wanted <= ids and query.matches(message, labels)

    found = call.mailbox.search(accept)
    size = _page_size(call.one("maxResults"))
    offset = _page_offset(call.one("pageToken"))
    page = found[offset : offset + size]
    answer: dict[str, Any] = {"resultSizeEstimate": len(found)}
    if page:
        answer["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
    if offset + size < len(found):
        answer["nextPageToken"] = _page_token(offset + size)
    return 200, answer


def _page_size(value: str) -> int:
    """maxResults is a uint32: 0 or absent means the default 100, anything above 500 is cut to 500."""
    if not value:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit():
        raise bad_request(f"Invalid value at 'max_results' (TYPE_UINT32), \"{value}\"")
    return min(int(value), MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE


def _page_token(offset: int) -> str:
    """Opaque to clients. It is a position, so deleting while paging shifts later pages (design for the worst)."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _page_offset(token: str) -> int:
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and offset.isdigit():
            return int(offset)
    except ValueError:
        pass
    raise bad_request("Invalid pageToken")


def get_message(call: Call) -> Answer:
    fmt = call.one("format", "full")
    if fmt not in _GET_FORMATS:
        raise bad_request(f"Invalid value at 'format', \"{fmt}\"")
    headers = call.query.get("metadataHeaders", [])
    renderers: dict[str, Callable[[StoredMessage], dict[str, Any]]] = {
        "full": StoredMessage.full,
        "minimal": StoredMessage.minimal,
        "raw": StoredMessage.raw_resource,
        "metadata": lambda m: m.metadata(headers),
    }
    return 200, call.mailbox.read(call.path["id"], renderers[fmt])


def _store_message(call: Call, default_date_source: str) -> Answer:
    """insert (IMAP APPEND-like) and import: the message gets exactly the labelIds given, no INBOX by itself."""
    raw = call.body.get("raw")
    if not isinstance(raw, str) or not raw:
        raise bad_request("'raw' RFC822 payload message string or uploading message via /upload/* URL required")
    date_source = call.one("internalDateSource", default_date_source)
    if date_source not in _DATE_SOURCES:
        raise bad_request(f"Invalid value at 'internal_date_source', \"{date_source}\"")
    try:
        message_bytes = decode_b64url(raw)
    except ValueError as exc:
        raise bad_request("Invalid value for ByteString: raw") from exc
    received_ms = int(call.now.timestamp() * 1000)
    header_ms = date_header_ms(message_bytes) if date_source == "dateHeader" else None
    thread_id = call.body.get("threadId")
    message = call.mailbox.insert(
        message_bytes,
        call.str_list("labelIds"),
        thread_id if isinstance(thread_id, str) else None,
        header_ms if header_ms is not None else received_ms,
    )
    return 200, message.label_resource()


def insert_message(call: Call) -> Answer:
    return _store_message(call, "receivedTime")


def import_message(call: Call) -> Answer:
    return _store_message(call, "dateHeader")


def delete_message(call: Call) -> Answer:
    call.mailbox.delete(call.path["id"])
    return 204, None


def batch_delete(call: Call) -> Answer:
    call.mailbox.delete_many(call.ids())
    return 204, None


def trash_message(call: Call) -> Answer:
    """Trash adds TRASH and keeps the other labels; Gmail empties Trash after 30 days (not emulated)."""
    return 200, call.mailbox.modify([call.path["id"]], ["TRASH"], [])[0]


def untrash_message(call: Call) -> Answer:
    return 200, call.mailbox.modify([call.path["id"]], [], ["TRASH"])[0]


def modify_message(call: Call) -> Answer:
    add, remove = call.str_list("addLabelIds"), call.str_list("removeLabelIds")
    return 200, call.mailbox.modify([call.path["id"]], add, remove)[0]


def batch_modify(call: Call) -> Answer:
    call.mailbox.modify_existing(call.ids(), call.str_list("addLabelIds"), call.str_list("removeLabelIds"))
    return 204, None


_READ = frozenset({FULL_SCOPE, METADATA, MODIFY, READONLY})
_USERS = "gmail/v1/users/{userId}"
ROUTES: tuple[Route, ...] = (
    Route("users.getProfile", "GET", f"{_USERS}/profile", 1, _READ | {COMPOSE}, get_profile),
    Route("users.labels.list", "GET", f"{_USERS}/labels", 1, _READ | {LABELS}, list_labels),
    Route("users.labels.get", "GET", f"{_USERS}/labels/{{id}}", 1, _READ | {LABELS}, get_label),
    Route(
        "users.labels.create",
        "POST",
        f"{_USERS}/labels",
        5,
        frozenset({FULL_SCOPE, LABELS, MODIFY}),
        create_label,
        body_fields=_LABEL_FIELDS,
    ),
    Route(
        "users.labels.delete",
        "DELETE",
        f"{_USERS}/labels/{{id}}",
        5,
        frozenset({FULL_SCOPE, LABELS, MODIFY}),
        delete_label,
    ),
    Route(
        "users.messages.list",
        "GET",
        f"{_USERS}/messages",
        5,
        _READ,
        list_messages,
        query_params=frozenset({"q", "labelIds", "includeSpamTrash", "maxResults", "pageToken"}),
    ),
    Route(
        "users.messages.insert",
        "POST",
        f"{_USERS}/messages",
        25,
        frozenset({FULL_SCOPE, INSERT, MODIFY}),
        insert_message,
        query_params=frozenset({"internalDateSource"}),
        body_fields=_MESSAGE_FIELDS,
    ),
    Route(
        "users.messages.import",
        "POST",
        f"{_USERS}/messages/import",
        25,
        frozenset({FULL_SCOPE, INSERT, MODIFY}),
        import_message,
        query_params=frozenset({"internalDateSource", "neverMarkSpam", "processForCalendar"}),
        body_fields=_MESSAGE_FIELDS,
    ),
    Route(
        "users.messages.batchDelete",
        "POST",
        f"{_USERS}/messages/batchDelete",
        50,
        frozenset({FULL_SCOPE}),
        batch_delete,
        body_fields=frozenset({"ids"}),
        bulk=True,
    ),
    Route(
        "users.messages.batchModify",
        "POST",
        f"{_USERS}/messages/batchModify",
        50,
        frozenset({FULL_SCOPE, MODIFY}),
        batch_modify,
        body_fields=frozenset({"ids", "addLabelIds", "removeLabelIds"}),
        bulk=True,
    ),
    Route(
        "users.messages.get",
        "GET",
        f"{_USERS}/messages/{{id}}",
        5,
        _READ | ADDON_SCOPES,
        get_message,
        query_params=frozenset({"format", "metadataHeaders"}),
    ),
    Route("users.messages.delete", "DELETE", f"{_USERS}/messages/{{id}}", 10, frozenset({FULL_SCOPE}), delete_message),
    Route(
        "users.messages.trash",
        "POST",
        f"{_USERS}/messages/{{id}}/trash",
        5,
        frozenset({FULL_SCOPE, MODIFY}),
        trash_message,
    ),
    Route(
        "users.messages.untrash",
        "POST",
        f"{_USERS}/messages/{{id}}/untrash",
        5,
        frozenset({FULL_SCOPE, MODIFY}),
        untrash_message,
    ),
    Route(
        "users.messages.modify",
        "POST",
        f"{_USERS}/messages/{{id}}/modify",
        5,
        frozenset({FULL_SCOPE, MODIFY}),
        modify_message,
        body_fields=frozenset({"addLabelIds", "removeLabelIds"}),
    ),
)


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


# ---- HTTP ----


def _json_response(status: int, body: dict[str, Any] | None) -> Response:
    if body is None:
        return Response(status_code=status)
    return Response(json.dumps(body), status_code=status, media_type="application/json; charset=UTF-8")


def _route_path(path: str, root_path: str) -> str:
    """A batch part names the full URL path; drop this app's mount prefix when the client's endpoint added it."""
    if root_path and path.startswith(f"{root_path}/gmail/v1/"):
        path = path[len(root_path) :]
    return path.lstrip("/")


def create_gmail_app(
    state: SandboxState,
    *,
    address: str = DEFAULT_ADDRESS,
    quota_units_per_minute: int = DEFAULT_QUOTA_UNITS_PER_MINUTE,
) -> FastAPI:
    gmail = GmailEmulator(state, address=address, default_quota=quota_units_per_minute)
    app = FastAPI(title="gmail emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gmail = gmail
    state.stores["gmail"] = gmail
    _add_control_routes(app, gmail)
    _add_batch_routes(app, gmail)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def api(path: str, request: Request) -> Response:
        call = HttpCall(
            method=request.method,
            path=path,
            query=_multi_query(request),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        return await _answered(lambda: _json_response(*gmail.handle(call)))

    return app


def _multi_query(request: Request) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, []).append(value)
    return query


def _add_batch_routes(app: FastAPI, gmail: GmailEmulator) -> None:
    """POST batch/gmail/v1 (documented) and batch (the discovery document's batchPath): each part is a full call."""

    def serve(content_type: str, body: bytes, headers: dict[str, str], root_path: str) -> Response:
        gmail.state.stats.count("gmail", "POST /batch/gmail/v1")
        try:
            fault = gmail.state.faults.take("gmail", "/batch/gmail/v1")
            if fault:
                raise _staged(fault)
            parts = parse_batch(content_type, body, headers)
        except ApiError as error:
            return _json_response(error.code, error.body())
        answers = []
        for part in parts:
            inner = HttpCall(
                part.call.method,
                _route_path(part.call.path, root_path),
                part.call.query,
                part.call.headers,
                part.call.body,
            )
            answers.append((part.content_id, *gmail.handle(inner)))
        media_type, content = build_batch_response(answers)
        return Response(content, media_type=media_type)

    async def batch(request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = await request.body()
        root_path = str(request.scope.get("root_path", ""))
        return await _answered(lambda: serve(headers.get("content-type", ""), body, headers, root_path))

    for path in BATCH_PATHS:
        app.add_api_route(f"/{path}", batch, methods=["POST"])


def _add_control_routes(app: FastAPI, gmail: GmailEmulator) -> None:
    """Sandbox-only controls (no Gmail counterpart): reset the mailbox, set the quota, revoke a token."""

    @app.post("/_sandbox/reset")
    def reset() -> dict[str, str]:
        gmail.reset()
        return {"status": "reset"}

    @app.post("/_sandbox/quota")
    async def set_quota(request: Request) -> dict[str, int]:
        units = int((await request.json())["units_per_minute"])
        gmail.quota.reset(units)
        return {"units_per_minute": units}

    @app.post("/_sandbox/tokens/revoke")
    async def revoke(request: Request) -> dict[str, str]:
        """Google answers an expired and a revoked access token alike: 401 Invalid Credentials."""
        gmail.revoked_tokens.add(str((await request.json())["token"]))
        return {"status": "revoked"}
