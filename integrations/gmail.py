"""Gmail through google-api-python-client: Stressfri's quarterly mail cleanup (S2, S8) and Clienti's C4.

"Mailer knyttet til avsluttede kundeforhold ... slettes ... Det samme gjelder mailer i «sendte elementer» og
«slettede elementer»" (seeds/001). Stressfri keeps "one folder per customer": in Gmail a user label
`<label_prefix><customer>` (e.g. `Kunder/Kari Nordmann`), on mail in the Inbox, in Sent, archived or in Trash.

How a label is tied to the customer register (S2, C4): the register (a `CustomerRegister`; for Stressfri the
offers workbook, S4) yields each ended customer as (label name, customer ref, ended_at). The label name is the
customer's folder name below the rule's `label_prefix`; for the offers workbook it is the "Kunde" cell as
written, so the folder `Kunder/Kari Nordmann` belongs to the row whose customer is "Kari Nordmann". Names are
compared as Gmail compares label names: case-insensitively, and here also with runs of white space as one
space, since the workbook is typed by hand. Every mail under that label, wherever it sits (Inbox, Sent,
archived, Trash, Spam), gets the customer's end date as its trigger and the customer's ref as its subject. Two
register entries that name one folder (a customer who changed email address) give that folder the later end
date: its mail is due only when every relationship it is about has ended. The register is read whole and
checked before any mail is listed: an entry without an end date, or one whose label does not exist, stops the
run with one line and nothing is deleted (skipping it would keep that customer's mail forever in silence).
Labels under the prefix that the register does not list belong to running customers and are never listed.
With `by_address: "true"` (S2) the customer's mail that lacks every customer label is found too, by their
address: `from:`, `to:` and `cc:` searches, each hit read once for its headers and kept only when the address
stands exactly in From, To or Cc (Gmail's search matches part of a header). Mail under another customer's
folder is never taken this way. Clienti's C4 does not search by address: only its agreement folders are C4's.

S8 (`label: ...`): a mail the controller marked no longer relevant. Gmail keeps no date for a label change, so
`labelled_at` is the start of the local day on which a scan first listed the mail under the label, kept in the
ledger by the message's record pseudonym (hygiene.register): the daily label scan (`stamp_label`, ids only)
makes it exact to within a day, and a quarterly run that comes late sees the mail overdue. Its subject is the
mail itself; tying it to a customer would need a read per mail.

Calls and quota: the only reads are `labels.list` (once a run, 1 unit) and `messages.list` by label id
(`labelIds`, exact where `q=label:` folds spaces and slashes to hyphens) with `includeSpamTrash`, 500 ids a page
(5 units). No body is ever fetched: list and label give the trigger; only a mail found by address is read for
its From, To and Cc headers (format metadata, 5 units). Deletion
is `batchDelete` (50 units, 1000 ids, permanent; never `trash`). Absence is proven by listing each affected
label again: a page of up to 500 ids costs 5 units where a `get` answering 404 costs 5 units per message, and
batchDelete deletes by id whatever labels a mail carries, so a mail the relist does not return is gone (the one
case it cannot tell apart, a failed deletion of a mail whose label was removed in the same minutes, still shows
as an unconfirmed receipt in the evidence). Units are paced client-side against the per-user quota (15,000 a
minute), and 429 and 403 rateLimitExceeded/userRateLimitExceeded (another client on the same quota), 5xx,
calls left unanswered past the timeout (`HYGIENE_GMAIL_TIMEOUT`) and connections dropped mid-answer are retried
with exponential backoff (tenacity, through integrations.pacing). A revoked or expired token, a token without
the https://mail.google.com/ scope and an answer that is not the page Gmail documents (integrations.malformed) are
one-line ConnectorErrors. Errors and evidence name labels, customers and messages only by count, position or
date: label names are personal data.

The listing collects all ids before anything is deleted (the planner consumes the whole stream first), which
matters because Gmail's page tokens are positions: deleting while paging would skip mail.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from datetime import time as clock_time
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from http.client import HTTPException
from typing import Any, NamedTuple, Protocol, cast

import httplib2
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import build_http
from googleapiclient.model import JsonModel
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
from hygiene.matching import Needle, NotAnIdentifier, address_needle, email_address
from hygiene.register import RegisterMemory
from integrations.malformed import MalformedAnswer, UnreadableBody, json_object
from integrations.pacing import Backoff, RetrySettings, Throttle
from integrations.spreadsheet import SpreadsheetConnector

FULL_SCOPE = "https://mail.google.com/"
GOOGLE_ENDPOINT = "https://gmail.googleapis.com/"
QUOTA_UNITS_PER_MINUTE = 15_000
PAGE_SIZE = 500
BATCH_DELETE_MAX = 1000
#: seconds a call may go unanswered before it is abandoned and retried
TIMEOUT_SECONDS = 60.0
#: documented quota units of the methods this connector calls
UNITS = {"labels.list": 1, "messages.list": 5, "messages.batchDelete": 50, "messages.get": 5}
#: what an access answer shows of a message besides its labels and snippet
_EXPORT_HEADERS = ("From", "To", "Cc", "Subject", "Date")
#: the headers that name a message's people, searched one by one for a rights request
_ADDRESS_HEADERS = ("From", "To", "Cc", "Bcc")
ENDED_TRIGGER = "customer_relationship_ended_at"
LABELLED_TRIGGER = "labelled_at"
_DELETED = "batchDelete answered 204: deleted permanently, not moved to Trash"
#: the message parts a detector may ask for
_CONTENT_PARTS = ("subject", "body")
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
#: a socket that failed or timed out (OSError), and an answer cut off mid-body (http.client's IncompleteRead)
_CONNECTION_ERRORS = (OSError, HTTPException)


class GmailSettings(RetrySettings):
    """Where Gmail is and the OAuth access token (never printed); HYGIENE_GMAIL_RETRY_* tune the backoff and
    HYGIENE_GMAIL_TIMEOUT how long one call may take."""

    model_config = SettingsConfigDict(env_prefix="HYGIENE_GMAIL_", extra="ignore")

    api_endpoint: str = GOOGLE_ENDPOINT
    token: SecretStr | None = None
    timeout: float = TIMEOUT_SECONDS


class EndedCustomer(NamedTuple):
    """One register entry: the customer's folder name below the label prefix, its ref, when it ended."""

    label_name: str
    ref: str
    ended_at: datetime | None


