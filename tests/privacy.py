"""Scanning what the tool keeps (its ledger, Prefect's database, logs, artifacts) for personal data."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url


def sqlite_path(url: str) -> Path:
    """The file behind a SQLite URL, sync or async driver."""
    database = make_url(url).database
    assert database, f"not a SQLite file URL: {url}"
    return Path(database)


def sqlite_rows(path: Path) -> Iterator[str]:
    """Every row of every table as text, blobs decoded leniently so no byte escapes the scan."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                yield f"{table}: " + " | ".join(
                    value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value) for value in row
                )


def database_rows(url: str) -> Iterator[str]:
    """Every row of every table of any SQLAlchemy URL (PostgreSQL ledgers, Prefect on PostgreSQL)."""
    if make_url(url).get_backend_name() == "sqlite":
        yield from sqlite_rows(sqlite_path(url))
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    yield f"{table}: " + " | ".join(str(value) for value in row)
    finally:
        engine.dispose()


def hits(texts: Iterable[str], needles: Iterable[str]) -> list[str]:
    """Each (needle, where) found; needles are compared case-insensitively, as a person would search."""
    wanted = {needle.lower() for needle in needles if len(needle) >= 4}
    found = []
    for line in texts:
        lowered = line.lower()
        found += [f"{needle!r} in {line[:80]}…" for needle in wanted if needle in lowered]
    return found
