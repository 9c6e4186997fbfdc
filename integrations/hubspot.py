"""HubSpot CRM contacts as records, through the official hubspot-api-client SDK (Clienti C1, C2, C3, C7;
Balansekonomi E3).

Reading: with any filter, `POST /crm/v3/objects/contacts/search`, 200 a page, sorted by `hs_object_id`
ascending with a moving `hs_object_id GT <last id>` filter in every filter group: a search never returns more
than 10,000 results in all, and the moving filter restarts the count on each page. Without a filter,
`GET /crm/v3/objects/contacts` in pages of 100 with the `after` cursor. Either way only the properties the rule
needs are asked for. The selection's keys are properties to match (`lifecyclestage: customer`), except
`properties` (comma-separated properties a detector reads; only contacts having one of them are streamed) and
`review_property` (a yes/no property a person ticks in a review, read but not filtered on). The trigger is a
contact property (`customer_relationship_ended_at`, `lastmodifieddate`); contacts without it are not covered,
and `undated` counts them (one search read for its total) so the run reports how many, never who.

The trigger "unsubscribed_at" is not in the CRM: it is the newsletter's. C1 says an unsubscribe removes the
person "fra vores mailliste og dermed fra vores system", so the contacts covered are those whose email belongs
to an unsubscribed member of the newsletter system the policy names (option `newsletter`), with the member's
unsubscribe time as trigger: the newsletter is streamed and each 100 of its emails are looked up with one
search (`email IN`). An unsubscribe recorded in HubSpot itself counts too: contacts whose `hs_email_optout` is
true are searched for, and the moment it became true is read from the property's history (`batch/read` with
`propertiesWithHistory`); a person unsubscribed in both places is one record, from the earlier moment. The CRM
must be enforced before the list, or the list deletion would erase the trigger of a CRM record whose deletion
fails.

Exemptions and re-entry, from options: `bookkeeping_when: lifecyclestage=customer` marks, among the contacts
found through the newsletter, those the bookkeeping duty covers (C4: what ties to a customer agreement is kept
5 years): C1 then erases them from the list and keeps the CRM record, whose end the customer rules (C3, C4)
decide, not the unsubscribe. It is not applied to the customer rules themselves, which would hold them all.
`signup_source: hs_object_source=FORM` names the property that shows a contact was created by a form
submission (HubSpot's "Record source"; the default), which makes a contact that was erased before a new,
consented signup rather than a re-import.

Deleting: `POST .../contacts/gdpr-delete`, one call per contact (there is no batch form; archive is a
restorable recycle bin and never used), paced client-side to the account's limit (option `rate_limit`,
100/10 by default; 190/10 on Professional and Enterprise) and retried with backoff on 429 and 5xx. Proof of
absence: `POST .../contacts/batch/read` of up to 100 ids; an id absent from the results (HubSpot lists it under
errors, OBJECT_NOT_FOUND) is gone. Errors never quote HubSpot's message, which can echo property values.
An answer that is not a JSON object, or whose fields the SDK cannot read, is refused before the SDK turns it into
an empty page (integrations.malformed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, tzinfo
from functools import partial
from itertools import islice
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.discovery.discovery_base import DiscoveryBase
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from hygiene.connector import (
    AbsenceProof,
    Capabilities,
    Connector,
    ConnectorError,
    RateLimit,
    Receipt,
    Record,
    response_digest,
)
from hygiene.matching import email_address, same_address
from hygiene.suppression import REENTRY, SIGNUP_FORM
from integrations.malformed import MalformedAnswer, UnreadableBody, json_object
from integrations.pacing import TRANSIENT_STATUSES, Backoff, RetrySettings, Throttle

SEARCH_LIMIT = 200
LIST_LIMIT = 100
BATCH_READ_MAX = 100
#: HubSpot's IN filter takes at most 100 values
IN_VALUES_MAX = 100
#: HubSpot's search has its own limit, about 5 requests a second per account
SEARCH_RATE = (5, 1.0)
#: filter groups a search allows; each carries the moving id filter
MAX_GROUPS = 5
NEWSLETTER_TRIGGER = "unsubscribed_at"
#: HubSpot's own record of an opt-out from all email, which C1 counts as an unsubscribe too
OPT_OUT = "hs_email_optout"
#: what an access answer shows of a contact (Art. 15): the personal properties HubSpot documents
EXPORT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "lifecyclestage",
    "hs_email_optout",
    "createdate",
    "lastmodifieddate",
)
#: properties every contact has, so covering "contacts with it" needs no filter
_ALWAYS_SET = frozenset({"createdate", "lastmodifieddate", "hs_object_id"})
_PROPERTY_IN_MESSAGE = re.compile(r"""[Pp]roperty ['"]?([A-Za-z0-9_]+)""")


class HubSpotSettings(RetrySettings):
    """`HYGIENE_HUBSPOT_TOKEN` (a private app's access token) and, for the sandbox, `HYGIENE_HUBSPOT_HOST`."""

    model_config = SettingsConfigDict(env_prefix="HYGIENE_HUBSPOT_", extra="ignore")

    token: SecretStr | None = None
    host: str | None = None
    #: the account's limit, calls/seconds; a system option `rate_limit` overrides it
    rate_limit: str = "100/10"


def hubspot_client(settings: HubSpotSettings) -> HubSpot:
    if settings.token is None or not settings.token.get_secret_value():
        raise ConnectorError("hubspot: set HYGIENE_HUBSPOT_TOKEN (a private app's access token)")
    aimed = {"host": settings.host} if settings.host else {}
    return HubSpot(access_token=settings.token.get_secret_value(), api_factory=_checking_api, **aimed)


def _checking_api(package: Any, api_name: str, config: dict[str, Any]) -> Any:
    """The SDK's own API object (its `api_factory` hook, around its default factory), except that its client
    checks each answer before the SDK reads it.

    The SDK reads a body that is not JSON as text and a model without its fields as empty: a search answered
    by an HTML page would look like "no contacts", and a re-read after deletion like proof of absence.
    """
    api = DiscoveryBase._default_api_factory(package, api_name, config)
    api.api_client.deserialize = partial(_checked_deserialize, api.api_client.deserialize)
    return api


def _checked_deserialize(deserialize: Callable[[Any, Any], Any], response: Any, response_type: Any) -> Any:
    json_object(response.getheader("content-type"), response.data)
    try:
        return deserialize(response, response_type)
    except Exception:  # the SDK's models raise ValueError, TypeError or ApiException (status 0) on a wrong field
        raise UnreadableBody("a field of the wrong type") from None


@dataclass(frozen=True)
class PropertyTest:
    """`name=value` from a policy option: does a contact's property hold this value."""

    name: str
    value: str

    @classmethod
    def parse(cls, text: str, option: str) -> PropertyTest:
        name, _, value = text.partition("=")
        if not name.strip() or not value.strip():
            raise ConnectorError(f"hubspot: option {option} is written property=value, not {text!r}")
        return cls(name.strip(), value.strip())

    def holds(self, properties: Mapping[str, Any]) -> bool:
        return str(properties.get(self.name) or "").lower() == self.value.lower()


@dataclass(frozen=True)
class _Query:
    filters: tuple[tuple[str, str], ...]
    any_of: tuple[str, ...]
    read: tuple[str, ...]
    date_property: str | None


class HubSpotConnector:
    """The contacts of one HubSpot account."""

    def __init__(
        self,
        client: HubSpot,
        *,
        tz: tzinfo,
        newsletter: Connector | None = None,
        bookkeeping_when: PropertyTest | None = None,
        signup_source: PropertyTest = PropertyTest("hs_object_source", "FORM"),
        rate: tuple[int, float] = (100, 10.0),
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.tz = tz
        self.newsletter = newsletter
        self.bookkeeping_when = bookkeeping_when
        self.signup_source = signup_source
        self.backoff = backoff or Backoff()
        self.throttle = Throttle(*rate)
        self.search_throttle = Throttle(*SEARCH_RATE)
        self.capabilities = Capabilities(
            system="hubspot", batch_size=BATCH_READ_MAX, permanent_delete=True, rate_limit=RateLimit(rate[0], rate[1])
        )

    # reading --------------------------------------------------------------------------------------------

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        if trigger == NEWSLETTER_TRIGGER:
            return self._newsletter_contacts(selection)
        query = self._query(selection, trigger)
        pages = self._search_pages(query) if query.filters or query.any_of else self._list_pages(query)
        return (
            self._record(contact, query, None, f"page {number}, position {position}")
            for number, page in enumerate(pages, start=1)
            for position, contact in enumerate(page)
        )

    def _query(self, selection: Mapping[str, str], trigger: str) -> _Query:
        any_of = tuple(p.strip() for p in selection.get("properties", "").split(",") if p.strip())
        if len(any_of) > MAX_GROUPS:
            raise ConnectorError(f"hubspot: a rule may read at most {MAX_GROUPS} properties, not {len(any_of)}")
        filters = [(name, value) for name, value in selection.items() if name not in ("properties", "review_property")]
        if trigger and trigger not in _ALWAYS_SET:
            filters.append((trigger, ""))  # "" = HAS_PROPERTY: contacts without the date are not covered
        read = (*any_of, *filter(None, [selection.get("review_property")]))
        return _Query(tuple(filters), any_of, read, trigger or None)

    def undated(self, selection: Mapping[str, str], trigger: str) -> int:
        """Contacts the selection matches that lack the trigger property (C3's customers with no end date):
        one search, read for its `total` only, so no contact's property reaches memory."""
        if trigger == NEWSLETTER_TRIGGER or not trigger or trigger in _ALWAYS_SET:
            return 0
        query = self._query(selection, trigger)
        filters = [*self._filters(replace(query, filters=query.filters[:-1])), _filter(trigger, "NOT_HAS_PROPERTY")]
        groups = [[*filters, *extra] for extra in ([[_filter(p, "HAS_PROPERTY")] for p in query.any_of] or [[]])]
        page = self._search(groups, ["hs_object_id"], f"counting contacts without {trigger}")
        total = getattr(page, "total", None)
        if not isinstance(total, int):
            raise MalformedAnswer("hubspot", f"counting contacts without {trigger}", "no total")
        return total

    def _properties(self, query: _Query) -> list[str]:
        extra = [test.name for test in (self.bookkeeping_when, self.signup_source) if test is not None]
        return list(
            dict.fromkeys(["email", *query.read, *([query.date_property] if query.date_property else []), *extra])
        )

    def _search_pages(self, query: _Query) -> Iterator[list[Any]]:
        """Search pages by a moving `hs_object_id GT` filter, so no query meets the 10,000-result cap."""
        last_id = 0
        while True:
            groups = [
                [*self._filters(query), _filter("hs_object_id", "GT", str(last_id)), *extra]
                for extra in ([[_filter(p, "HAS_PROPERTY")] for p in query.any_of] or [[]])
            ]
            page = self._search(groups, self._properties(query), "a search page")
            yield page.results
            if not page.results or page.paging is None:
                return
            last_id = _last_id(page.results)

    def _filters(self, query: _Query) -> list[dict[str, Any]]:
        return [
            _filter(name, "HAS_PROPERTY") if value == "" else _filter(name, "EQ", value)
            for name, value in query.filters
        ]

    def _list_pages(self, query: _Query) -> Iterator[list[Any]]:
        after: str | None = None
        properties = self._properties(query)
        while True:
            cursor = {"after": after} if after else {}
            page = self._page(
                partial(self.client.crm.contacts.basic_api.get_page, limit=LIST_LIMIT, properties=properties, **cursor),
                "listing contacts",
            )
            yield page.results
            after = page.paging.next.after if page.paging and page.paging.next else None
            if after is None:
                return

    def _newsletter_contacts(self, selection: Mapping[str, str]) -> Iterator[Record]:
        """The contacts of the newsletter's unsubscribed members, each with the member's unsubscribe time."""
        if self.newsletter is None:
            raise ConnectorError(
                "hubspot: the trigger unsubscribed_at is the newsletter's; name the newsletter "
                "system in the hubspot system's option `newsletter`"
            )
        opted_out = self._crm_opt_outs()
        members = iter(self.newsletter.records(selection, NEWSLETTER_TRIGGER))
        query = _Query((), (), (), None)
        while chunk := {m.subject: m.trigger for m in islice(members, IN_VALUES_MAX)}:
            page = self._search(
                [[_filter("email", "IN", values=sorted(chunk))]],
                self._properties(query),
                "looking up the newsletter's unsubscribed members",
            )
            for contact in page.results:
                email = str((contact.properties or {}).get("email") or "").strip().lower()
                if email in chunk:
                    in_crm = opted_out.pop(str(contact.id), None)
                    moments = [m for m in (chunk[email], in_crm[1] if in_crm else None) if m is not None]
                    trigger = min(moments) if moments else None
                    yield self._with_exemption(self._record(contact, query, trigger, ""), contact)
        for contact, moment in opted_out.values():
            yield self._with_exemption(self._record(contact, query, moment, ""), contact)

    def _crm_opt_outs(self) -> dict[str, tuple[Any, datetime]]:
        """Contacts that opted out of all email in HubSpot itself (`hs_email_optout`), each with the moment it
        became true, read from the property's history: the unsubscribe C1 counts its 5 days from."""
        query = _Query(((OPT_OUT, "true"),), (), (), None)
        found: dict[str, tuple[Any, datetime]] = {}
        for page in self._search_pages(query):
            moments = self._opted_out_at([str(contact.id) for contact in page])
            for contact in page:
                moment = moments.get(str(contact.id))
                if moment is None:
                    raise ConnectorError(
                        f"hubspot: a contact opted out of email has no {OPT_OUT} history; nothing was planned or "
                        "deleted"
                    )
                found[str(contact.id)] = (contact, moment)
        return found

    def _opted_out_at(self, ids: list[str]) -> dict[str, datetime]:
        """When each contact's current opt-out began: the oldest of its newest run of "true" values."""
        moments: dict[str, datetime] = {}
        for chunk in _chunks(ids, BATCH_READ_MAX):
            body = {
                "inputs": [{"id": contact_id} for contact_id in chunk],
                "properties": [OPT_OUT],
                "propertiesWithHistory": [OPT_OUT],
            }
            answer = self._page(
                partial(
                    self.client.crm.contacts.batch_api.read,
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                ),
                "reading when contacts opted out",
            )
            for contact in answer.results:
                began = None
                for change in (contact.properties_with_history or {}).get(OPT_OUT) or []:  # newest first
                    if str(change.value).lower() != "true":
                        break
                    began = change.timestamp
                if isinstance(began, datetime):
                    moments[str(contact.id)] = began.astimezone(self.tz)
        return moments

    def _search(self, groups: list[list[dict[str, Any]]], properties: list[str], where: str) -> Any:
        body = {
            "filterGroups": [{"filters": filters} for filters in groups],
            "properties": properties,
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "limit": SEARCH_LIMIT,
        }
        return self._page(
            lambda: self.client.crm.contacts.search_api.do_search(public_object_search_request=body),
            f"searching contacts ({where})",
            throttle=self.search_throttle,
        )

    def _record(self, contact: Any, query: _Query, trigger: datetime | None, where: str) -> Record:
        """One contact as a record; a malformed one stops the stream, named by its place, never its content."""
        properties = dict(contact.properties or {})
        email = str(properties.get("email") or "").strip().lower()
        if query.date_property is not None:
            trigger = _moment(properties.get(query.date_property), self.tz)
            if trigger is None:
                raise ConnectorError(
                    f"hubspot: a contact at {where} has an unreadable {query.date_property}; "
                    "nothing was planned or deleted"
                )
        attributes = {name: str(properties[name]) for name in query.read if properties.get(name) is not None}
        if self.signup_source.holds(properties):
            attributes[REENTRY] = SIGNUP_FORM
        # a contact without an email is still a person's record; its id stands in as the subject
        return Record(str(contact.id), email or f"hubspot-contact:{contact.id}", trigger, attributes)

    def _with_exemption(self, record: Record, contact: Any) -> Record:
        if self.bookkeeping_when is None or not self.bookkeeping_when.holds(contact.properties or {}):
            return record
        return replace(record, attributes={**record.attributes, "exemption": "bookkeeping_duty"})

    # deleting and proving -------------------------------------------------------------------------------

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        """`gdpr-delete` per contact, paced to the account's limit; 404 (already erased) counts as done."""
        return [self._gdpr_delete(record_id) for record_id in record_ids]

    def _gdpr_delete(self, record_id: str) -> Receipt:
        try:
            self._call(
                lambda: self.client.crm.contacts.basic_api.purge(public_gdpr_delete_input={"objectId": record_id}),
                "gdpr-delete",
                raw=True,
            )
        except _NotFound as missing:
            return Receipt(record_id, True, "already erased (404)", response_digest(f"404:{missing.body}"))
        return Receipt(record_id, True, "gdpr-delete accepted (204)", response_digest(f"204:gdpr-delete:{record_id}"))

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """One `batch/read` per 100 ids: an id not among the results no longer exists."""
        proofs: list[AbsenceProof] = []
        for chunk in _chunks(record_ids, BATCH_READ_MAX):
            body = {"inputs": [{"id": record_id} for record_id in chunk], "properties": ["hs_object_id"]}
            answer = self._page(
                partial(
                    self.client.crm.contacts.batch_api.read,
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                ),
                "re-reading contacts",
            )
            present = {str(found.id) for found in answer.results}
            digest = response_digest(json.dumps(sorted(present)) + json.dumps(sorted(chunk)))
            proofs += [
                AbsenceProof(
                    record_id,
                    record_id not in present,
                    "batch/read: still present" if record_id in present else "batch/read: not found",
                    digest,
                )
                for record_id in chunk
            ]
        return proofs

    # calls and errors -----------------------------------------------------------------------------------

    def _page(self, call: Callable[[], Any], doing: str, *, throttle: Throttle | None = None) -> Any:
        """A call answered with a page of contacts, whose `results` must be a list for anything to be read from it."""
        page = self._call(call, doing, throttle=throttle)
        if not isinstance(getattr(page, "results", None), list):
            raise MalformedAnswer("hubspot", doing, "no results list")
        return page

    def _call(self, call: Callable[[], Any], doing: str, *, throttle: Throttle | None = None, raw: bool = False) -> Any:
        pace = throttle or self.throttle

        def paced() -> Any:
            pace.wait()
            return call()

        try:
            return self.backoff.run(paced, _transient)
        except ApiException as error:
            if raw and error.status == 404:
                raise _NotFound(error.body) from None
            raise self._error(error, doing) from None
        except urllib3.exceptions.HTTPError as error:
            raise ConnectorError(f"hubspot: {doing}: the connection kept failing ({type(error).__name__})") from None
        except UnreadableBody as unreadable:
            raise MalformedAnswer("hubspot", doing, unreadable.problem) from None

    def _error(self, error: ApiException, doing: str) -> ConnectorError:
        status = error.status
        if status == 401:
            return ConnectorError("hubspot: the access token was refused (401); check HYGIENE_HUBSPOT_TOKEN")
        if status == 403:
            return ConnectorError(
                f"hubspot: {doing} is not allowed for this token (403); grant the private app "
                "the crm.objects.contacts scopes"
            )
        if status == 400:
            named = _property_named(error.body)
            if named:
                return ConnectorError(
                    f"hubspot: {doing} was refused (400): the rule selects the property "
                    f"'{named}', which this account does not define"
                )
            return ConnectorError(f"hubspot: {doing} was refused (400); check the rule's selection")
        if status in TRANSIENT_STATUSES or status is None:
            return ConnectorError(
                f"hubspot: {doing} failed {self.backoff.attempts} times (HTTP {status}); nothing "
                "was deleted that was not proven due; run again later"
            )
        return ConnectorError(f"hubspot: {doing} was refused (HTTP {status})")

    # rights requests ------------------------------------------------------------------------------------

    def records_of(self, subject: str) -> Iterator[Record]:
        """The person's contacts, by a search on `email`; a customer carries the bookkeeping exemption."""
        wanted = email_address(subject, "hubspot: the person searched for")
        query = _Query((), (), (), None)
        page = self._search([[_filter("email", "EQ", wanted)]], self._properties(query), "looking up a person")
        for contact in page.results:
            if same_address((contact.properties or {}).get("email"), wanted):
                yield self._with_exemption(self._record(contact, query, None, ""), contact)

    def export(self, record_ids: Sequence[str]) -> Iterator[Mapping[str, object]]:
        """Each contact's personal properties that hold a value, read with `batch/read`."""
        for chunk in _chunks(record_ids, BATCH_READ_MAX):
            body = {"inputs": [{"id": record_id} for record_id in chunk], "properties": list(EXPORT_PROPERTIES)}
            answer = self._page(
                partial(
                    self.client.crm.contacts.batch_api.read,
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                ),
                "reading contacts for an access request",
            )
            for contact in answer.results:
                properties = contact.properties or {}
                yield {name: properties[name] for name in EXPORT_PROPERTIES if properties.get(name) not in (None, "")}


class _NotFound(Exception):
    def __init__(self, body: Any) -> None:
        super().__init__("not found")
        self.body = body if isinstance(body, str) else ""


def _last_id(contacts: list[Any]) -> int:
    """Where the next search page starts: the highest id on this one."""
    ids = [str(contact.id) for contact in contacts]
    if not all(contact_id.isdigit() for contact_id in ids):
        raise MalformedAnswer("hubspot", "searching contacts (a search page)", "a contact id that is not a number")
    return max(int(contact_id) for contact_id in ids)


def _filter(name: str, operator: str, value: str | None = None, values: list[str] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"propertyName": name, "operator": operator}
    if value is not None:
        found["value"] = value
    if values is not None:
        found["values"] = values
    return found


def _transient(error: BaseException) -> bool:
    """5xx and 429 answers, and a connection dropped mid-answer (the SDK's urllib3 lets that through raw)."""
    if isinstance(error, urllib3.exceptions.HTTPError):
        return True
    return isinstance(error, ApiException) and (error.status is None or error.status in TRANSIENT_STATUSES)


def _property_named(body: Any) -> str | None:
    """The property a 400 names (property names are the account's schema, never personal data)."""
    try:
        message = str(json.loads(body).get("message", "")) if body else ""
    except (ValueError, AttributeError):
        return None
    found = _PROPERTY_IN_MESSAGE.search(message)
    return found.group(1) if found else None


def _moment(value: Any, tz: tzinfo) -> datetime | None:
    """A HubSpot date (`2024-01-05`, midnight in the controller's zone) or datetime (ISO 8601 or epoch ms)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), tz)
        if re.fullmatch(r"\d{10,}", text):
            return datetime.fromtimestamp(int(text) / 1000, tz)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
