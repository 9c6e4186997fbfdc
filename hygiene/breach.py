"""The breach clocks: 72 hours to the minute, from the breach and from its discovery, and what is late.

GDPR Art. 33 gives every controller 72 hours from becoming aware of a personal data breach to notify the
supervisory authority (Datatilsynet, Datatilsynet NO, IMY). Art. 34 asks for the affected people to be told
"without undue delay" when the risk is high, which has no clock. A controller that promises one in its policy's
`notify` rule (Calmo K4: "besked via e-mail indenfor 72 timer efter bruddet ... anmeldt til datatilsynet inden
for de 72 timer") counts its 72 hours from the breach itself, which can lie before its discovery. So a breach
records both moments, shows both clocks, and each notice is due by the earlier one that applies to it. The
clocks run in absolute time, to the minute: a DST change inside the 72 hours changes nothing.

The store keeps the breach's times, systems, description and counts; the affected people enter the evidence
only as keyed pseudonyms (one FINDING each), and their contact list goes to the operator's file, never here.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, inspect, select, text, update

from hygiene.errors import HygieneError
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.ledger_schema import DEFAULT_PREFIX, parse_utc, utc_text
from hygiene.periods import require_aware
from hygiene.policy import Action, Policy
from hygiene.store import connection

#: Art. 33(1): "not later than 72 hours after having become aware of it"
NOTICE_WINDOW = timedelta(hours=72)


class Recipient(StrEnum):
    AUTHORITY = "authority"
    SUBJECTS = "subjects"


class UnknownBreach(HygieneError):
    pass


def promises_subject_notice(policy: Policy) -> bool:
    """Whether the controller promises to tell the affected people within the clock (a `notify` rule)."""
    return any(rule.action is Action.NOTIFY and rule.window.deadline for rule in policy.rules)


@dataclass(frozen=True, slots=True)
class Breach:
    breach_id: str
    controller: str
    occurred_at: datetime
    discovered_at: datetime
    systems: tuple[str, ...]
    description: str
    affected: int
    subjects_clock: bool
    authority_notified_at: datetime | None
    subjects_notified_at: datetime | None

    @property
    def awareness_due(self) -> datetime:
        """Art. 33's clock: 72 hours from becoming aware of the breach."""
        return self.discovered_at + NOTICE_WINDOW

    @property
    def promise_due(self) -> datetime | None:
        """The notice's clock, when the controller promises one: 72 hours from the breach itself."""
        return self.occurred_at + NOTICE_WINDOW if self.subjects_clock else None

    @property
    def authority_due(self) -> datetime:
        """The earlier of the two clocks: the law's from discovery, the promise's from the breach."""
        return min(self.awareness_due, self.promise_due or self.awareness_due)

    @property
    def subjects_due(self) -> datetime | None:
        return self.promise_due

    def notices(self) -> dict[Recipient, tuple[datetime | None, datetime | None]]:
        """For each recipient: (due, sent)."""
        return {
            Recipient.AUTHORITY: (self.authority_due, self.authority_notified_at),
            Recipient.SUBJECTS: (self.subjects_due, self.subjects_notified_at),
        }

    def late(self, now: datetime) -> list[Recipient]:
        """Notices past their clock: not sent by now, or sent after it ran out."""
        return [
            recipient for recipient, (due, sent) in self.notices().items() if due is not None and (sent or now) > due
        ]

    def status(self, now: datetime) -> dict[str, Any]:
        """What `hygiene breach status` prints: each notice's clock, and which are late."""
        notices = {}
        for recipient, (due, sent) in self.notices().items():
            left = None if due is None or sent is not None else int((due - now).total_seconds() // 60)
            notices[recipient.value] = {
                "due": None if due is None else due.isoformat(timespec="minutes"),
                "sent": None if sent is None else sent.isoformat(timespec="minutes"),
                "minutes_left": left,
                "late": recipient in self.late(now),
            }
        return {
            "breach": self.breach_id,
            "controller": self.controller,
            "occurred": self.occurred_at.isoformat(timespec="minutes"),
            "discovered": self.discovered_at.isoformat(timespec="minutes"),
            "clocks": {
                "from_breach": None if self.promise_due is None else self.promise_due.isoformat(timespec="minutes"),
                "from_discovery": self.awareness_due.isoformat(timespec="minutes"),
            },
            "systems": list(self.systems),
            "affected": self.affected,
            "notices": notices,
            "late": [recipient.value for recipient in self.late(now)],
        }


def breaches_table(metadata: MetaData, prefix: str = DEFAULT_PREFIX) -> Table:
    return Table(
        f"{prefix}breaches",
        metadata,
        Column("breach_id", String, primary_key=True),
        Column("controller", String, nullable=False),
        Column("occurred_at", String),
        Column("discovered_at", String, nullable=False),
        Column("systems", Text, nullable=False),
        Column("description", Text, nullable=False),
        Column("affected", Integer, nullable=False),
        Column("subjects_clock", Integer, nullable=False),
        Column("authority_notified_at", String),
        Column("subjects_notified_at", String),
    )


class BreachStore:
    """Breaches in the ledger's database; opening one and each notice sent are recorded in the ledger."""

    def __init__(self, ledger: Ledger, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.ledger = ledger
        metadata = MetaData()
        self.table = breaches_table(metadata, prefix)
        metadata.create_all(ledger.engine, checkfirst=True)
        self._add_occurred_column()

    def _add_occurred_column(self) -> None:
        """A store made before breaches recorded their own moment gets the column; its rows read as discovered."""
        columns = {column["name"] for column in inspect(self.ledger.engine).get_columns(self.table.name)}
        if "occurred_at" not in columns:
            with self.ledger.transaction() as conn:
                conn.execute(text(f'ALTER TABLE "{self.table.name}" ADD COLUMN occurred_at VARCHAR'))

    def open(
        self,
        policy: Policy,
        discovered: datetime,
        description: str,
        affected: Mapping[str, set[str]],
        occurred: datetime | None = None,
    ) -> Breach:
        """Start the clocks; `affected` maps each system to the pseudonyms of the people found in it.

        `occurred` is when the breach happened, if known; unknown, it is taken to be its discovery.
        """
        require_aware(discovered, "--discovered")
        occurred = require_aware(occurred, "--occurred") if occurred is not None else discovered
        if occurred > discovered:
            raise HygieneError(
                f"--occurred: {occurred.isoformat(timespec='minutes')} is after --discovered "
                f"{discovered.isoformat(timespec='minutes')}: a breach cannot be found before it happens"
            )
        unknown = [system for system in affected if system not in policy.systems]
        if unknown or not affected:
            known = ", ".join(policy.systems)
            raise HygieneError(f"--systems: {', '.join(unknown) or 'none given'}: known systems are {known}")
        everyone = set().union(*affected.values())
        breach_id = secrets.token_hex(8)
        subjects_clock = promises_subject_notice(policy)
        row: dict[str, Any] = {
            "breach_id": breach_id,
            "controller": policy.controller,
            "occurred_at": utc_text(occurred),
            "discovered_at": utc_text(discovered),
            "systems": ",".join(affected),
            "description": description,
            "affected": len(everyone),
            "subjects_clock": int(subjects_clock),
        }
        drafts = [
            self._draft(
                policy.controller,
                breach_id,
                {
                    "event": "opened",
                    "systems": list(affected),
                    "affected": len(everyone),
                    "occurred": utc_text(occurred),
                    "authority_due": utc_text((occurred if subjects_clock else discovered) + NOTICE_WINDOW),
                },
            ),
            *(
                self._draft(
                    policy.controller,
                    breach_id,
                    {"event": "affected", "systems": sorted(s for s, found in affected.items() if subject in found)},
                    subject,
                )
                for subject in sorted(everyone)
            ),
        ]
        with self.ledger.transaction() as conn:
            conn.execute(insert(self.table).values(row))
            self.ledger.append_within(conn, drafts)
        return self.get(breach_id)

    def get(self, breach_id: str) -> Breach:
        with connection(self.ledger.engine) as conn:
            row = conn.execute(select(self.table).where(self.table.c.breach_id == breach_id)).one_or_none()
        if row is None:
            raise UnknownBreach(f"breach {breach_id!r} does not exist")
        return _breach(row._mapping)

    def notified(self, breach_id: str, recipient: Recipient, at: datetime) -> Breach:
        """Record when a notice was sent; a late one is recorded as late, with how late."""
        breach = self.get(breach_id)
        require_aware(at, "--at")
        due, sent = breach.notices()[recipient]
        if sent is not None:
            raise HygieneError(f"breach {breach_id}: the notice to {recipient.value} was already recorded as sent")
        late_minutes = 0 if due is None or at <= due else int((at - due).total_seconds() // 60)
        column = f"{recipient.value}_notified_at"
        payload = {"event": "notified", "to": recipient.value, "at": utc_text(at), "late_minutes": late_minutes}
        with self.ledger.transaction() as conn:
            conn.execute(update(self.table).where(self.table.c.breach_id == breach_id).values({column: utc_text(at)}))
            self.ledger.append_within(conn, [self._draft(breach.controller, breach_id, payload)])
        return self.get(breach_id)

    def _draft(
        self, controller: str, breach_id: str, payload: dict[str, Any], subject: str | None = None
    ) -> EntryDraft:
        kind = EntryKind.DELIVERY if payload["event"] == "notified" else EntryKind.FINDING
        return EntryDraft(
            controller=controller,
            run_id=f"breach-{breach_id}",
            kind=kind,
            subject=subject,
            payload={"breach": breach_id, **payload},
        )


def _breach(row: Mapping[Any, Any]) -> Breach:
    def moment(text: str | None) -> datetime | None:
        return None if text is None else parse_utc(text)

    discovered = parse_utc(row["discovered_at"]).astimezone(UTC)
    return Breach(
        breach_id=row["breach_id"],
        controller=row["controller"],
        occurred_at=discovered if row["occurred_at"] is None else parse_utc(row["occurred_at"]).astimezone(UTC),
        discovered_at=discovered,
        systems=tuple(row["systems"].split(",")),
        description=row["description"],
        affected=int(row["affected"]),
        subjects_clock=bool(row["subjects_clock"]),
        authority_notified_at=moment(row["authority_notified_at"]),
        subjects_notified_at=moment(row["subjects_notified_at"]),
    )