class CustomerRegister(Protocol):
    """Where ended customer relationships are known: Stressfri's offers workbook, Clienti's CRM.

    `folders` are the folder names below the rule's prefix that the mailbox holds (as `label_key` folds them),
    for a register that finds a customer by their folder.
    """

    def ended_customers(self, folders: Collection[str]) -> Iterable[EndedCustomer]: ...


@dataclass(frozen=True)
class OffersRegister:
    """Stressfri's offers workbook as the register: the "Kunde" cell names the folder.

    The ref is the customer's lower-cased email, the subject the workbook's own rows (S4) and erasure requests
    are pseudonymised under, so one pseudonym proves what happened to a person's rows and mail alike.
    """

    workbook: SpreadsheetConnector

    def ended_customers(self, folders: Collection[str]) -> Iterator[EndedCustomer]:
        """Each ended customer, except one whose folder an active row also names (a namesake, or the same
        customer under another address, still running): that folder is a running customer's."""
        running = {label_key(name) for name in self.workbook.running_customers()}
        for entry in self.workbook.customer_register():
            if label_key(entry.customer_ref) not in running:
                yield EndedCustomer(entry.customer_ref, entry.email_subject, entry.ended_at)


@dataclass(frozen=True)
class CrmRegister:
    """Clienti's CRM (HubSpot) as the register, with the ledger's memory of it (Clienti C4).

    A customer's folder is named by their address (`Aftaler/<email>`), so the folder says exactly whose it is.
    The CRM is read through its connector: every contact with an end date (`customer_relationship_ended_at`,
    whatever its stage) has ended, every `lifecyclestage: customer` without one is active. Each end date is
    recorded in the ledger (hygiene.register) when it is read; a folder whose customer the CRM no longer holds
    (C3 erased the contact 24 months after the end) takes its end date from there. A customer the CRM shows
    active again is active, whatever was recorded. A folder of nobody the register knows is a running
    customer's or not a customer's at all, and is never listed; an ended customer without a folder simply has
    no agreement mail.
    """

    crm: Connector
    memory: RegisterMemory

    def ended_customers(self, folders: Collection[str]) -> Iterator[EndedCustomer]:
        ended = {r.subject: r.trigger for r in self.crm.records({}, ENDED_TRIGGER) if r.trigger is not None}
        customers = {r.subject for r in self.crm.records({"lifecyclestage": "customer"}, "")}
        self.memory.remember(ended)
        remembered = self.memory.recall()
        for folder in sorted(folders):
            subject = folder.strip().lower()
            ended_at = ended.get(subject)
            if ended_at is None and subject not in customers:
                ended_at = remembered.get(self.memory.pseudonym(subject))
            if ended_at is not None:
                yield EndedCustomer(folder, subject, ended_at)


