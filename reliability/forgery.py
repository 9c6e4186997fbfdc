"""Chain forgeries: every way someone who can write the evidence database, but does not hold the ledger key,
could rewrite the ledger, each tried on a ledger of its own; `verify` must catch every one.

Some rewrites leave a ledger that is consistent in itself (an older copy of the whole database, or an emptied
one with its first head row put back): nothing inside the database can tell those from the truth, so they are
checked the way the product checks them, against the head a run's page or a report printed before the attack.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Connection, select, update

from hygiene.keys import public_key
from hygiene.ledger import HASHED_FIELDS, EntryDraft, EntryKind, Ledger
from hygiene.ledger_head import GENESIS_MAC, ChainHead
from hygiene.ledger_schema import canonical_json
from hygiene.pseudonym import RECORD, pseudonym

#: the ledger each attack starts from: this many entries, a head row kept after the first `_EARLY` of them
_ENTRIES, _EARLY = 12, 5
_RECORD_KEY = SecretStr(public_key("reliability", "forgery-records"))
_ATTACKER_KEY = b"the attacker's own key, as long and random as they like: 6f1c9a"


@dataclass(frozen=True)
class ForgeryResult:
    backend: str
    attack: str
    detected: bool


@dataclass
class Target:
    """A ledger under attack, and what an attacker with database access saw of it earlier."""

    ledger: Ledger
    early_head_row: dict[str, Any]
    genesis_head_row: dict[str, Any]

    def rows(self, conn: Connection) -> list[dict[str, Any]]:
        table = self.ledger.tables.entries
        return [dict(row._mapping) for row in conn.execute(select(table).order_by(table.c.seq))]

    def put(self, conn: Connection, row: dict[str, Any]) -> None:
        table = self.ledger.tables.entries
        conn.execute(update(table).where(table.c.seq == row["seq"]).values(**row))

    def set_head(self, conn: Connection, **values: Any) -> None:
        conn.execute(update(self.ledger.tables.head).values(**values))

    def cut_after(self, conn: Connection, seq: int) -> None:
        conn.execute(self.ledger.tables.entries.delete().where(self.ledger.tables.entries.c.seq > seq))


def _edit(target: Target, conn: Connection, digest: Callable[[dict[str, Any]], str] | None, head_mac: bool) -> None:
    """Change entry 3's decision; with `digest`, recompute it and every later link and the head with it."""
    prev = GENESIS_MAC
    for row in target.rows(conn):
        if row["seq"] == 3:
            row["payload"] = row["payload"].replace('"due"', '"keep"')
        if digest is not None and row["seq"] >= 3:
            row["prev_hash"], row["hash"] = prev, ""
            row["hash"] = digest(row)
        if row["seq"] >= 3:
            target.put(conn, row)
        prev = row["hash"]
    if digest is not None:
        forged = hmac.new(_ATTACKER_KEY, f"head\x00{_ENTRIES}\x00{prev}".encode(), "sha256").hexdigest()
        target.set_head(conn, hash=prev, **({"mac": forged} if head_mac else {}))


def _sha256(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({name: row[name] for name in HASHED_FIELDS}).encode()).hexdigest()


def _attacker_hmac(row: dict[str, Any]) -> str:
    message = canonical_json({name: row[name] for name in HASHED_FIELDS}).encode()
    return hmac.new(_ATTACKER_KEY, message, "sha256").hexdigest()


def _swap(target: Target, conn: Connection) -> None:
    rows = {row["seq"]: row for row in target.rows(conn)}
    for seq, other in ((4, 5), (5, 4)):
        target.put(conn, {**rows[other], "seq": seq})


def _retime(target: Target, conn: Connection) -> None:
    row = target.rows(conn)[6]
    target.put(conn, {**row, "created_at": row["created_at"].replace("20", "19", 1)})


def _delete(target: Target, conn: Connection, seq: int) -> None:
    conn.execute(target.ledger.tables.entries.delete().where(target.ledger.tables.entries.c.seq == seq))


def _move_head_back(target: Target, conn: Connection) -> None:
    row = target.rows(conn)[_EARLY - 1]
    target.cut_after(conn, _EARLY)
    target.set_head(conn, seq=_EARLY, hash=row["hash"])


def _roll_back(target: Target, conn: Connection) -> None:
    target.cut_after(conn, _EARLY)
    target.set_head(conn, **target.early_head_row)


def _empty(target: Target, conn: Connection) -> None:
    target.cut_after(conn, 0)
    target.set_head(conn, **target.genesis_head_row)


def _drop(target: Target, conn: Connection) -> None:
    target.ledger.tables.metadata.drop_all(conn)


def _forge_head_mac(target: Target, conn: Connection) -> None:
    target.set_head(conn, mac="0" * 64)


ATTACKS: dict[str, Callable[[Target, Connection], None]] = {
    "payload edited": lambda t, c: _edit(t, c, None, head_mac=False),
    "edited, SHA-256 chain and head recomputed": lambda t, c: _edit(t, c, _sha256, head_mac=False),
    "edited, chain and head MAC recomputed under another key": lambda t, c: _edit(t, c, _attacker_hmac, head_mac=True),
    "two entries swapped": _swap,
    "an entry's time changed": _retime,
    "a middle entry deleted": lambda t, c: _delete(t, c, 6),
    "last entries deleted, head moved back": _move_head_back,
    "head row's MAC replaced": _forge_head_mac,
    "rolled back to an older copy (head row replayed)": _roll_back,
    "emptied, first head row replayed": _empty,
    "tables dropped (a new, empty ledger)": _drop,
}


def forgery_campaign(backend: str, url: str) -> list[ForgeryResult]:
    """Each attack on a fresh ledger in `url`; detected means `verify`, given the head printed before, fails."""
    results = []
    for attack, forge in ATTACKS.items():
        prefix = f"forgery_{uuid.uuid4().hex[:8]}_"
        target = _target(url, prefix)
        honest = target.ledger.verify()
        if not honest.ok:
            # a figure of "all detected" means nothing if an untouched ledger would fail as well
            raise RuntimeError(f"the untouched ledger does not verify: {honest.reason}")
        printed: ChainHead = honest.head
        with target.ledger.engine.begin() as conn:
            forge(target, conn)
        report = Ledger(url, prefix=prefix).verify([printed])
        results.append(ForgeryResult(backend, attack, detected=not report.ok))
    return results


def _target(url: str, prefix: str) -> Target:
    ledger = Ledger(url, prefix=prefix)
    genesis = _head_row(ledger)
    drafts = [
        EntryDraft(
            controller="calmo",
            run_id="forgery",
            kind=EntryKind.DECISION,
            rule_ref="K2",
            record=pseudonym(_RECORD_KEY, RECORD, f"logbooks:{number}"),
            payload={"decision": "due", "number": number},
        )
        for number in range(_ENTRIES)
    ]
    ledger.append(drafts[:_EARLY])
    early = _head_row(ledger)
    ledger.append(drafts[_EARLY:])
    return Target(ledger, early, genesis)


def _head_row(ledger: Ledger) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        return dict(conn.execute(select(ledger.tables.head)).one()._mapping)
