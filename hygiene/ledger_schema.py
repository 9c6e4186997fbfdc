"""The evidence database's tables, and the text forms the ledger stores and hashes.

Everything the hash covers is stored as text or an integer, never as a database JSON or timestamp type:
PostgreSQL's jsonb reorders keys and SQLite drops time zones, and either would make an honest entry look
tampered with. The hash is taken over exactly the stored values, so an auditor can recompute it from a plain
export with any language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

DEFAULT_PREFIX = "hygiene_"
HEAD_ID = 1
_PREFIX = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class EvidenceTables:
    """The ledger, its head row (the lock writers queue on, and the chain's claimed end) and the holds.

    Each entry's `hash` column holds its MAC under the ledger key (the name is kept from the unkeyed chain).
    """

    metadata: MetaData
    entries: Table
    head: Table
    holds: Table


def evidence_tables(prefix: str = DEFAULT_PREFIX) -> EvidenceTables:
    """Table definitions under `prefix`, so several ledgers (or test runs) can share one database."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"table prefix must be lower-case letters, digits and '_', got {prefix!r}")
    metadata = MetaData()
    entries = Table(
        f"{prefix}ledger",
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("created_at", String, nullable=False),
        Column("controller", String, nullable=False),
        Column("run_id", String, nullable=False),
        Column("rule_ref", String),
        Column("kind", String, nullable=False),
        Column("subject", String),
        Column("record", String),
        Column("intent_id", String),
        Column("payload", Text, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )
    Index(f"{prefix}ledger_rule", entries.c.controller, entries.c.rule_ref, entries.c.kind)
    Index(f"{prefix}ledger_run", entries.c.run_id)
    Index(f"{prefix}ledger_subject", entries.c.subject)
    Index(f"{prefix}ledger_record", entries.c.record)
    Index(f"{prefix}ledger_intent", entries.c.intent_id)
    head = Table(
        f"{prefix}ledger_head",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
        # The head's own MAC (see hygiene.ledger); its absence marks a ledger written before the chain was keyed.
        Column("mac", String(64), nullable=False),
    )
    holds = Table(
        f"{prefix}holds",
        metadata,
        Column("hold_id", Integer, primary_key=True, autoincrement=True),
        Column("controller", String, nullable=False),
        Column("subject", String),
        Column("record", String),
        Column("reason", Text, nullable=False),
        Column("set_at", String, nullable=False),
        Column("set_by", String, nullable=False),
        Column("released_at", String),
    )
    Index(f"{prefix}holds_controller", holds.c.controller, holds.c.released_at)
    return EvidenceTables(metadata, entries, head, holds)


# Built once: json.dumps with non-default options builds a new encoder per call, a third of the ledger's cost.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no blanks, ASCII only: one text per value, so one byte changed is one hash changed."""
    return _CANONICAL.encode(value)


def utc_text(moment: datetime) -> str:
    """A fixed-width aware UTC timestamp (microseconds always present), the form every table stores."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be time-zone aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def utc_now_text() -> str:
    return utc_text(datetime.now(UTC))


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text)