@dataclass(frozen=True)
class _Selection:
    """What a rule lists: customer folders via the register (S2, C4), with or without the mail from and to the
    customer's address that lacks the folder's label (`by_address: "true"`, S2), or one label (S8)."""

    label_prefix: str | None
    label: str | None
    by_address: bool = False

    @classmethod
    def of(cls, selection: Mapping[str, str], trigger: str) -> _Selection:
        chosen_keys = set(selection) - {"by_address"}
        unknown = chosen_keys - {"label_prefix", "label"}
        by_address = selection.get("by_address", "false")
        if unknown or len(chosen_keys) != 1 or by_address not in ("true", "false"):
            raise ConnectorError(
                f"gmail: selection {sorted(selection)}: give exactly one of label_prefix (customer folders) or "
                "label, and by_address only as true or false"
            )
        if by_address == "true" and "label_prefix" not in selection:
            raise ConnectorError("gmail: selection by_address finds a customer's mail, so it needs label_prefix")
        chosen = cls(selection.get("label_prefix"), selection.get("label"), by_address == "true")
        expected = ENDED_TRIGGER if chosen.label_prefix is not None else LABELLED_TRIGGER
        if trigger != expected:
            raise ConnectorError(f"gmail: a selection by {next(iter(selection))} has trigger {expected}, not {trigger}")
        return chosen


