"""Ledger appends per second on SQLite and PostgreSQL, batched as a run writes them, against a naive baseline
of one entry per transaction; and how fast `verify()` re-walks the chain.

    python -m bench.bench_ledger [--entries 100000] [--batch 1000] [--postgres URL]

Each backend gets throw-away tables (a temporary SQLite file; a fresh PostgreSQL schema, dropped afterwards).
The goal is at least 20 000 batched appends per second on each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from hygiene.errors import DatabaseUnreachable
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.store import connection, dispose_engine, engine_for

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_PER_SECOND = 20_000
BASELINE_ENTRIES = 2_000
RECORD = "record:" + "0" * 64


def drafts(count: int, run_id: str) -> list[EntryDraft]:
    """Decisions shaped like a run's: a pseudonymised record and a few non-personal details each."""
    return [
        EntryDraft(
            controller="clienti",
            run_id=run_id,
            kind=EntryKind.DECISION,
            rule_ref="unsubscribe-deletion",
            record=RECORD,
            payload={"decision": "due", "deadline": "2026-01-05", "n": n},
        )
        for n in range(count)
    ]


def per_second(count: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def measure(ledger: Ledger, entries: int, batch: int) -> dict[str, float]:
    batches = [drafts(batch, f"run-{n}") for n in range(entries // batch)]
    singles = drafts(BASELINE_ENTRIES, "baseline")
    return {
        "batched": per_second(entries, lambda: [ledger.append(b) for b in batches]),
        "one per transaction": per_second(BASELINE_ENTRIES, lambda: [ledger.append([d]) for d in singles]),
        "verify": per_second(ledger.last_seq(), ledger.verify),
    }


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        yield url
        dispose_engine(url)


@contextmanager
def postgres_url(base: str) -> Iterator[str]:
    schema = f"hygiene_bench_{uuid.uuid4().hex[:12]}"
    with connection(engine_for(base)) as conn, conn.begin():
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{base}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        dispose_engine(url)
        with connection(engine_for(base)) as conn, conn.begin():
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def main() -> None:
    parser = argparse.ArgumentParser(description="Ledger appends per second on SQLite and PostgreSQL.")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    args = parser.parse_args()

    print(f"{args.entries} entries in batches of {args.batch}; baseline {BASELINE_ENTRIES} single appends")
    print(f"{'backend':<11} {'batched/s':>10} {'1 per tx/s':>11} {'verify/s':>10}  goal {GOAL_PER_SECOND}/s")
    for name, database in (("sqlite", sqlite_url), ("postgresql", lambda: postgres_url(args.postgres))):
        try:
            with database() as url:
                rates = measure(Ledger(url), args.entries, args.batch)
        except DatabaseUnreachable as exc:
            print(f"{name:<11} skipped: {exc}")
            continue
        verdict = "met" if rates["batched"] >= GOAL_PER_SECOND else "MISSED"
        print(
            f"{name:<11} {rates['batched']:>10,.0f} {rates['one per transaction']:>11,.0f}"
            f" {rates['verify']:>10,.0f}  {verdict}"
        )


if __name__ == "__main__":
    main()
