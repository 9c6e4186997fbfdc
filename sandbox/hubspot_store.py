"""The HubSpot emulator's data: the contact property definitions, contacts, the recycle bin and the GDPR
blocklist, with HubSpot's rules for writing them.

Rules kept as HubSpot documents them: property values are strings; unknown or read-only properties are refused
(400 VALIDATION_ERROR); an email in use by a live contact is a 409 CONFLICT; archiving moves a contact to the
recycle bin (restorable, freeing its email); `gdpr-delete` erases the contact for good and blocklists its email
(also when no contact had it). HubSpot's knowledge base (2025) says the blocklist stops the UI and imports only:
"a permanently deleted contact may only be added back ... through an API request", so API creation of a
blocklisted email succeeds here too. `createdate` and `lastmodifieddate` come from the sandbox clock.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sandbox.common import VendorError

FIRST_CONTACT_ID = 1001
#: the properties a contact read returns when none are asked for (HubSpot's defaults for contacts)
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
#: returned with every read, asked for or not
ALWAYS_PROPERTIES = ("createdate", "hs_object_id", "lastmodifieddate")
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)


@dataclass(frozen=True)
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str = "contactinformation"
    description: str = ""
    options: tuple[str, ...] = ()
    read_only: bool = False
    hubspot_defined: bool = True

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": self.description,
            "options": [
                {"label": o, "value": o, "displayOrder": i, "hidden": False} for i, o in enumerate(self.options)
            ],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.name == "email",
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "createdAt": hs_time(now),
            "updatedAt": hs_time(now),
            "archived": False,
        }


BUILT_IN_PROPERTIES = (
    PropertyDef("email", "Email", "string", "text"),
    PropertyDef("firstname", "First Name", "string", "text"),
    PropertyDef("lastname", "Last Name", "string", "text"),
    PropertyDef("phone", "Phone Number", "string", "phonenumber"),
    PropertyDef("createdate", "Create Date", "datetime", "date"),
    PropertyDef("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    PropertyDef("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox", read_only=True),
    PropertyDef("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE_STAGES),
    PropertyDef("hs_object_id", "Record ID", "number", "number", read_only=True),
)


def hs_time(moment: datetime) -> str:
    """HubSpot's timestamp format, e.g. `2019-10-30T03:30:17.883Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_moment(value: str) -> datetime | None:
    """A HubSpot date or datetime value: epoch milliseconds, `YYYY-MM-DD` or ISO 8601; None if neither."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def validation_error(message: str, errors: list[dict[str, Any]] | None = None) -> VendorError:
    return VendorError(400, "VALIDATION_ERROR", message, extra={"errors": errors} if errors else None)


def not_found() -> VendorError:
    return VendorError(404, "OBJECT_NOT_FOUND", "resource not found")


@dataclass
class Contact:
    id: int
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None
    #: every value a property was given and when, oldest first (HubSpot's `propertiesWithHistory`)
    history: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def email(self) -> str:
        return self.properties.get("email", "").lower()


@dataclass
class HubSpotStore:
    """One HubSpot account's contacts; every public method is atomic under one lock."""

    properties: dict[str, PropertyDef] = field(default_factory=lambda: {p.name: p for p in BUILT_IN_PROPERTIES})
    contacts: dict[int, Contact] = field(default_factory=dict)
    blocklist: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(FIRST_CONTACT_ID))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # properties ----------------------------------------------------------------------------------------

    def define_property(self, body: dict[str, Any]) -> PropertyDef:
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        with self._lock:
            if body["name"] in self.properties:
                raise VendorError(409, "OBJECT_ALREADY_EXISTS", f"A property named '{body['name']}' already exists.")
            options = tuple(str(o.get("value")) for o in body.get("options") or [] if isinstance(o, dict))
            definition = PropertyDef(
                str(body["name"]),
                str(body["label"]),
                str(body["type"]),
                str(body["fieldType"]),
                str(body["groupName"]),
                str(body.get("description", "")),
                options,
                hubspot_defined=False,
            )
            self.properties[definition.name] = definition
            return definition

    def property_def(self, name: str) -> PropertyDef | None:
        with self._lock:
            return self.properties.get(name)

    # contacts ------------------------------------------------------------------------------------------

    def create(self, values: Any, now: datetime) -> Contact:
        with self._lock:
            clean = self._valid_values(values, creating=True)
            self._ensure_email_free(clean.get("email", ""), None)
            contact_id = next(self._ids)
            created = parse_moment(clean["createdate"]) if clean.get("createdate") else now
            contact = Contact(contact_id, {}, created or now, now)
            contact.properties.update({"hs_object_id": str(contact_id), "createdate": hs_time(created or now)})
            self._write(contact, clean, now)
            self.contacts[contact_id] = contact
            return contact

    def create_many(self, values: list[Any], now: datetime) -> list[Contact]:
        """Batch create: every input is checked before any is written, so a refused batch writes nothing."""
        with self._lock:
            emails = [self._valid_values(v, creating=True).get("email", "").strip().lower() for v in values]
            for index, email in enumerate(emails):
                self._ensure_email_free(email, None)
                if email and email in emails[:index]:
                    raise VendorError(409, "CONFLICT", f"Duplicate email in batch inputs: {email}")
            return [self.create(v, now) for v in values]

    def update(self, contact: Contact, values: Any, now: datetime) -> Contact:
        with self._lock:
            clean = self._valid_values(values, creating=False)
            self._ensure_email_free(clean.get("email", ""), contact.id)
            self._write(contact, clean, now)
            return contact

    def opt_out(self, email: str, now: datetime) -> Contact:
        """The person unsubscribes from all email: HubSpot sets the read-only `hs_email_optout` itself."""
        with self._lock:
            contact = self._lookup(email, "email")
            if contact is None or contact.archived:
                raise not_found()
            self._write(contact, {"hs_email_optout": "true"}, now)
            return contact

    def find(self, key: str, *, archived: bool, id_property: str | None = None) -> Contact:
        """A contact by id (or by `id_property`, i.e. email); archived ones only when `archived` is asked."""
        with self._lock:
            contact = self._lookup(key, id_property)
            if contact is None or contact.archived != archived:
                raise not_found()
            return contact

    def page(self, *, archived: bool, after: int, limit: int) -> tuple[list[Contact], int | None]:
        """Contacts in id order from cursor `after`; the next cursor when more remain."""
        with self._lock:
            chosen = [
                c
                for c in sorted(self.contacts.values(), key=lambda c: c.id)
                if c.archived == archived and c.id >= after
            ]
        more = len(chosen) > limit
        return chosen[:limit], (chosen[limit].id if more else None)

    def live(self) -> list[Contact]:
        with self._lock:
            return [c for c in self.contacts.values() if not c.archived]

    def archive(self, contact_id: str, now: datetime) -> None:
        """Move to the recycle bin (restorable for 90 days at HubSpot); unknown ids are ignored, as there."""
        with self._lock:
            contact = self._lookup(contact_id, None)
            if contact is not None and not contact.archived:
                contact.archived_at = now
                contact.updated_at = now

    def gdpr_delete(self, object_id: str, id_property: str | None) -> None:
        """Erase for good and blocklist the email; an unknown email is blocklisted anyway (HubSpot's rule)."""
        with self._lock:
            contact = self._lookup(object_id, id_property)
            if contact is None:
                if id_property != "email":
                    raise not_found()
                self.blocklist.add(object_id.strip().lower())
                return
            if contact.email:
                self.blocklist.add(contact.email)
            del self.contacts[contact.id]

    def is_blocklisted(self, email: str) -> bool:
        with self._lock:
            return email.strip().lower() in self.blocklist

    # internals -----------------------------------------------------------------------------------------

    def _lookup(self, key: str, id_property: str | None) -> Contact | None:
        if id_property in (None, "", "hs_object_id"):
            return self.contacts.get(int(key)) if key.isdigit() else None
        if id_property != "email":
            raise validation_error(f"Property {id_property} is not a unique identifier for contacts.")
        wanted = key.strip().lower()
        matches = [c for c in self.contacts.values() if c.email == wanted]
        return next((c for c in matches if not c.archived), matches[0] if matches else None)

    def _ensure_email_free(self, email: str, own_id: int | None) -> None:
        wanted = email.strip().lower()
        if not wanted:
            return
        for other in self.contacts.values():
            if other.email == wanted and not other.archived and other.id != own_id:
                raise VendorError(409, "CONFLICT", f"Contact already exists. Existing ID: {other.id}")

    def _valid_values(self, values: Any, *, creating: bool) -> dict[str, str]:
        if not isinstance(values, dict):
            raise validation_error("Invalid input JSON: properties must be an object")
        clean: dict[str, str] = {}
        problems: list[dict[str, Any]] = []
        for name, raw in values.items():
            definition = self.properties.get(name)
            value, problem = _normalise(definition, name, raw, creating)
            if problem:
                problems.append({"isValid": False, "message": problem[1], "error": problem[0], "name": name})
            else:
                clean[name] = value
        if problems:
            raise validation_error(
                f"Property values were not valid: {problems}",
                [
                    {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}}
                    for p in problems
                ],
            )
        return clean

    @staticmethod
    def _write(contact: Contact, values: dict[str, str], now: datetime) -> None:
        for name, value in values.items():
            if value == "":
                contact.properties.pop(name, None)
            else:
                contact.properties[name] = value
            contact.history.setdefault(name, []).append((value, now))
        contact.properties["lastmodifieddate"] = hs_time(now)
        contact.updated_at = now


