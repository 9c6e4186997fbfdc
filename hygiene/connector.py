"""The one small interface every real system sits behind.

A connector streams a system's records page by page, deletes a batch with the system's own permanent
operation, and proves absence by a re-read. The enforcement path (plan, guard, act, verify, record) knows
nothing else of a vendor, so adding a system is one module in integrations/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from hygiene.errors import HygieneError


@dataclass(frozen=True, slots=True)
class Record:
    """One record as the planner sees it.

    `record_id` is the system's own id and `subject` the identifying value (a lower-cased email, a file path)
    from which pseudonyms are derived; neither is ever logged or written to evidence as is.
    """

    record_id: str
    subject: str
    trigger: datetime | None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RateLimit:
    calls: int
    per_seconds: float


@dataclass(frozen=True, slots=True)
class Capabilities:
    system: str
    batch_size: int
    permanent_delete: bool
    rate_limit: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """The vendor's answer to the deletion of one record; `digest` lets an auditor match the vendor's log."""

    record_id: str
    ok: bool
    detail: str
    digest: str


@dataclass(frozen=True, slots=True)
class AbsenceProof:
    """The re-read after a deletion: `absent` is True only when the system no longer returns the record."""

    record_id: str
    absent: bool
    detail: str
    digest: str


def response_digest(payload: bytes | str) -> str:
    """SHA-256 of a vendor response, so evidence can point at it without holding it."""
    data = payload.encode() if isinstance(payload, str) else payload
    return hashlib.sha256(data).hexdigest()


class ConnectorError(HygieneError):
    """A failure a user can act on (bad credentials, missing list, unreadable folder); one line, no traceback."""


@runtime_checkable
class Connector(Protocol):
    capabilities: Capabilities

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        """Stream the records the selection covers, each with the date `trigger` names, page by page."""
        ...

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        """Delete permanently, in batches of at most `capabilities.batch_size`; one receipt per record."""
        ...

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        """Re-read the system and prove each record is gone."""
        ...


@runtime_checkable
class CountsUndated(Protocol):
    """A system that can count the records a selection matches but that lack the trigger's date.

    `records` leaves such records out (their clock cannot start), which must not be silent: Clienti C3's
    customers without an end date are reported as a count, never by name.
    """

    def undated(self, selection: Mapping[str, str], trigger: str) -> int:
        """How many records match `selection` and have no `trigger` date."""
        ...


@runtime_checkable
class SubjectSearch(Protocol):
    """What rights requests need of a system: find one person's records, and read them for an export.

    A connector offers it where the system can be searched by the person (Mailchimp search-members, HubSpot
    search by email, Gmail `from:`/`to:`, a scan of an export or a sheet). `subject` is the identifying value
    (an email) and never leaves memory.
    """

    def records_of(self, subject: str) -> Iterator[Record]:
        """Every record of this system that belongs to the person."""
        ...

    def export(self, record_ids: Sequence[str]) -> Iterator[Mapping[str, object]]:
        """The personal data held in these records, field by field, for an access or portability answer."""
        ...


@runtime_checkable
class NameSearch(Protocol):
    """A connector that can read its records' text for a person's full name: a probable match only.

    Names are not unique, so what this finds is never deleted or exported by machine: a rights request lists it
    (by `masked`, and the system) for a person to check by hand. `name` never leaves memory.
    """

    def mentions_of(self, name: str) -> Iterator[tuple[str, str]]:
        """(record id, masked reference) of each record whose text holds the name whole (hygiene.matching)."""
        ...


@runtime_checkable
class ReportsFindings(Protocol):
    """A connector that leaves out what cannot be a record (a file whose name is not UTF-8) and says what.

    Each finding is the record it would have been (ids that can be pseudonymised) and details naming a kind and
    a masked place, never a value; the run records them and goes on, so one bad file does not stop the duty.
    """

    findings: list[tuple[Record, dict[str, object]]]
