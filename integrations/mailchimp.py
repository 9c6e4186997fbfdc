"""A Mailchimp audience as records, through the official mailchimp-marketing SDK (Clienti C1, Balance B1,
Balansekonomi E2).

Reading: `GET /lists/{id}/members` in pages of 1000 (Mailchimp's maximum), with the `status` filter the rule
selects and `fields` trimming each member to what the rule needs (id, email, status, the trigger date; merge
fields only when a detector asks), so a page of a large audience stays small.

The trigger "unsubscribed_at" is the member's `last_changed` read with `status=unsubscribed`. Mailchimp stamps
`last_changed` on every change of the member, and the unsubscribe is such a change, so for an unsubscribed
member it is the unsubscribe time, or later if someone edited the member after the unsubscribe; the exact time
is the `unsub` event of the activity feed (`GET .../activity-feed`), one call per member. `last_changed` can
therefore only move the clock later, never earlier: a member is never deleted before its window opens, and a
member edited after unsubscribing is deleted that many days late (the test suite checks that the two agree for
members that were not edited).

Deleting: `POST .../actions/delete-permanent`, the only operation that erases a member (a `DELETE` archives,
which Mailchimp itself says is not deletion). A handful is sent directly; more go as one `POST /batches`, whose
operations run asynchronously: the connector polls `GET /batches/{id}`, reads the gzipped tar of per-operation
results behind `response_body_url`, and sends again the operations that failed for a transient reason (429,
5xx). 404 means the member is already gone, which is what was wanted. Proof of absence: `GET` of the member
answers 404 (batched the same way when many).

The member id is the subscriber hash, the MD5 of the lower-cased email: reversible by anyone holding the email,
so it is the record id only in memory; evidence pseudonymises it. Errors never quote the vendor's detail text,
which can echo an email address. An answer that is not the page Mailchimp documents is refused in one line
(integrations.malformed): the SDK passes such a body on as text or as the raw response, never as an error.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import mailchimp_marketing
from mailchimp_marketing.api_client import ApiClientError
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from hygiene.connector import AbsenceProof, Capabilities, ConnectorError, Receipt, Record, response_digest
from hygiene.detection import MERGE_PREFIX
from hygiene.matching import email_address, same_address
from hygiene.suppression import REENTRY, SIGNUP_FORM
from integrations.malformed import MalformedAnswer, UnreadableBody, json_object, not_an_object
from integrations.pacing import TRANSIENT_STATUSES, Backoff, RetrySettings

PAGE_SIZE = 1000
#: up to this many operations are sent as direct calls; more go through one `POST /batches`
DIRECT_MAX = 5
_MEMBER_FIELDS = ("id", "email_address", "status")
#: what an access answer shows of a member (Art. 15): everything personal, nothing of Mailchimp's internals
_EXPORT_FIELDS = (
    "email_address",
    "status",
    "merge_fields",
    "language",
    "timestamp_signup",
    "timestamp_opt",
    "last_changed",
    "unsubscribe_reason",
)
_TRIGGER_FIELDS = {
    "unsubscribed_at": "last_changed",
    "last_changed": "last_changed",
    "timestamp_signup": "timestamp_signup",
    "timestamp_opt": "timestamp_opt",
}
_SELECTION_KEYS = {"status", "merge_fields"}
_SUBSCRIBER_HASH = re.compile(r"[0-9a-f]{32}")
_READING = "reading members"


class MailchimpSettings(RetrySettings):
    """`HYGIENE_MAILCHIMP_API_KEY` (ends in -<dc>) and, for the sandbox, `HYGIENE_MAILCHIMP_HOST`."""

    model_config = SettingsConfigDict(env_prefix="HYGIENE_MAILCHIMP_", extra="ignore")

    api_key: SecretStr | None = None
    host: str | None = None
    #: seconds before the first poll of a `/batches` run
    batch_poll_first: float = 0.2

    def polling(self) -> BatchPolling:
        return BatchPolling(first=self.batch_poll_first)


@dataclass(frozen=True)
class BatchPolling:
    """How a `/batches` run is awaited: polls start at `first` seconds and double up to `longest`."""

    first: float = 0.2
    longest: float = 5.0
    timeout: float = 1800.0
    #: rounds of resending the operations a batch reported as failed for a transient reason
    rounds: int = 4


@dataclass(frozen=True)
class _Answer:
    status: int
    body: str


def mailchimp_client(settings: MailchimpSettings) -> mailchimp_marketing.Client:
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise ConnectorError("mailchimp: set HYGIENE_MAILCHIMP_API_KEY (the account's API key)")
    client = mailchimp_marketing.Client({"api_key": settings.api_key.get_secret_value(), "timeout": 60})
    if settings.host:
        client.api_client.host = settings.host
    return client


class MailchimpConnector:
    """The members of one audience (`list_id`)."""

    # Mailchimp limits simultaneous connections (10 per key), not calls; this connector holds one at a time.
    capabilities = Capabilities(system="mailchimp", batch_size=2000, permanent_delete=True, rate_limit=None)

    def __init__(
        self,
        client: mailchimp_marketing.Client,
        list_id: str,
        *,
        backoff: Backoff | None = None,
        polling: BatchPolling | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.client = client
        self.list_id = list_id
        self.backoff = backoff or Backoff()
        self.polling = polling or BatchPolling()
        self.http = http or httpx.Client(timeout=120)

    # reading --------------------------------------------------------------------------------------------

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        """Stream members page by page; `status` filters, `merge_fields: "yes"` adds filled merge fields."""
        status, with_merge = self._check_selection(selection, trigger)
        date_field = _TRIGGER_FIELDS.get(trigger) if trigger else None
        fields = [*_MEMBER_FIELDS, *([date_field] if date_field else []), *(["merge_fields"] if with_merge else [])]
        offset = 0
        while True:
            page = self._call(
                partial(
                    self.client.lists.get_list_members_info,
                    self.list_id,
                    fields=[*(f"members.{f}" for f in fields), "total_items"],
                    count=PAGE_SIZE,
                    offset=offset,
                    **({"status": status} if status else {}),
                ),
                _READING,
            )
            members, total = _members_page(page, offset)
            for position, member in enumerate(members):
                yield self._record(member, date_field, with_merge, f"at offset {offset}, position {position}")
            offset += len(members)
            if not members or offset >= total:
                return

    def merge_field_tags(self) -> list[str]:
        """The tags of the audience's merge fields (B1: a field may exist without holding data yet)."""
        answer = self._call(
            lambda: self.client.lists.get_list_merge_fields(self.list_id, count=PAGE_SIZE, fields=["merge_fields.tag"]),
            "reading merge fields",
        )
        return [str(item.get("tag")) for item in answer.get("merge_fields") or []]

    def _check_selection(self, selection: Mapping[str, str], trigger: str) -> tuple[str | None, bool]:
        unknown = set(selection) - _SELECTION_KEYS
        if unknown:
            raise ConnectorError(f"mailchimp: unknown selection {sorted(unknown)}; use status, merge_fields")
        if trigger and trigger not in _TRIGGER_FIELDS:
            raise ConnectorError(
                f"mailchimp: no member date answers the trigger '{trigger}'; use one of {sorted(_TRIGGER_FIELDS)}"
            )
        status = selection.get("status")
        if trigger == "unsubscribed_at" and status != "unsubscribed":
            raise ConnectorError(
                "mailchimp: the trigger unsubscribed_at needs the selection status: unsubscribed "
                "(last_changed is the unsubscribe time only for unsubscribed members)"
            )
        return status, selection.get("merge_fields") == "yes"

    def _record(self, member: Any, date_field: str | None, with_merge: bool, where: str) -> Record:
        """One member as a record; a malformed one stops the stream, named by its place, never its content."""
        problem = _member_problem(member, date_field)
        if problem:
            raise MalformedAnswer("mailchimp", _READING, f"the member {where} {problem}")
        attributes = {REENTRY: SIGNUP_FORM}  # Mailchimp refuses API re-imports of erased addresses
        if with_merge:
            attributes |= {
                f"{MERGE_PREFIX}{tag}": str(value)
                for tag, value in (member.get("merge_fields") or {}).items()
                if _filled(value)
            }
        moment = _moment(member.get(date_field)) if date_field else None
        return Record(member["id"], member["email_address"].strip().lower(), moment, attributes)

    # deleting and proving -------------------------------------------------------------------------------

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        """`delete-permanent` for each member; 404 (already erased) counts as done."""
        answers = self._each("POST", "actions/delete-permanent", record_ids)
        return [_receipt(record_id, answers[record_id]) for record_id in record_ids]

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """Absent when `GET` of the member answers 404; an archived member is still present."""
        answers = self._each("GET", "", record_ids, params={"fields": "id,status"})
        return [_proof(record_id, answers[record_id]) for record_id in record_ids]

    def _each(
        self, method: str, action: str, record_ids: Sequence[str], params: Mapping[str, str] | None = None
    ) -> dict[str, _Answer]:
        for record_id in record_ids:
            if not _SUBSCRIBER_HASH.fullmatch(record_id):
                raise ConnectorError("mailchimp: a record id is not a subscriber hash; nothing was sent")
        if len(record_ids) <= DIRECT_MAX:
            return {record_id: self._direct(method, action, record_id, params) for record_id in record_ids}
        return self._batched(method, action, record_ids, params or {})

    def _direct(self, method: str, action: str, record_id: str, params: Mapping[str, str] | None) -> _Answer:
        def call() -> Any:
            if method == "POST":
                return self.client.lists.delete_list_member_permanent(self.list_id, record_id)
            return self.client.lists.get_list_member(self.list_id, record_id, **(params or {}))

        try:
            answer = self.backoff.run(call, _transient)
        except ApiClientError as error:
            if error.status_code == 404:
                return _Answer(404, str(error.text))
            raise self._error(error, f"{method} of a member") from None
        status = int(getattr(answer, "status_code", 200))
        body = json.dumps(answer, sort_keys=True) if isinstance(answer, dict) else str(getattr(answer, "text", answer))
        return _Answer(status, body)

    def _batched(
        self, method: str, action: str, record_ids: Sequence[str], params: Mapping[str, str]
    ) -> dict[str, _Answer]:
        """One `/batches` run, then again for the operations it reported as transiently failed."""
        answers: dict[str, _Answer] = {}
        pending = list(record_ids)
        for _round in range(self.polling.rounds + 1):
            answers |= self._run_batch(method, action, pending, params)
            pending = [record_id for record_id in pending if answers[record_id].status in TRANSIENT_STATUSES]
            if not pending:
                break
        return answers

    def _run_batch(
        self, method: str, action: str, record_ids: Sequence[str], params: Mapping[str, str]
    ) -> dict[str, _Answer]:
        suffix = f"/{action}" if action else ""
        operations = [
            {
                "method": method,
                "path": f"/lists/{self.list_id}/members/{record_id}{suffix}",
                "operation_id": record_id,
                **({"params": dict(params)} if params else {}),
            }
            for record_id in record_ids
        ]
        started = self._call(lambda: self.client.batches.start({"operations": operations}), "starting a batch")
        finished = self._await_batch(str(started["id"]))
        results = self._batch_results(str(finished.get("response_body_url") or ""))
        missing = [record_id for record_id in record_ids if record_id not in results]
        # an operation the archive does not mention was not reported; treat it as not done and send it again
        return results | {record_id: _Answer(503, "not in the batch results") for record_id in missing}

    def _await_batch(self, batch_id: str) -> dict[str, Any]:
        pause, waited = self.polling.first, 0.0
        while True:
            batch = self._call(lambda: self.client.batches.status(batch_id), "polling a batch")
            if batch.get("status") == "finished":
                return dict(batch)
            if waited >= self.polling.timeout:
                raise ConnectorError(
                    f"mailchimp: batch {batch_id} did not finish within {self.polling.timeout:.0f} s "
                    f"(status {batch.get('status')}); the next run checks what it did"
                )
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, self.polling.longest)

    def _batch_results(self, url: str) -> dict[str, _Answer]:
        """The per-operation results: a .tar.gz of JSON arrays of {status_code, operation_id, response}."""
        if not url:
            raise ConnectorError("mailchimp: a finished batch gave no results URL; nothing is assumed deleted")
        response = self.backoff.run(lambda: _get_archive(self.http, url), _transient_http)
        try:
            return _parse_results(response)
        except (OSError, tarfile.TarError, ValueError, KeyError, TypeError) as error:
            raise ConnectorError(
                f"mailchimp: the batch results archive could not be read ({type(error).__name__}); "
                "nothing is assumed deleted"
            ) from None

    # errors ---------------------------------------------------------------------------------------------

    def _call(self, call: Callable[[], Any], doing: str) -> dict[str, Any]:
        try:
            answer = self.backoff.run(call, _transient)
        except ApiClientError as error:
            raise self._error(error, doing) from None
        return _json_object(answer, doing)

    def _error(self, error: ApiClientError, doing: str) -> ConnectorError:
        status = error.status_code
        if status == 401:
            return ConnectorError("mailchimp: the API key was refused (401); check HYGIENE_MAILCHIMP_API_KEY")
        if status == 404:
            return ConnectorError(
                f"mailchimp: list {self.list_id} does not exist in this account (404); check the policy's list_id"
            )
        if status in TRANSIENT_STATUSES or status is None:
            reason = f"HTTP {status}" if status else "no connection"
            return ConnectorError(
                f"mailchimp: {doing} failed {self.backoff.attempts} times ({reason}); nothing "
                "was deleted that was not proven due; run again later"
            )
        return ConnectorError(f"mailchimp: {doing} was refused (HTTP {status})")

    # rights requests ------------------------------------------------------------------------------------

    def records_of(self, subject: str) -> Iterator[Record]:
        """The person's member in this audience, by `search-members` (exact address matches only)."""
        wanted = email_address(subject, "mailchimp: the person searched for")
        answer = self._call(
            partial(self.client.searchMembers.search, wanted, list_id=self.list_id),
            "searching members",
        )
        members = (answer.get("exact_matches") or {}).get("members") or []
        for position, member in enumerate(members):
            if same_address(member.get("email_address"), wanted):
                yield self._record(member, None, False, f"at search result {position}")

    def export(self, record_ids: Sequence[str]) -> Iterator[Mapping[str, object]]:
        """Each member as Mailchimp holds it: address, status, dates and every filled merge field."""
        for record_id in record_ids:
            member = self._call(
                partial(self.client.lists.get_list_member, self.list_id, record_id, fields=list(_EXPORT_FIELDS)),
                "reading a member",
            )
            merge = {f"merge_fields.{tag}": value for tag, value in (member.get("merge_fields") or {}).items()}
            yield {
                **{
                    name: member[name]
                    for name in _EXPORT_FIELDS
                    if _filled(member.get(name)) and name != "merge_fields"
                },
                **{name: value for name, value in merge.items() if _filled(value)},
            }