def label_key(name: str) -> str:
    """Gmail label names are unique case-insensitively; a hand-typed register also varies in spacing."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def gmail_service(endpoint: str, token: SecretStr, timeout: float = TIMEOUT_SECONDS) -> Any:
    """The official client; only the endpoint differs between Google and the sandbox."""
    credentials = cast(Any, Credentials)(token=token.get_secret_value())
    return build(
        "gmail",
        "v1",
        client_options={"api_endpoint": endpoint},
        http=AuthorizedHttp(credentials, http=_http(timeout)),
        model=_JsonObjects(),
        static_discovery=True,
        cache_discovery=False,
    )


def _http(timeout: float) -> httplib2.Http:
    http = build_http()
    http.timeout = timeout
    return http


class _JsonObjects(JsonModel):  # type: ignore[misc]  # the client library ships no type hints
    """Google's JSON model, except that a success answer that is not a JSON object is refused.

    The stock model hands an HTML page or a truncated body on as a string and an empty one as nothing, which
    a listing would read as "no messages".
    """

    def response(self, resp: httplib2.Response, content: bytes) -> Any:
        if 200 <= resp.status < 300 and resp.status != 204:
            return json_object(resp.get("content-type"), content)
        return super().response(resp, content)


class GmailConnector:
    """One user's mailbox; records are messages, listed by label and deleted permanently with batchDelete."""

    def __init__(
        self,
        service: Any,
        *,
        user_id: str = "me",
        register: CustomerRegister | None = None,
        stamps: RegisterMemory | None = None,
        tz: tzinfo = UTC,
        units_per_minute: int = QUOTA_UNITS_PER_MINUTE,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.service = service
        self.user_id = user_id
        self.register = register
        #: the first day each mail was seen under a rule's label (S8), kept in the ledger by record pseudonym
        self.stamps = stamps
        self.tz = tz
        # one throttle slot per quota unit; the half second covers latency between our clock and Gmail's
        self.quota = Throttle(units_per_minute, 60.5)
        self.units_spent = 0
        self.backoff = backoff or Backoff(attempts=10, first_wait=1.0, max_wait=64.0)
        self.clock = clock
        self.capabilities = Capabilities(
            system="gmail",
            batch_size=BATCH_DELETE_MAX,
            permanent_delete=True,
            # in quota units, not calls: Gmail meters units per user and minute
            rate_limit=RateLimit(units_per_minute, 60.0),
        )
        #: how each listed message can be listed again to prove its absence: by label id, or by search query
        self._listing_of: dict[str, tuple[str, str]] = {}

    @classmethod
    def from_environment(
        cls,
        *,
        user_id: str,
        register: CustomerRegister | None,
        tz: tzinfo,
        units_per_minute: int | None = None,
        stamps: RegisterMemory | None = None,
    ) -> GmailConnector:
        settings = GmailSettings()
        if settings.token is None:
            raise ConnectorError(f"gmail: set HYGIENE_GMAIL_TOKEN (an OAuth access token with the {FULL_SCOPE} scope)")
        return cls(
            gmail_service(settings.api_endpoint, settings.token, settings.timeout),
            user_id=user_id,
            register=register,
            stamps=stamps,
            tz=tz,
            units_per_minute=units_per_minute or QUOTA_UNITS_PER_MINUTE,
            backoff=settings.backoff(),
        )

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        """Every message under the selected labels, Trash and Spam included, as ids only; or, for a detector
        (`content: subject,body`), every message with those parts."""
        if "content" in selection:
            yield from self._with_content(_names(selection["content"]))
            return
        chosen = _Selection.of(selection, trigger)
        labels = self._label_ids()
        if chosen.label is not None:
            yield from self._marked(chosen.label, labels)
        else:
            assert chosen.label_prefix is not None
            folders = self._ended_folders(chosen.label_prefix, labels)
            below = label_key(chosen.label_prefix)
            foldered = frozenset(i for key, i in labels.items() if key.startswith(below))
            for label_id, ref, ended_at in folders:
                listed = list(self._listed(label_id))
                yield from (Record(message_id, ref, ended_at) for message_id in listed)
                if chosen.by_address and _is_address(ref):
                    for message_id in self._unfoldered_mail_of(ref, foldered, set(listed)):
                        yield Record(message_id, ref, ended_at)

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        """batchDelete in chunks of 1000: permanent, never Trash. Ids already gone are no error for Gmail."""
        receipts: list[Receipt] = []
        for start in range(0, len(record_ids), BATCH_DELETE_MAX):
            receipts += self._delete_chunk(record_ids[start : start + BATCH_DELETE_MAX])
        return receipts

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """List each affected label again; a message it no longer returns has been deleted."""
        by_listing: dict[tuple[str, str], list[str]] = defaultdict(list)
        for record_id in record_ids:
            by_listing[self._listing_of.get(record_id, ("", ""))].append(record_id)
        proofs: dict[str, AbsenceProof] = {}
        for (how, value), ids in by_listing.items():
            if not value:
                proofs |= {i: AbsenceProof(i, False, "not listed by this run, so no label to relist", "") for i in ids}
                continue
            present = set(self._message_ids(**({"labelIds": [value]} if how == "labelIds" else {"q": value})))
            digest = response_digest("\n".join(sorted(present)))
            proofs |= {i: _absence(i, present, digest) for i in ids}
        return [proofs[record_id] for record_id in record_ids]

    # ---- listing ----

    def _label_ids(self) -> dict[str, str]:
        answer = self._execute(self.service.users().labels().list(userId=self.user_id), "labels.list")
        labels = _items(answer, "labels", ("id", "name"), "labels.list", required=True)
        return {label_key(label["name"]): label["id"] for label in labels}

    def _marked(self, label: str, labels: Mapping[str, str]) -> Iterator[Record]:
        """The mail under the label, each dated by the day a scan first listed it there (S8's `labelled_at`)."""
        ids, first_seen = self._first_seen(label, labels)
        for message_id in ids:
            yield Record(message_id, message_id, first_seen[message_id])

    def stamp_label(self, label: str) -> tuple[int, int]:
        """The daily scan (S8): list the mail under the label and record the day each id is first seen there.

        Ids only: one labels.list and the label's messages.list pages, no message is read. (How many listed,
        how many seen for the first time.)
        """
        before = len(self.stamps.recall()) if self.stamps is not None else 0
        ids, _ = self._first_seen(label, self._label_ids())
        after = len(self.stamps.recall()) if self.stamps is not None else 0
        return len(ids), after - before

    def _first_seen(self, label: str, labels: Mapping[str, str]) -> tuple[list[str], dict[str, datetime]]:
        """The ids under the label, and the start of the local day each was first listed (today, if never).

        Gmail keeps no date for a label change, so the ledger keeps the first day a scan listed each id
        (`stamps`); without it every run would see the label for the first time and no deadline could ever
        be missed in the evidence.
        """
        label_id = labels.get(label_key(label))
        if label_id is None:
            raise ConnectorError("gmail: the label the rule's selection names (label) does not exist in the mailbox")
        local = self.clock().astimezone(self.tz)
        today = datetime.combine(local.date(), clock_time(), local.tzinfo)
        ids = list(self._listed(label_id))
        if self.stamps is None:
            return ids, dict.fromkeys(ids, today)
        known = self.stamps.recall()
        self.stamps.remember(dict.fromkeys(ids, today), known=known)
        return ids, {i: known.get(self.stamps.pseudonym(i), today) for i in ids}

    def _ended_folders(self, prefix: str, labels: Mapping[str, str]) -> list[tuple[str, str, datetime]]:
        """(label id, ref, ended_at) per ended customer's folder, all checked before any mail is listed."""
        if self.register is None:
            raise ConnectorError("gmail: the policy names no customer register for this mailbox (option register)")
        folders: dict[str, tuple[str, datetime]] = {}
        missing: list[str] = []
        below = label_key(prefix)
        present = [key.removeprefix(below) for key in labels if key.startswith(below) and key != below]
        for position, (name, ref, ended_at) in enumerate(self.register.ended_customers(present), start=1):
            if ended_at is None or ended_at.tzinfo is None:
                raise ConnectorError(
                    f"gmail: customer register entry #{position} has no end date; fill it in so the period can start"
                )
            label_id = labels.get(label_key(prefix + name.strip()))
            if label_id is None:
                missing.append(ended_at.date().isoformat())
            elif label_id not in folders or folders[label_id][1] < ended_at:
                folders[label_id] = (ref, ended_at)
        if missing:
            raise ConnectorError(
                f"gmail: {len(missing)} ended customer(s) in the register have no Gmail label under the rule's "
                f"label_prefix (ended {', '.join(missing[:5])}); create the label or correct the name in the register"
            )
        return [(label_id, ref, ended_at) for label_id, (ref, ended_at) in sorted(folders.items())]

    def folders_with_mail(self, prefix: str, names: Collection[str]) -> set[str]:
        """Which of the customer folders `prefix + name` still hold a mail, Trash and Spam included (S4 x S2).

        One labels.list, then one messages.list of a single id per folder that exists; no message is read.
        """
        labels = self._label_ids()
        kept: set[str] = set()
        for name in names:
            label_id = labels.get(label_key(prefix + name.strip()))
            if label_id is None:
                continue
            request = (
                self.service.users()
                .messages()
                .list(userId=self.user_id, includeSpamTrash=True, maxResults=1, labelIds=[label_id])
            )
            if _items(self._execute(request, "messages.list"), "messages", ("id",), "messages.list"):
                kept.add(name)
        return kept

    def _listed(self, label_id: str) -> Iterator[str]:
        """The ids under one label (`labelIds` is exact where `q=label:` folds names)."""
        for message_id in self._message_ids(labelIds=[label_id]):
            self._listing_of[message_id] = ("labelIds", label_id)
            yield message_id

    def _unfoldered_mail_of(self, address: str, foldered: frozenset[str], seen: set[str]) -> Iterator[str]:
        """The customer's mail that lacks every customer label, wherever it sits (Inbox, Sent, archived, Trash).

        Gmail's `from:`/`to:`/`cc:` match part of a header, so each hit is read once (format metadata: headers
        From, To and Cc, and the labels) and kept only when the address stands exactly in one of them. Mail under
        any customer folder is that folder's business: another customer's may still be running.
        """
        for header in ("from", "to", "cc"):
            query = f"{header}:{address}"
            for message_id in list(self._message_ids(q=query)):
                if message_id in seen:
                    continue
                seen.add(message_id)
                message = self._execute(
                    self.service.users()
                    .messages()
                    .get(userId=self.user_id, id=message_id, format="metadata", metadataHeaders=["From", "To", "Cc"]),
                    "messages.get",
                )
                if foldered & set(message.get("labelIds") or []) or address not in _addresses(message):
                    continue
                self._listing_of[message_id] = ("q", query)
                yield message_id

    def _message_ids(self, **query: Any) -> Iterator[str]:
        """The ids a messages.list query returns, page by page, Trash and Spam included."""
        messages = self.service.users().messages()
        token: str | None = None
        while True:
            request = messages.list(
                userId=self.user_id, includeSpamTrash=True, maxResults=PAGE_SIZE, pageToken=token, **query
            )
            answer = self._execute(request, "messages.list")
            yield from (message["id"] for message in _items(answer, "messages", ("id",), "messages.list"))
            token = answer.get("nextPageToken")
            if token is not None and not isinstance(token, str):
                raise MalformedAnswer("gmail", "messages.list", "nextPageToken is not a string")
            if not token:
                return

    def _with_content(self, parts: Sequence[str]) -> Iterator[Record]:
        """Each message, Trash and Spam included, read once (format raw) for its subject and text body (Clienti C7).

        The parts live only in the record's attributes, in memory, for a detector to look at; the subject of the
        record is the sender's address, the person who sent it.
        """
        unknown = set(parts) - set(_CONTENT_PARTS)
        if not parts or unknown:
            raise ConnectorError(f"gmail: content names the parts to read: {', '.join(_CONTENT_PARTS)}")
        for message_id in list(self._message_ids()):
            answer = self._execute(
                self.service.users().messages().get(userId=self.user_id, id=message_id, format="raw"), "messages.get"
            )
            mail = _parsed(answer)
            sender = next((a.lower() for _, a in getaddresses([str(mail.get("From") or "")]) if a), "")
            content = {"subject": str(mail.get("Subject") or ""), "body": _text_of(mail)}
            yield Record(message_id, sender or f"gmail-message:{message_id}", None, {p: content[p] for p in parts})

    # ---- deleting ----

    def _delete_chunk(self, ids: Sequence[str]) -> list[Receipt]:
        request = self.service.users().messages().batchDelete(userId=self.user_id, body={"ids": list(ids)})
        digest = response_digest("batchDelete\n" + "\n".join(ids))
        try:
            self._execute(request, "messages.batchDelete")
        except _GaveUp as failure:
            return [Receipt(i, False, f"batchDelete failed: {failure}", digest) for i in ids]
        return [Receipt(i, True, _DELETED, digest) for i in ids]

    # ---- calling Gmail ----

    def _execute(self, request: Any, method: str) -> dict[str, Any]:
        """Pace, call, retry what Gmail says to retry; turn what a user must fix into one line."""
        try:
            return self.backoff.run(lambda: self._attempt(request, method), _is_transient)
        except RefreshError:
            raise ConnectorError("gmail: credentials revoked or expired (401); renew HYGIENE_GMAIL_TOKEN") from None
        except HttpError as error:
            raise _translated(error, method, self.backoff.attempts) from None
        except UnreadableBody as unreadable:
            raise MalformedAnswer("gmail", method, unreadable.problem) from None
        except _CONNECTION_ERRORS as error:
            raise ConnectorError(f"gmail: {method}: cannot reach Gmail ({type(error).__name__})") from None

    def _attempt(self, request: Any, method: str) -> dict[str, Any]:
        for _ in range(UNITS[method]):
            self.quota.wait()
        self.units_spent += UNITS[method]
        try:
            return cast(dict[str, Any], request.execute() or {})
        except _CONNECTION_ERRORS:
            # the socket is dead (closed while we were busy elsewhere, timed out, cut mid-answer): start afresh
            request.http.http = _http(request.http.http.timeout)
            raise

    # ---- rights requests ----

    def records_of(self, subject: str) -> Iterator[Record]:
        """Every message from, to, cc or bcc the person, Trash and Spam included, dated by its internal date.

        Gmail's search has no OR worth relying on, so it is one listing per header. Its `from:ann@example.dk`
        also finds `joann@example.dk`, so each message is read once (format metadata, the address headers) and
        kept only when the address stands whole in one of them (hygiene.matching); its labels are kept too, so
        `verify_absent` can list one of them again after a deletion.
        """
        wanted = email_address(subject, "gmail: the person searched for")
        needle = address_needle(wanted)
        seen: set[str] = set()
        for header in _ADDRESS_HEADERS:
            for message_id in self._message_ids(q=f"{header.lower()}:{wanted}"):
                if message_id in seen:
                    continue
                seen.add(message_id)
                message = self._execute(
                    self.service.users()
                    .messages()
                    .get(userId=self.user_id, id=message_id, format="metadata", metadataHeaders=list(_ADDRESS_HEADERS)),
                    "messages.get",
                )
                if not _holds_address(message, needle):
                    continue
                self._listing_of[message_id] = ("labelIds", next(iter(message.get("labelIds") or []), ""))
                yield Record(message_id, wanted, _internal_date(message).astimezone(self.tz))

    def export(self, record_ids: Sequence[str]) -> Iterator[Mapping[str, object]]:
        """Each message's headers (From, To, Cc, Subject, Date), labels and snippet."""
        for message_id in record_ids:
            message = self._execute(
                self.service.users()
                .messages()
                .get(userId=self.user_id, id=message_id, format="metadata", metadataHeaders=list(_EXPORT_HEADERS)),
                "messages.get",
            )
            headers = {h.get("name"): h.get("value") for h in (message.get("payload") or {}).get("headers") or []}
            yield {
                **{name: headers[name] for name in _EXPORT_HEADERS if headers.get(name)},
                "labels": ", ".join(message.get("labelIds") or []),
                "snippet": message.get("snippet") or "",
            }


def _holds_address(message: Mapping[str, Any], needle: Needle) -> bool:
    """Whether one of the message's address headers holds the person's address whole."""
    wanted = {name.lower() for name in _ADDRESS_HEADERS}
    headers = (message.get("payload") or {}).get("headers") or []
    return any(needle.in_text(str(h.get("value") or "")) for h in headers if str(h.get("name")).lower() in wanted)


class _GaveUp(ConnectorError):
    """A call Gmail kept refusing for quota, rate or server reasons after every retry."""


def _reason(error: HttpError) -> str:
    """Google's machine-readable reason (`rateLimitExceeded`, `insufficientPermissions`...), never its prose."""
    try:
        body = json.loads(error.content)
        return str(body["error"]["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, _CONNECTION_ERRORS):
        return True
    if not isinstance(error, HttpError):
        return False
    status = error.resp.status
    return status == 429 or status >= 500 or (status == 403 and _reason(error) in _RATE_REASONS)


def _translated(error: HttpError, method: str, attempts: int) -> ConnectorError:
    status, reason = error.resp.status, _reason(error)
    if status == 401:
        return ConnectorError("gmail: credentials revoked or expired (401); renew HYGIENE_GMAIL_TOKEN")
    if status == 403 and reason == "insufficientPermissions":
        return ConnectorError(f"gmail: the token lacks the scope {FULL_SCOPE} that {method} needs; grant it")
    if _is_transient(error):
        return _GaveUp(f"gmail: {method} still refused after {attempts} attempts (HTTP {status} {reason})")
    return ConnectorError(f"gmail: {method} failed (HTTP {status} {reason})")


def _items(
    answer: Mapping[str, Any], key: str, fields: tuple[str, ...], method: str, *, required: bool = False
) -> list[dict[str, Any]]:
    """The answer's list under `key`, each item an object with non-empty string `fields`.

    Gmail leaves `messages` out of a page that has none, so only a required list may be missing.
    """
    items = answer.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list):
        raise MalformedAnswer("gmail", method, f"{key} is not a list")
    for position, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) and item[f] for f in fields):
            raise MalformedAnswer("gmail", method, f"{key} item {position} has no string {' or '.join(fields)}")
    return items


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _parsed(answer: Mapping[str, Any]) -> EmailMessage:
    """A `format=raw` answer as a parsed mail; a raw that is not base64url is a malformed answer."""
    raw = answer.get("raw")
    if not isinstance(raw, str):
        raise MalformedAnswer("gmail", "messages.get", "raw is not a string")
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, binascii.Error):
        raise MalformedAnswer("gmail", "messages.get", "raw is not base64url") from None
    return BytesParser(policy=email_policy.default).parsebytes(data)


