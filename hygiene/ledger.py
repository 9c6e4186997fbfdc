"""The evidence ledger: an append-only, MAC-chained record of what every run decided and did.

Each entry's MAC (HMAC-SHA256 under the ledger key, `HYGIENE_LEDGER_KEY`) covers all its other fields and the
previous entry's MAC, so changing, removing or reordering any entry breaks every link after it, and `verify()`
names the first broken one. A plain hash would not do: whoever can write the database could edit a row and
recompute every later hash. The key is kept outside the database, as the pseudonym keys are, so the database
alone cannot rewrite its own history.

The chain head (its own one-row table) records the last seq and MAC, under a MAC of its own: it is the row
concurrent writers queue on, and it exposes entries cut off the end of the chain. What the database holds can
still be rolled back to an older copy of itself, head included; so the head is also anchored outside it:
every run's page and every evidence report prints it (`ChainHead`, "entry N, MAC …"), and `verify` takes such
heads and proves that the ledger still extends each one. An empty ledger verifies only when no anchor knows of
an entry.

A ledger written before the chain was keyed (plain SHA-256) is refused when opened (`LedgerTampered`): its
hashes prove nothing against someone who could write the database, so it is never silently trusted.

Entries name people and records only by keyed pseudonyms (`hygiene.pseudonym`). Callers must pass
pseudonyms, never emails, names or vendor ids; as a second line of defence `append` rejects a subject or
record that is not a pseudonym, payload keys that name personal data (`DENIED_PAYLOAD_KEYS`) and payload
strings that look like email addresses.

An action is written as an `intent` before it happens and an `outcome` after, both carrying one
`intent_id`. A run that crashed in between leaves intents without outcomes; `open_intents` lists them, so the
rerun finishes exactly those and does nothing twice.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Connection, Row, Select, Table, and_, func, insert, inspect, select, update

from hygiene.errors import LedgerTampered
from hygiene.ledger_head import GENESIS_MAC, ChainHead
from hygiene.ledger_schema import (
    DEFAULT_PREFIX,
    HEAD_ID,
    EvidenceTables,
    canonical_json,
    evidence_tables,
    parse_utc,
    utc_now_text,
)
from hygiene.pseudonym import is_pseudonym
from hygiene.settings import Settings
from hygiene.store import connection, engine_for, masked_url, write_transaction

KeySource = SecretStr | Callable[[], SecretStr]
GENESIS = ChainHead(0, GENESIS_MAC)

HASHED_FIELDS = (
    "seq",
    "created_at",
    "controller",
    "run_id",
    "rule_ref",
    "kind",
    "subject",
    "record",
    "intent_id",
    "payload",
    "prev_hash",
)
DENIED_PAYLOAD_KEYS = frozenset(
    {
        "email",
        "emailaddress",
        "mail",
        "name",
        "firstname",
        "lastname",
        "fullname",
        "givenname",
        "surname",
        "phone",
        "phonenumber",
        "mobile",
        "telephone",
        "address",
        "streetaddress",
        "postaladdress",
        "ssn",
        "personnummer",
        "birthdate",
        "dateofbirth",
        "ipaddress",
    }
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_STREAM_PAGE = 1000
# Any constant works; it only has to be the same in every process that creates the tables.
_SCHEMA_LOCK_KEY = 0x6879_6769_656E_65


class EntryKind(StrEnum):
    """What an entry records. Add a member to add a kind; the value is what the database stores."""

    RUN_STARTED = "run_started"
    DECISION = "decision"
    INTENT = "intent"
    OUTCOME = "outcome"
    VERIFICATION = "verification"
    FINDING = "finding"
    ATTESTATION = "attestation"
    HOLD = "hold"
    REQUEST = "request"
    DELIVERY = "delivery"
    #: a customer register's end date, by subject pseudonym, kept after the register forgets it (hygiene.register)
    REGISTER = "register"
    RUN_FINISHED = "run_finished"


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry before the ledger gives it a seq, a time and its place in the chain.

    `payload` holds non-personal details only (decision, action, reason, receipt and proof digests, counts,
    deadline as ISO text...). Intents and outcomes carry an `intent_id` and an "action" in the payload;
    build them with `EntryDraft.intent` and `EntryDraft.outcome` so the two always match.
    """

    controller: str
    run_id: str
    kind: EntryKind
    rule_ref: str | None = None
    subject: str | None = None
    record: str | None = None
    intent_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def intent(
        cls,
        *,
        controller: str,
        run_id: str,
        rule_ref: str,
        action: str,
        record: str | None = None,
        subject: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> EntryDraft:
        """An action about to be taken, with a fresh `intent_id` its outcome will quote."""
        return cls(
            controller=controller,
            run_id=run_id,
            kind=EntryKind.INTENT,
            rule_ref=rule_ref,
            subject=subject,
            record=record,
            intent_id=uuid.uuid4().hex,
            payload={**(payload or {}), "action": action},
        )

    @classmethod
    def outcome(cls, intent: Entry, *, run_id: str, payload: Mapping[str, Any] | None = None) -> EntryDraft:
        """What came of `intent`, possibly written by a later run that finished the job."""
        return cls(
            controller=intent.controller,
            run_id=run_id,
            kind=EntryKind.OUTCOME,
            rule_ref=intent.rule_ref,
            subject=intent.subject,
            record=intent.record,
            intent_id=intent.intent_id,
            payload={**(payload or {}), "action": intent.action},
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry as stored; `hash` covers every other field (see `HASHED_FIELDS`)."""

    seq: int
    created_at: datetime
    controller: str
    run_id: str
    rule_ref: str | None
    kind: EntryKind
    subject: str | None
    record: str | None
    intent_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of `Ledger.verify`: `broken_at` is the seq of the first broken link, `reason` says why.

    `head` is the chain's end as verified (entry `count` and its MAC), the value to print where the ledger
    cannot reach; `anchors` is how many heads from outside the database the ledger was proven to extend.
    """

    ok: bool
    count: int
    broken_at: int | None
    reason: str
    head: ChainHead
    anchors: int = 0


class Ledger:
    """The evidence ledger in the database at `url` (SQLite file by default, PostgreSQL by URL)."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, key: KeySource | None = None) -> None:
        """`key` is the chain's MAC key, or what gives it when first needed (reading entries needs none);
        by default `HYGIENE_LEDGER_KEY` from the environment."""
        self.url = url
        self.engine = engine_for(url)
        self.tables: EvidenceTables = evidence_tables(prefix)
        self._key_source: KeySource = key if key is not None else (lambda: Settings().chain_key())
        self.create_schema()

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        return cls(settings.database_url, key=settings.chain_key)

    @functools.cached_property
    def _mac(self) -> ChainMac:
        source = self._key_source
        return ChainMac((source if isinstance(source, SecretStr) else source()).get_secret_value().encode())

    def __repr__(self) -> str:
        return f"Ledger({masked_url(self.url)!r}, table={self.tables.entries.name!r})"

    def create_schema(self) -> None:
        """Create the tables and the chain head if missing; safe to call from many processes at once."""
        with self.transaction() as conn:
            if conn.dialect.name == "postgresql":
                # Two processes creating the same tables at once collide in PostgreSQL's catalog.
                conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))
            self.tables.metadata.create_all(conn)
            head = self.tables.head
            if "mac" not in {column["name"] for column in inspect(conn).get_columns(head.name)}:
                raise LedgerTampered(
                    f"the ledger in {masked_url(self.url)} was written before the evidence chain was keyed "
                    "(plain SHA-256, which anyone with database access can recompute), so it is not trusted: "
                    "keep it as an archive and point HYGIENE_DATABASE_URL at a new database"
                )
            if conn.execute(select(head.c.id)).first() is None:
                conn.execute(
                    insert(head).values(id=HEAD_ID, seq=0, hash=GENESIS_MAC, mac=self._head_mac(0, GENESIS_MAC))
                )

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction; whatever else it writes commits or rolls back with its `append_within`."""
        return write_transaction(self.engine)

    def append(self, drafts: Sequence[EntryDraft]) -> list[Entry]:
        """Append `drafts` in one transaction, in order, as one unbroken stretch of the chain."""
        with self.transaction() as conn:
            return self.append_within(conn, drafts)

    def append_within(self, conn: Connection, drafts: Sequence[EntryDraft]) -> list[Entry]:
        """`append` inside a transaction from `transaction()`, e.g. to record a hold with its entry."""
        rows = [_prepared_row(draft) for draft in drafts]
        if not rows:
            return []
        head = self.tables.head
        # FOR UPDATE makes concurrent PostgreSQL writers queue here; SQLite is already locked by BEGIN
        # IMMEDIATE. The primary key on seq is the last line of defence should either ever fail.
        last_seq, prev_hash = conn.execute(
            select(head.c.seq, head.c.hash).where(head.c.id == HEAD_ID).with_for_update()
        ).one()
        created_at = utc_now_text()
        for seq, row in enumerate(rows, start=last_seq + 1):
            row.update(seq=seq, created_at=created_at, prev_hash=prev_hash)
            prev_hash = row["hash"] = self._mac.entry(row)
        _insert(conn, self.tables.entries, rows)
        last = rows[-1]["seq"]
        conn.execute(
            update(head)
            .where(head.c.id == HEAD_ID)
            .values(seq=last, hash=prev_hash, mac=self._head_mac(last, prev_hash))
        )
        return [_entry(row) for row in rows]

    def entries(
        self,
        *,
        controller: str | None = None,
        run_id: str | None = None,
        subject: str | None = None,
        record: str | None = None,
        kinds: Collection[EntryKind] | None = None,
    ) -> Iterator[Entry]:
        """Matching entries in chain order, read page by page."""
        table = self.tables.entries
        query = select(table).order_by(table.c.seq)
        filters = {"controller": controller, "run_id": run_id, "subject": subject, "record": record}
        for column, value in filters.items():
            if value is not None:
                query = query.where(table.c[column] == value)
        if kinds is not None:
            query = query.where(table.c.kind.in_([EntryKind(kind).value for kind in kinds]))
        for row in self._stream(query):
            yield _entry(row._mapping)

    def verify(self, anchors: Iterable[ChainHead] = ()) -> ChainReport:
        """Recompute every MAC in chain order, in constant memory, check the chain head, and prove that the
        chain still extends every head in `anchors` (heads printed earlier, kept outside the database)."""
        head = self.tables.head
        with connection(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for head and entries, so entries appended meanwhile are not a false alarm.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            claimed = conn.execute(
                select(head.c.seq, head.c.hash, head.c.mac).where(head.c.id == HEAD_ID)
            ).one_or_none()
            if claimed is None or not hmac.compare_digest(claimed.mac, self._head_mac(claimed.seq, claimed.hash)):
                reason = "the chain head is missing or its MAC does not match (it was written without the key, or "
                return ChainReport(False, 0, None, reason + "HYGIENE_LEDGER_KEY is not this ledger's key)", GENESIS)
            rows = conn.execution_options(yield_per=_STREAM_PAGE).execute(
                select(self.tables.entries).order_by(self.tables.entries.c.seq)
            )
            return check_chain(self._mac, (row._mapping for row in rows), ChainHead(claimed.seq, claimed.hash), anchors)

    def _head_mac(self, seq: int, mac: str) -> str:
        return self._mac.head(seq, mac)

    def open_intents(self, controller: str, rule_ref: str) -> list[Entry]:
        """Intents of this rule with no outcome for the same intent_id, record and action."""
        intents = self.tables.entries.alias("i")
        outcomes = self.tables.entries.alias("o")
        closing = and_(
            outcomes.c.kind == EntryKind.OUTCOME.value,
            outcomes.c.controller == intents.c.controller,
            outcomes.c.intent_id == intents.c.intent_id,
            outcomes.c.record.is_not_distinct_from(intents.c.record),
        )
        query = (
            select(intents, outcomes.c.payload.label("outcome_payload"))
            .outerjoin(outcomes, closing)
            .where(
                intents.c.kind == EntryKind.INTENT.value,
                intents.c.controller == controller,
                intents.c.rule_ref == rule_ref,
            )
            .order_by(intents.c.seq)
        )
        # The action lives in the payload text, so it is compared here, one intent's joined rows at a time.
        found = []
        for _seq, group in itertools.groupby(self._stream(query), key=lambda row: row.seq):
            rows = list(group)
            intent = _entry(rows[0]._mapping)
            if not any(_closes(row.outcome_payload, intent) for row in rows):
                found.append(intent)
        return found

    def head(self) -> ChainHead:
        """The chain's end as its head row records it: what a run's page prints, to be verified later."""
        head = self.tables.head
        with connection(self.engine) as conn:
            seq, mac = conn.execute(select(head.c.seq, head.c.hash).where(head.c.id == HEAD_ID)).one()
        return ChainHead(int(seq), mac)

    def last_seq(self) -> int:
        """The seq of the newest entry, 0 for an empty ledger."""
        with connection(self.engine) as conn:
            return int(conn.execute(select(func.coalesce(func.max(self.tables.entries.c.seq), 0))).scalar_one())

    def range_of(self, run_id: str) -> tuple[int, int] | None:
        """First and last seq a run wrote, for its run report; None if it wrote nothing."""
        table = self.tables.entries
        query = select(func.min(table.c.seq), func.max(table.c.seq)).where(table.c.run_id == run_id)
        with connection(self.engine) as conn:
            first, last = conn.execute(query).one()
        return None if first is None else (int(first), int(last))

    def _stream(self, query: Select[Any]) -> Iterator[Row[Any]]:
        with connection(self.engine) as conn:
            yield from conn.execution_options(yield_per=_STREAM_PAGE).execute(query)


class ChainMac:
    """HMAC-SHA256 under the ledger key, its key schedule computed once: that is most of a MAC's cost, and the
    ledger takes one per entry it writes or verifies."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def entry(self, row: Mapping[Any, Any]) -> str:
        """The MAC of the canonical JSON of a stored row's `HASHED_FIELDS`, exactly as an auditor given the key
        recomputes it from a plain export."""
        return self._hex(canonical_json({name: row[name] for name in HASHED_FIELDS}).encode())

    def head(self, seq: int, mac: str) -> str:
        # The head is a message of its own kind (never JSON), so no entry's MAC can be passed off as a head's.
        return self._hex(f"head\x00{seq}\x00{mac}".encode())

    def _hex(self, message: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(message)
        return mac.hexdigest()


def check_chain(
    key: ChainMac, rows: Iterable[Mapping[Any, Any]], head: ChainHead, anchors: Iterable[ChainHead] = ()
) -> ChainReport:
    """Walk stored rows in seq order and report the first link that does not hold, then check the head, then
    that the chain still extends every anchor (the entry an anchor names is there, with the MAC it shows)."""
    wanted: dict[int, list[ChainHead]] = {}
    for anchor in anchors:
        wanted.setdefault(anchor.seq, []).append(anchor)
    proven, count, prev_hash = 0, 0, GENESIS_MAC
    for row in rows:
        fault = _link_fault(key, row, count + 1, prev_hash)
        for anchor in wanted.pop(count + 1, []):
            fault = fault or _anchor_fault(anchor, row["hash"])
            proven += 1
        if fault is not None:
            return ChainReport(False, count, *fault, head=ChainHead(count, prev_hash))
        count, prev_hash = count + 1, row["hash"]
    found = ChainHead(count, prev_hash)
    fault = _head_fault(head, found)
    if fault is None and wanted:
        anchor = wanted[min(wanted)][0]
        fault = (
            count + 1,
            f"the ledger ends at entry {count}, but {anchor.source} shows entry {anchor.seq}: entries were removed",
        )
    if fault is not None:
        return ChainReport(False, count, *fault, head=found)
    return ChainReport(True, count, None, f"{count} entries, chain intact", head=found, anchors=proven)


def _link_fault(key: ChainMac, row: Mapping[Any, Any], seq: int, prev_hash: str) -> tuple[int, str] | None:
    if row["seq"] != seq:
        return seq, f"entry {seq} is missing (gap before {row['seq']})"
    if row["prev_hash"] != prev_hash:
        return seq, f"entry {seq}'s prev_hash does not match entry {seq - 1}'s MAC"
    if not hmac.compare_digest(row["hash"], key.entry(row)):
        hint = " (or HYGIENE_LEDGER_KEY is not the key this ledger was written with)" if seq == 1 else ""
        return seq, f"entry {seq}'s MAC does not match its contents{hint}"
    return None


def _head_fault(head: ChainHead, found: ChainHead) -> tuple[int, str] | None:
    if head.seq > found.seq:
        return found.seq + 1, f"entry {found.seq + 1} is missing: the head records {head.seq}"
    if head.seq < found.seq:
        return head.seq + 1, f"entry {head.seq + 1} is past the head ({head.seq})"
    if head.mac != found.mac:
        return found.seq, f"entry {found.seq}'s MAC differs from the head's"
    return None


def _anchor_fault(anchor: ChainHead, mac: str) -> tuple[int, str] | None:
    if hmac.compare_digest(anchor.mac, mac):
        return None
    return anchor.seq, f"entry {anchor.seq}'s MAC is not the one {anchor.source} shows: the ledger was rewritten"


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    # COPY is PostgreSQL's bulk path: about twice the rows per second of a pipelined executemany.
    columns = [column.name for column in table.c]
    target = f"{conn.dialect.identifier_preparer.format_table(table)} ({', '.join(columns)})"
    driver: Any = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def _prepared_row(draft: EntryDraft) -> dict[str, Any]:
    """The stored form of a draft, after the checks that keep personal data out of the evidence."""
    if not draft.controller or not draft.run_id:
        raise ValueError("an entry needs a controller and a run_id")
    for role, reference in (("subject", draft.subject), ("record", draft.record)):
        if reference is not None and not is_pseudonym(reference):
            raise ValueError(f"{role} must be a pseudonym from hygiene.pseudonym, never the value itself")
    kind = EntryKind(draft.kind)
    if kind in (EntryKind.INTENT, EntryKind.OUTCOME) and not (
        draft.intent_id and isinstance(draft.payload.get("action"), str)
    ):
        raise ValueError(f"an {kind} needs an intent_id and a payload 'action'")
    payload = dict(draft.payload)
    _check_no_personal_data(payload, "payload")
    return {
        "controller": draft.controller,
        "run_id": draft.run_id,
        "rule_ref": draft.rule_ref,
        "kind": kind.value,
        "subject": draft.subject,
        "record": draft.record,
        "intent_id": draft.intent_id,
        "payload": canonical_json(payload),
    }


def _check_no_personal_data(value: Any, path: str) -> None:
    # Strings first and dict rather than Mapping: this runs on every value of every entry.
    if isinstance(value, str):
        if "@" in value and _EMAIL.search(value):
            raise ValueError(f"{path} looks like an email address; evidence takes pseudonyms only")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _names_personal_data(str(key)):
                raise ValueError(f"{path}.{key} names personal data; evidence takes pseudonyms only")
            _check_no_personal_data(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_no_personal_data(item, f"{path}[{index}]")


@functools.lru_cache(maxsize=4096)
def _names_personal_data(key: str) -> bool:
    # Cached: payloads repeat a handful of keys millions of times.
    return re.sub(r"[^a-z]", "", key.lower()) in DENIED_PAYLOAD_KEYS


def _entry(row: Mapping[Any, Any]) -> Entry:
    return Entry(
        seq=int(row["seq"]),
        created_at=parse_utc(row["created_at"]),
        controller=row["controller"],
        run_id=row["run_id"],
        rule_ref=row["rule_ref"],
        kind=EntryKind(row["kind"]),
        subject=row["subject"],
        record=row["record"],
        intent_id=row["intent_id"],
        payload=_json_object(row["payload"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _closes(outcome_payload: str | None, intent: Entry) -> bool:
    return outcome_payload is not None and _json_object(outcome_payload).get("action") == intent.action


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("a stored payload is not a JSON object")
    return value