def _get_archive(http: httpx.Client, url: str) -> bytes:
    # The URL is pre-signed storage: it takes no API key, and must not be sent one.
    response = http.get(url)
    response.raise_for_status()
    return response.content


def _parse_results(archive: bytes) -> dict[str, _Answer]:
    answers: dict[str, _Answer] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive)), mode="r:") as tar:
        for member in tar.getmembers():
            stream = tar.extractfile(member) if member.isfile() else None
            if stream is None:
                continue
            for item in json.loads(stream.read() or b"[]"):
                answers[str(item["operation_id"])] = _Answer(int(item["status_code"]), str(item.get("response", "")))
    return answers


def _transient(error: BaseException) -> bool:
    return isinstance(error, ApiClientError) and (error.status_code is None or error.status_code in TRANSIENT_STATUSES)


def _transient_http(error: BaseException) -> bool:
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code in TRANSIENT_STATUSES
    return isinstance(error, httpx.TransportError)


def _json_object(answer: Any, doing: str) -> dict[str, Any]:
    """The SDK's answer as a JSON object. The SDK parses only a body labelled JSON and passes other text on as
    a string; a body that is empty, does not parse, or parses to nothing comes back as the raw response."""
    if isinstance(answer, dict):
        return answer
    if isinstance(answer, str):
        problem = "Content-Type not application/json"
    elif hasattr(answer, "content"):
        try:
            return json_object(answer.headers.get("content-type"), answer.content)
        except UnreadableBody as unreadable:
            problem = unreadable.problem
    else:
        problem = not_an_object(answer)
    raise MalformedAnswer("mailchimp", doing, problem)


