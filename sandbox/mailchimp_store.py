"""The Mailchimp emulator's data: audiences, their merge fields and members, and the forgotten addresses.

Kept apart from HTTP so the rules read as Mailchimp states them: a member is keyed by the MD5 of its lower-cased
email; `DELETE` only archives; a permanent delete erases the member and remembers the address, so an API
re-import is refused ("Forgotten Email Not Subscribed") until the person signs up again through a form.
Every write happens at the sandbox clock's time, which is how seeding back-dates `last_changed`.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.common import VendorError

WRITABLE_STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional"})
ALL_STATUSES = WRITABLE_STATUSES | {"archived"}
#: Mailchimp shows this reason when an unsubscribe came through the API rather than from the person.
ADMIN_UNSUBSCRIBE_REASON = "N/A (Unsubscribed by an admin)"
#: The fields a new audience has before the account adds any (Mailchimp's defaults).
DEFAULT_MERGE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("ADDRESS", "Address", "address"),
    ("PHONE", "Phone Number", "phone"),
    ("BIRTHDAY", "Birthday", "birthday"),
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the lower-cased address (reversible by anyone holding the address)."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def mc_time(moment: datetime | None) -> str:
    """Mailchimp's timestamp format, e.g. `2015-10-21T15:41:36+00:00`; empty when unset."""
    return moment.replace(microsecond=0).isoformat() if moment else ""


def invalid(detail: str, errors: list[dict[str, str]] | None = None) -> VendorError:
    """Mailchimp's 400 for a body that fails its schema."""
    return VendorError(400, "Invalid Resource", detail, extra={"errors": errors or []})


def not_found() -> VendorError:
    return VendorError(404, "Resource Not Found", "The requested resource could not be found.")


@dataclass
class MergeField:
    merge_id: int
    tag: str
    name: str
    type: str
    display_order: int
    required: bool = False
    default_value: str = ""

    def as_json(self, list_id: str) -> dict[str, Any]:
        return {
            "merge_id": self.merge_id,
            "tag": self.tag,
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default_value": self.default_value,
            "public": True,
            "display_order": self.display_order,
            "options": {"size": 25} if self.type == "text" else {},
            "help_text": "",
            "list_id": list_id,
            "_links": [],
        }


@dataclass
class Member:
    email: str
    status: str
    merge_fields: dict[str, Any]
    last_changed: datetime
    web_id: int
    timestamp_signup: str = ""
    timestamp_opt: datetime | None = None
    unsubscribe_reason: str = ""
    email_type: str = "html"
    language: str = ""
    vip: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def hash(self) -> str:
        return subscriber_hash(self.email)


@dataclass
class Audience:
    id: str
    web_id: int
    name: str
    contact: dict[str, Any]
    permission_reminder: str
    campaign_defaults: dict[str, Any]
    email_type_option: bool
    double_optin: bool
    date_created: datetime
    merge_fields: list[MergeField] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    #: subscriber hashes permanently deleted from this audience
    forgotten: set[str] = field(default_factory=set)