def _text_of(mail: EmailMessage) -> str:
    """The mail's text: its plain body, or its HTML body as it stands (a number reads the same in markup)."""
    body = mail.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding: read what is there
        payload = body.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _is_address(ref: str) -> bool:
    """Whether a register's ref is an email address to search by (a row without one names the customer only)."""
    try:
        email_address(ref, "register")
    except NotAnIdentifier:
        return False
    return True


def _addresses(message: Mapping[str, Any]) -> set[str]:
    """The lower-cased addresses in a metadata answer's From, To and Cc headers."""
    headers = (message.get("payload") or {}).get("headers") or []
    values = [str(h.get("value") or "") for h in headers if isinstance(h, dict)]
    return {address.strip().lower() for _, address in getaddresses(values) if address}


def _internal_date(message: Mapping[str, Any]) -> datetime:
    """messages.get's internalDate: epoch milliseconds, as a string of digits."""
    value = message.get("internalDate")
    if not isinstance(value, str) or not value.isdigit():
        raise MalformedAnswer("gmail", "messages.get", "internalDate is not epoch milliseconds")
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _absence(record_id: str, present: set[str], digest: str) -> AbsenceProof:
    if record_id in present:
        return AbsenceProof(record_id, False, "still listed under its label", digest)
    return AbsenceProof(record_id, True, "not returned by a relist of its label, Trash and Spam included", digest)
