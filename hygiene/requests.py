"""Rights requests (GDPR Art. 15 to 21): intake, deadline, extension, identity check, close.

A request must name its person until it is answered, yet the tool must not become one more copy of that
person. So the store keeps the identifying value (the email, and the full name when one is given, to list files
that name the person without their address for a person to check) only ENCRYPTED, with AES-256-GCM under a key
derived by HKDF-SHA256 from the controller's secret key (info `hygiene/request-identity/<controller>`, so it
is unrelated to the pseudonym keys derived from the same secret), and the request id as associated data, so a
ciphertext copied onto another request does not open (the name's also names its field, so it cannot pass for the
email). When the request closes the ciphertexts are deleted;
what remains is the row's dates and the subject's keyed pseudonym, and REQUEST entries in the ledger
(opened, extended, identity checked, closed), which is all an auditor needs: "this person asked on that day
and was answered on that day", provable by a controller who recomputes the pseudonym from the email.

Request ids are random tokens (`secrets.token_hex`), never derived from the email: a derived id would be a
pseudonym that anyone holding the email could recompute without the key.

Every change is written to the store and to the ledger in one transaction, as the holds are.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy import Column, Connection, MetaData, String, Table, Text, insert, inspect, select, text, update

from hygiene.errors import HygieneError
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.ledger_schema import DEFAULT_PREFIX, parse_utc, utc_now_text
from hygiene.legal import GDPR_ANSWER_PERIOD, GDPR_EXTENSION, answer_deadline
from hygiene.matching import email_address, person_name
from hygiene.periods import Period
from hygiene.policy import Action, Policy
from hygiene.pseudonym import SUBJECT, pseudonym
from hygiene.store import connection

_NONCE_BYTES = 12
#: the REQUEST event of an erasure whose machine part is done and whose by-hand part waits for a person
AWAITING_BY_HAND = "awaiting_by_hand"
_HKDF_SALT = b"hygiene/requests/v1"


class RequestKind(StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    OBJECTION = "objection"
    PORTABILITY = "portability"


class UnknownRequest(HygieneError):
    """A request id that is not in the store."""


class RequestClosed(HygieneError):
    """A request that was already answered and closed; its identity is gone, so nothing more can be done."""


class IdentityNotVerified(HygieneError):
    """A controller that promises an identity check (Calmo K3) has not had one attested for the request."""


class RequestRefused(HygieneError):
    """An operation the request's state does not allow (a second extension, an extension after the deadline)."""


def answer_period(policy: Policy) -> tuple[Period, str]:
    """The controller's own promise for answering requests, else GDPR Art. 12(3)'s month."""
    rule = next((r for r in policy.rules if r.action is Action.ANSWER_REQUEST and r.window.deadline), None)
    if rule is None or rule.window.deadline is None:
        return GDPR_ANSWER_PERIOD, "GDPR Art. 12(3)"
    return policy.bound(rule.window.deadline), f"rule {rule.ref}"


def extended_period(period: Period) -> Period:
    """Art. 12(3): extendable "by two further months", counted from the receipt like the first period."""
    return Period(years=period.years, months=period.months + GDPR_EXTENSION.months, days=period.days)


def needs_identity_check(policy: Policy) -> bool:
    """Whether the controller promises a checked ID before data is handed out or deleted (Calmo K3)."""
    return any(rule.action is Action.VERIFY_IDENTITY for rule in policy.rules)


class IdentityCipher:
    """AES-256-GCM under a key HKDF derives from the controller's secret key; see the module docstring."""

    def __init__(self, controller: str, key: SecretStr) -> None:
        secret = key.get_secret_value().encode()
        if not secret:
            raise ValueError("the controller's secret key is empty")
        info = f"hygiene/request-identity/{controller}".encode()
        derived = HKDF(algorithm=SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(secret)
        self._aead = AESGCM(derived)
        self._controller = controller

    def seal(self, request_id: str, plaintext: bytes, purpose: str = "") -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, self._bound_to(request_id, purpose))
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, request_id: str, token: str, purpose: str = "") -> bytes:
        raw = base64.urlsafe_b64decode(token.encode())
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._bound_to(request_id, purpose))
        except InvalidTag:
            raise HygieneError(
                f"request {request_id}: the stored identity does not decrypt with this controller's key "
                "(the key changed, or the row was tampered with)"
            ) from None

    def _bound_to(self, request_id: str, purpose: str) -> bytes:
        """The associated data: controller and request, and what the value is unless the email (as first sealed)."""
        return f"{self._controller}\x00{request_id}{chr(0) + purpose if purpose else ''}".encode()