class MailchimpStore:
    """All audiences of the one sandbox account; every method is atomic under one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._audiences: dict[str, Audience] = {}
        self._ids = itertools.count(1)

    # audiences ------------------------------------------------------------------------------------------

    def audiences(self) -> list[Audience]:
        with self._lock:
            return list(self._audiences.values())

    def audience(self, list_id: str) -> Audience:
        with self._lock:
            found = self._audiences.get(list_id)
        if found is None:
            raise not_found()
        return found

    def create_audience(self, body: dict[str, Any], now: datetime) -> Audience:
        required = ("name", "contact", "permission_reminder", "campaign_defaults", "email_type_option")
        missing = [name for name in required if name not in body]
        if missing:
            raise invalid(
                "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
                [{"field": name, "message": "This value should not be blank."} for name in missing],
            )
        with self._lock:
            serial = next(self._ids)
            list_id = hashlib.md5(f"list-{serial}".encode()).hexdigest()[:10]
            audience = Audience(
                id=list_id,
                web_id=100000 + serial,
                name=str(body["name"]),
                contact=dict(body["contact"]),
                permission_reminder=str(body["permission_reminder"]),
                campaign_defaults=dict(body["campaign_defaults"]),
                email_type_option=bool(body["email_type_option"]),
                double_optin=bool(body.get("double_optin", False)),
                date_created=now,
            )
            for order, (tag, name, kind) in enumerate(DEFAULT_MERGE_FIELDS, start=1):
                audience.merge_fields.append(MergeField(order, tag, name, kind, display_order=order + 1))
            self._audiences[list_id] = audience
            return audience

    def add_merge_field(self, list_id: str, body: dict[str, Any]) -> MergeField:
        if not body.get("name") or not body.get("type"):
            raise invalid(
                "The resource submitted could not be validated.",
                [{"field": "name" if not body.get("name") else "type", "message": "This value should not be blank."}],
            )
        with self._lock:
            audience = self.audience(list_id)
            merge_id = max((f.merge_id for f in audience.merge_fields), default=0) + 1
            tag = str(body.get("tag") or f"MMERGE{merge_id}").upper()[:10]
            if any(f.tag == tag for f in audience.merge_fields):
                raise invalid(f'A Merge Field with the tag "{tag}" already exists for this list.')
            merge_field = MergeField(
                merge_id,
                tag,
                str(body["name"]),
                str(body["type"]),
                merge_id + 1,
                bool(body.get("required", False)),
                str(body.get("default_value", "")),
            )
            audience.merge_fields.append(merge_field)
            return merge_field

    # members --------------------------------------------------------------------------------------------

    def member(self, list_id: str, member_hash: str) -> Member:
        with self._lock:
            found = self.audience(list_id).members.get(member_hash.lower())
        if found is None:
            raise not_found()
        return found

    def add_member(self, list_id: str, body: dict[str, Any], now: datetime) -> Member:
        """`POST /lists/{id}/members`: a new address only; an existing (not archived) member is refused."""
        email = _valid_email(body)
        status = _valid_status(body.get("status"), "status")
        with self._lock:
            audience = self.audience(list_id)
            current = audience.members.get(subscriber_hash(email))
            if current is not None and current.status != "archived":
                raise VendorError(
                    400, "Member Exists", f"{email} is already a list member. Use PUT to insert or update list members."
                )
            return self._insert(audience, email, status, body, now)

    def put_member(self, list_id: str, member_hash: str, body: dict[str, Any], now: datetime) -> Member:
        """`PUT /lists/{id}/members/{hash}`: add or update; `status_if_new` applies only to a new member."""
        email = _valid_email(body)
        if subscriber_hash(email) != member_hash.lower():
            raise invalid(
                "The resource submitted could not be validated.",
                [{"field": "email_address", "message": "The email address does not match the hash."}],
            )
        with self._lock:
            audience = self.audience(list_id)
            current = audience.members.get(member_hash.lower())
            if current is None or current.status == "archived":
                status = _valid_status(body.get("status_if_new") or body.get("status"), "status_if_new")
                return self._insert(audience, email, status, body, now)
            self._apply(audience, current, body, now)
            return current

    def patch_member(self, list_id: str, member_hash: str, body: dict[str, Any], now: datetime) -> Member:
        with self._lock:
            audience = self.audience(list_id)
            current = self.member(list_id, member_hash)
            if "email_address" in body:
                _valid_email(body)
            self._apply(audience, current, body, now)
            return current

    def archive_member(self, list_id: str, member_hash: str, now: datetime) -> None:
        """`DELETE`: Mailchimp archives; the member stays readable with status `archived`."""
        with self._lock:
            current = self.member(list_id, member_hash)
            if current.status != "archived":
                current.status = "archived"
                current.last_changed = now
                current.events.append(_event("archived", now))

    def delete_permanent(self, list_id: str, member_hash: str) -> None:
        """Erase the member and remember the address so the API cannot re-import it."""
        with self._lock:
            audience = self.audience(list_id)
            if audience.members.pop(member_hash.lower(), None) is None:
                raise not_found()
            audience.forgotten.add(member_hash.lower())

    def search(self, query: str, list_id: str | None) -> tuple[list[tuple[str, Member]], list[tuple[str, Member]]]:
        """Exact address matches and partial (address or name) matches, across audiences."""
        needle = query.strip().lower()
        exact: list[tuple[str, Member]] = []
        partial: list[tuple[str, Member]] = []
        with self._lock:
            for audience in self._audiences.values():
                if list_id and audience.id != list_id:
                    continue
                for member in audience.members.values():
                    names = " ".join(str(member.merge_fields.get(t, "")) for t in ("FNAME", "LNAME")).lower()
                    if needle and member.email.lower() == needle:
                        exact.append((audience.id, member))
                    elif needle and (needle in member.email.lower() or needle in names):
                        partial.append((audience.id, member))
        return exact, partial

    # internals ------------------------------------------------------------------------------------------

    def _insert(self, audience: Audience, email: str, status: str, body: dict[str, Any], now: datetime) -> Member:
        member_hash = subscriber_hash(email)
        if member_hash in audience.forgotten:
            raise VendorError(
                400,
                "Forgotten Email Not Subscribed",
                f"{email} was permanently deleted and cannot be re-imported. The contact must "
                "re-subscribe to get back on the list.",
            )
        previous = audience.members.get(member_hash)
        member = Member(
            email=email.strip(),
            status=status,
            merge_fields=_merge_values(audience, {}, body.get("merge_fields")),
            last_changed=now,
            web_id=previous.web_id if previous else 200000 + next(self._ids),
            timestamp_signup=str(body.get("timestamp_signup", "")),
            timestamp_opt=now if status == "subscribed" else None,
            email_type=str(body.get("email_type", "html")),
            language=str(body.get("language", "")),
            vip=bool(body.get("vip", False)),
            events=previous.events if previous else [],
        )
        member.events.append(_event("signup", now))
        if status == "unsubscribed":
            member.unsubscribe_reason = ADMIN_UNSUBSCRIBE_REASON
            member.events.append(_event("unsub", now, unsubscribe_reason=ADMIN_UNSUBSCRIBE_REASON))
        audience.members[member_hash] = member
        return member

    def _apply(self, audience: Audience, member: Member, body: dict[str, Any], now: datetime) -> None:
        if "status" in body:
            status = _valid_status(body["status"], "status")
            if status != member.status:
                self._change_status(member, status, now)
        if "merge_fields" in body:
            member.merge_fields = _merge_values(audience, member.merge_fields, body["merge_fields"])
        for key in ("email_type", "language"):
            if key in body:
                setattr(member, key, str(body[key]))
        if "vip" in body:
            member.vip = bool(body["vip"])
        member.last_changed = now

    @staticmethod
    def _change_status(member: Member, status: str, now: datetime) -> None:
        member.status = status
        if status == "unsubscribed":
            member.unsubscribe_reason = ADMIN_UNSUBSCRIBE_REASON
            member.events.append(_event("unsub", now, unsubscribe_reason=ADMIN_UNSUBSCRIBE_REASON))
        elif status == "subscribed":
            member.unsubscribe_reason = ""
            member.timestamp_opt = now
            member.events.append(_event("sub", now))


def _event(activity_type: str, now: datetime, **extra: str) -> dict[str, Any]:
    return {"activity_type": activity_type, "created_at_timestamp": mc_time(now), **extra}


def _valid_email(body: dict[str, Any]) -> str:
    email = str(body.get("email_address", "")).strip()
    if not _EMAIL.match(email):
        raise invalid(
            "The resource submitted could not be validated.",
            [{"field": "email_address", "message": "Please provide a valid email address."}],
        )
    return email


def _valid_status(value: Any, name: str) -> str:
    if value not in WRITABLE_STATUSES:
        raise invalid(
            "The resource submitted could not be validated.",
            [{"field": name, "message": "Schema describes enum, but the value is not one of them."}],
        )
    return str(value)


def _merge_values(audience: Audience, current: dict[str, Any], given: Any) -> dict[str, Any]:
    """Every audience field with a value; unknown tags are dropped, as Mailchimp ignores them."""
    given = given if isinstance(given, dict) else {}
    values: dict[str, Any] = {}
    for merge_field in audience.merge_fields:
        values[merge_field.tag] = given.get(merge_field.tag, current.get(merge_field.tag, ""))
    return values