def _members_page(page: Mapping[str, Any], offset: int) -> tuple[list[Any], int]:
    """The members of a page and the audience's total, the two fields paging depends on."""
    members, total = page.get("members"), page.get("total_items")
    if not isinstance(members, list):
        raise MalformedAnswer("mailchimp", _READING, f"the page at offset {offset} has no member list")
    if not isinstance(total, int) or isinstance(total, bool):
        raise MalformedAnswer("mailchimp", _READING, f"the page at offset {offset} has no numeric total_items")
    return members, total


def _member_problem(member: Any, date_field: str | None) -> str:
    if not isinstance(member, dict):
        return "is not an object"
    if not _SUBSCRIBER_HASH.fullmatch(str(member.get("id", ""))):
        return "has no subscriber hash"
    if not isinstance(member.get("email_address"), str) or "@" not in member["email_address"]:
        return "has no email address"
    if date_field and _moment(member.get(date_field)) is None:
        return f"has no readable {date_field}"
    return ""


def _moment(value: Any) -> datetime | None:
    """Mailchimp's `2015-10-21T15:41:36+00:00`; None when empty or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _filled(value: Any) -> bool:
    if isinstance(value, dict):  # an address merge field is an object of parts
        return any(_filled(part) for part in value.values())
    return value not in (None, "")


def _receipt(record_id: str, answer: _Answer) -> Receipt:
    digest = response_digest(f"{answer.status}:{answer.body}")
    if answer.status in (200, 204):
        return Receipt(record_id, True, "delete-permanent accepted", digest)
    if answer.status == 404:
        return Receipt(record_id, True, "already erased (404)", digest)
    return Receipt(record_id, False, f"delete-permanent failed (HTTP {answer.status})", digest)


def _proof(record_id: str, answer: _Answer) -> AbsenceProof:
    digest = response_digest(f"{answer.status}:{answer.body}")
    if answer.status == 404:
        return AbsenceProof(record_id, True, "GET member answered 404", digest)
    return AbsenceProof(record_id, False, f"GET member answered {answer.status}", digest)