@dataclass(frozen=True, slots=True)
class Request:
    """One request as stored; `sealed_identity` is the ciphertext (None once closed) and is never shown."""

    request_id: str
    controller: str
    kind: RequestKind
    subject: str
    received: date
    deadline: date
    source: str
    opened_at: datetime
    extended_deadline: date | None = None
    extension_reason: str | None = None
    identity_checked_at: datetime | None = None
    identity_checked_by: str | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    sealed_identity: str | None = field(default=None, repr=False)
    sealed_name: str | None = field(default=None, repr=False)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def due(self) -> date:
        """The deadline in force: the extended one once an extension was recorded."""
        return self.extended_deadline or self.deadline

    def days_left(self, today: date) -> int:
        return (self.due - today).days

    def summary(self, today: date) -> dict[str, Any]:
        """What lists and JSON show of a request: dates and kinds, never the identity."""
        return {
            "request": self.request_id,
            "controller": self.controller,
            "kind": self.kind.value,
            "received": self.received,
            "deadline": self.due,
            "source": self.source,
            "extended": self.extended_deadline is not None,
            "days_left": self.days_left(today),
            "identity_checked": self.identity_checked_at is not None,
            "open": self.is_open,
        }


def requests_table(metadata: MetaData, prefix: str = DEFAULT_PREFIX) -> Table:
    return Table(
        f"{prefix}requests",
        metadata,
        Column("request_id", String, primary_key=True),
        Column("controller", String, nullable=False, index=True),
        Column("kind", String, nullable=False),
        Column("subject", String(80), nullable=False, index=True),
        Column("identity", Text),
        Column("name", Text),
        Column("received", String, nullable=False),
        Column("deadline", String, nullable=False),
        Column("source", String, nullable=False),
        Column("opened_at", String, nullable=False),
        Column("extended_deadline", String),
        Column("extension_reason", Text),
        Column("identity_checked_at", String),
        Column("identity_checked_by", String),
        Column("closed_at", String),
        Column("outcome", String),
    )


