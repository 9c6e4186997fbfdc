"""Legal holds: records and data subjects that must not be deleted yet, and why.

A hold (a dispute, a claim, an authority's request, an open bookkeeping duty) names a subject or a record by
its pseudonym, never by the person. `reason` and `set_by` end up in the evidence, so they must not identify
anyone either: write a role and a case number ("DPO", "dispute, case 2024-17"), not a name.

Every add and release is written to the ledger as a `hold` entry in the same transaction as the change, so
the evidence shows why a record outlived its deadline and since when.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hygiene.errors import UnknownHold
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.ledger_schema import parse_utc, utc_now_text
from hygiene.pseudonym import is_pseudonym
from hygiene.store import connection


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: int
    controller: str
    subject: str | None
    record: str | None
    reason: str
    set_at: datetime
    set_by: str
    released_at: datetime | None

    @property
    def active(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True, slots=True)
class HoldIndex:
    """One controller's active holds, loaded once so the planner checks many records with dict lookups."""

    by_subject: dict[str, str]
    by_record: dict[str, str]

    def reason_for(self, *, subject: str | None = None, record: str | None = None) -> str | None:
        """Why this record (or its subject) is held, or None when it may be deleted."""
        return self.by_record.get(record or "") or self.by_subject.get(subject or "")


class HoldStore:
    """Holds in the ledger's database, each change recorded in the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.table = ledger.tables.holds

    def add(
        self,
        controller: str,
        *,
        reason: str,
        set_by: str,
        subject: str | None = None,
        record: str | None = None,
        run_id: str | None = None,
    ) -> Hold:
        """Hold one subject or one record; `run_id` defaults to "hold-<id>", grouping the hold's entries."""
        if (subject is None) == (record is None):
            raise ValueError("a hold names exactly one of subject or record")
        if not is_pseudonym(subject or record or ""):
            raise ValueError("a hold names its subject or record by pseudonym, never the value itself")
        if not reason.strip() or not set_by.strip():
            raise ValueError("a hold needs a reason and the role that set it")
        values = {
            "controller": controller,
            "subject": subject,
            "record": record,
            "reason": reason,
            "set_at": utc_now_text(),
            "set_by": set_by,
        }
        with self.ledger.transaction() as conn:
            hold = _hold(conn.execute(insert(self.table).values(values).returning(self.table)).one()._mapping)
            self._record(conn, hold, "added", set_by, run_id)
        return hold

    def release(self, hold_id: int, *, released_by: str | None = None, run_id: str | None = None) -> Hold:
        """End a hold; the records it covered fall back under their rules at the next run."""
        with self.ledger.transaction() as conn:
            released = conn.execute(
                update(self.table)
                .where(self.table.c.hold_id == hold_id, self.table.c.released_at.is_(None))
                .values(released_at=utc_now_text())
                .returning(self.table)
            ).one_or_none()
            if released is None:
                raise UnknownHold(f"hold {hold_id} does not exist or was already released")
            hold = _hold(released._mapping)
            self._record(conn, hold, "released", released_by, run_id)
        return hold

    def list(self, controller: str, active_only: bool = True) -> builtins.list[Hold]:
        """The controller's holds, oldest first."""
        query = select(self.table).where(self.table.c.controller == controller).order_by(self.table.c.hold_id)
        if active_only:
            query = query.where(self.table.c.released_at.is_(None))
        with connection(self.ledger.engine) as conn:
            return [_hold(row._mapping) for row in conn.execute(query)]

    def active_for(self, controller: str) -> HoldIndex:
        """All active holds of a controller in one query; the oldest hold's reason wins for a key."""
        index = HoldIndex(by_subject={}, by_record={})
        for hold in self.list(controller):
            if hold.subject is not None:
                index.by_subject.setdefault(hold.subject, hold.reason)
            if hold.record is not None:
                index.by_record.setdefault(hold.record, hold.reason)
        return index

    def _record(self, conn: Connection, hold: Hold, event: str, by: str | None, run_id: str | None) -> None:
        payload: dict[str, Any] = {"event": event, "hold_id": hold.hold_id, "reason": hold.reason}
        if by is not None:
            payload["by"] = by
        draft = EntryDraft(
            controller=hold.controller,
            run_id=run_id or f"hold-{hold.hold_id}",
            kind=EntryKind.HOLD,
            subject=hold.subject,
            record=hold.record,
            payload=payload,
        )
        self.ledger.append_within(conn, [draft])


def _hold(row: Mapping[Any, Any]) -> Hold:
    return Hold(
        hold_id=int(row["hold_id"]),
        controller=row["controller"],
        subject=row["subject"],
        record=row["record"],
        reason=row["reason"],
        set_at=parse_utc(row["set_at"]),
        set_by=row["set_by"],
        released_at=None if row["released_at"] is None else parse_utc(row["released_at"]),
    )