def _normalise(
    definition: PropertyDef | None, name: str, raw: Any, creating: bool
) -> tuple[str, tuple[str, str] | None]:
    """The stored string for a written value, or the HubSpot error code and message that refuse it."""
    if definition is None:
        return "", ("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if definition.read_only and not (creating and name == "createdate"):
        return "", ("READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
    text = ("true" if raw else "false") if isinstance(raw, bool) else ("" if raw is None else str(raw))
    if text == "":
        return "", None
    return _typed(definition, text)


def _typed(definition: PropertyDef, text: str) -> tuple[str, tuple[str, str] | None]:
    if definition.type in ("date", "datetime"):
        moment = parse_moment(text)
        if moment is None:
            return "", ("INVALID_DATE", f"{text} is not a valid date or datetime")
        if definition.type == "date":
            return moment.date().isoformat(), None
        return hs_time(moment), None
    if definition.type == "number":
        try:
            float(text)
        except ValueError:
            return "", ("INVALID_INTEGER", f"{text} is not a valid number")
        return text, None
    if definition.type == "bool":
        if text.lower() not in ("true", "false"):
            return "", ("INVALID_OPTION", f"{text} was not one of the allowed options: [true, false]")
        return text.lower(), None
    if definition.type == "enumeration" and definition.options and text not in definition.options:
        return "", ("INVALID_OPTION", f"{text} was not one of the allowed options: {list(definition.options)}")
    return text, None