class RequestStore:
    """Requests in the ledger's database (SQLite by default, PostgreSQL by URL), each change in the ledger."""

    def __init__(self, ledger: Ledger, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.ledger = ledger
        metadata = MetaData()
        self.table = requests_table(metadata, prefix)
        metadata.create_all(ledger.engine, checkfirst=True)
        self._add_name_column()

    def _add_name_column(self) -> None:
        """A store made before requests could carry a name gets the column; its requests have none."""
        columns = {column["name"] for column in inspect(self.ledger.engine).get_columns(self.table.name)}
        if "name" not in columns:
            with self.ledger.transaction() as conn:
                conn.execute(text(f'ALTER TABLE "{self.table.name}" ADD COLUMN name TEXT'))

    def open(
        self,
        policy: Policy,
        kind: RequestKind,
        email: str,
        received: date,
        key: SecretStr,
        name: str | None = None,
    ) -> Request:
        """Take in a request: the identity (and the full name, if given) sealed, the deadline from the promise."""
        email_address(email, "--email")  # refused before anything is stored: `@` would match every file
        full_name = None if name is None else person_name(name, "--name")
        request_id = secrets.token_hex(8)
        period, source = answer_period(policy)
        cipher = IdentityCipher(policy.controller, key)
        row = {
            "request_id": request_id,
            "controller": policy.controller,
            "kind": kind.value,
            "subject": pseudonym(key, SUBJECT, email),
            "identity": cipher.seal(request_id, email.strip().encode()),
            "name": None if full_name is None else cipher.seal(request_id, full_name.encode(), "name"),
            "received": received.isoformat(),
            "deadline": answer_deadline(received, period, policy.country).isoformat(),
            "source": f"{period} ({source})",
            "opened_at": utc_now_text(),
        }
        with self.ledger.transaction() as conn:
            conn.execute(insert(self.table).values(row))
            request = _request(row)
            self._record(conn, request, "opened", {"received": row["received"], "deadline": row["deadline"]})
        return request

    def get(self, request_id: str) -> Request:
        with connection(self.ledger.engine) as conn:
            row = conn.execute(select(self.table).where(self.table.c.request_id == request_id)).one_or_none()
        if row is None:
            raise UnknownRequest(f"request {request_id!r} does not exist (see `hygiene requests`)")
        return _request(row._mapping)

    def get_open(self, request_id: str) -> Request:
        request = self.get(request_id)
        if not request.is_open:
            assert request.closed_at is not None
            raise RequestClosed(f"request {request_id} was already answered and closed on {request.closed_at:%Y-%m-%d}")
        return request

    def list_open(self, controller: str | None = None) -> list[Request]:
        """Open requests, the nearest deadline first."""
        query = select(self.table).where(self.table.c.closed_at.is_(None))
        if controller is not None:
            query = query.where(self.table.c.controller == controller)
        with connection(self.ledger.engine) as conn:
            found = [_request(row._mapping) for row in conn.execute(query)]
        return sorted(found, key=lambda r: (r.due, r.request_id))

    def identity(self, request: Request, key: SecretStr) -> str:
        """The decrypted email, for use in memory inside a run; never log or store it."""
        if request.sealed_identity is None:
            raise RequestClosed(f"request {request.request_id} is closed: its identity was deleted")
        return IdentityCipher(request.controller, key).open(request.request_id, request.sealed_identity).decode()

    def name(self, request: Request, key: SecretStr) -> str | None:
        """The decrypted full name, if the request gave one; in memory only, like `identity`."""
        if request.sealed_name is None:
            return None
        return IdentityCipher(request.controller, key).open(request.request_id, request.sealed_name, "name").decode()

    def extend(self, request_id: str, reason: str, policy: Policy, today: date) -> Request:
        """Art. 12(3): two further months, once, decided and reasoned before the first deadline passes."""
        request = self.get_open(request_id)
        if not reason.strip():
            raise RequestRefused("--reason: an extension needs the reason the person will be told")
        if request.extended_deadline is not None:
            raise RequestRefused(f"request {request_id} was already extended to {request.extended_deadline}")
        if today > request.deadline:
            raise RequestRefused(
                f"request {request_id}: the deadline {request.deadline} has passed; Art. 12(3) requires the "
                "extension to be given within the first period"
            )
        period, _ = answer_period(policy)
        extended = answer_deadline(request.received, extended_period(period), policy.country)
        values = {"extended_deadline": extended.isoformat(), "extension_reason": reason.strip()}
        return self._change(request, values, "extended", {"deadline": values["extended_deadline"], "reason": reason})

    def verify_identity(self, request_id: str, role: str, *, checked: bool = True) -> Request:
        """Record that a person in `role` checked (or could not check) a photo ID; the image is never stored."""
        request = self.get_open(request_id)
        if not role.strip():
            raise HygieneError("--role: say in which role the ID was checked (e.g. owner), not by whom")
        payload = {"identity_checked": checked, "role": role.strip()[:80], "id_image_stored": False}
        if not checked:
            return self._change(request, {}, "identity_not_verified", payload)
        values = {"identity_checked_at": utc_now_text(), "identity_checked_by": role.strip()[:80]}
        return self._change(request, values, "identity_checked", payload)

    def close(self, request_id: str, outcome: str, payload: Mapping[str, Any]) -> Request:
        """Answered: delete the identity and record what was done (counts per system, no personal data)."""
        request = self.get_open(request_id)
        values = {"identity": None, "name": None, "closed_at": utc_now_text(), "outcome": outcome}
        return self._change(request, values, "closed", {"outcome": outcome, **payload})

    def attest_by_hand(self, request_id: str, role: str) -> tuple[Request, dict[str, Any]]:
        """A person in `role` searched and cleared the places only a person can: the erasure is done, so it
        closes with what its machine part found (the payload of its `awaiting_by_hand` entry), returned."""
        self.get_open(request_id)  # an unknown or closed request is refused in its one line
        if not role.strip():
            raise HygieneError("--role: say in which role the by-hand part was done (e.g. owner), not by whom")
        waiting = [
            e.payload
            for e in self.ledger.entries(run_id=request_id, kinds={EntryKind.REQUEST})
            if e.payload.get("event") == AWAITING_BY_HAND
        ]
        if not waiting:
            raise RequestRefused(
                f"request {request_id}: nothing waits for a person; run `hygiene request erase {request_id}` first"
            )
        machine = {k: v for k, v in waiting[-1].items() if k in ("systems", "totals", "outcome")}
        by_hand = [s["system"] for s in machine.get("systems", []) if s.get("status") == "by_hand" or s.get("by_hand")]
        outcome = str(machine.pop("outcome", "erased"))
        attested = {"by_hand_attested": {"role": role.strip()[:80], "systems": by_hand}}
        return self.close(request_id, outcome, machine | attested), machine

    def record(
        self, request: Request, event: str, payload: Mapping[str, Any], kind: EntryKind = EntryKind.REQUEST
    ) -> None:
        """An entry about the request that changes nothing in the store (an overdue FINDING, a DELIVERY)."""
        with self.ledger.transaction() as conn:
            self._record(conn, request, event, payload, kind)

    def earlier_erasure(self, request: Request) -> Request | None:
        """The closed erasure of the same person at the same controller, if there was one."""
        table = self.table
        query = (
            select(table)
            .where(
                table.c.controller == request.controller,
                table.c.subject == request.subject,
                table.c.kind == RequestKind.ERASURE.value,
                table.c.closed_at.is_not(None),
                table.c.outcome == "erased",
                table.c.request_id != request.request_id,
            )
            .order_by(table.c.closed_at)
        )
        with connection(self.ledger.engine) as conn:
            row = conn.execute(query).first()
        return None if row is None else _request(row._mapping)

    def _change(self, request: Request, values: dict[str, Any], event: str, payload: Mapping[str, Any]) -> Request:
        with self.ledger.transaction() as conn:
            if values:
                changed = conn.execute(
                    update(self.table)
                    .where(self.table.c.request_id == request.request_id, self.table.c.closed_at.is_(None))
                    .values(values)
                    .returning(self.table)
                ).one_or_none()
                if changed is None:
                    raise RequestClosed(f"request {request.request_id} was closed meanwhile")
                request = _request(changed._mapping)
            self._record(conn, request, event, payload)
        return request

    def _record(
        self,
        conn: Connection,
        request: Request,
        event: str,
        payload: Mapping[str, Any],
        kind: EntryKind = EntryKind.REQUEST,
    ) -> None:
        draft = EntryDraft(
            controller=request.controller,
            run_id=request.request_id,
            kind=kind,
            subject=request.subject,
            payload={"event": event, "request": request.request_id, "request_kind": request.kind.value, **payload},
        )
        self.ledger.append_within(conn, [draft])


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else parse_utc(text)


def _request(row: Mapping[Any, Any]) -> Request:
    received, deadline, opened_at = _day(row["received"]), _day(row["deadline"]), _moment(row["opened_at"])
    assert received is not None and deadline is not None and opened_at is not None
    return Request(
        request_id=row["request_id"],
        controller=row["controller"],
        kind=RequestKind(row["kind"]),
        subject=row["subject"],
        received=received,
        deadline=deadline,
        source=row["source"],
        opened_at=opened_at,
        extended_deadline=_day(row.get("extended_deadline")),
        extension_reason=row.get("extension_reason"),
        identity_checked_at=_moment(row.get("identity_checked_at")),
        identity_checked_by=row.get("identity_checked_by"),
        closed_at=_moment(row.get("closed_at")),
        outcome=row.get("outcome"),
        sealed_identity=row.get("identity"),
        sealed_name=row.get("name"),
    )
