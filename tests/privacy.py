"""Scanning what the tool keeps (its ledger, Prefect's database, logs, artifacts) for personal data."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url


def sqlite_path(url: str) -> Path:
    """The file behind a SQLite URL, sync or async driver."""
    database = make_url(url).database
    assert database, f"not a SQLite file URL: {url}"
    return Path(database)


def sqlite_rows(path: Path, wanted: Callable[[str], bool] = lambda table: True) -> Iterator[str]:
    """Every row of every `wanted` table as text, blobs decoded leniently so no byte escapes the scan."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in filter(wanted, tables):
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
    """Each (needle, where) found; needles are compared case-insensitively, as a person would search, and
    one that starts or ends with a digit only as a whole number: a phone number or an id inside a timestamp,
    a hash or a longer number is a coincidence, not a leak."""
    wanted = {needle.lower(): _whole(needle.lower()) for needle in needles if len(needle) >= 4}
    found = []
    for line in texts:
        lowered = line.lower()
        found += [
            f"{needle!r} in {line[:80]}…"
            for needle, whole in wanted.items()
            if needle in lowered and whole.search(lowered)
        ]
    return found


def _whole(needle: str) -> re.Pattern[str]:
    """The needle with no letter or digit against an end of it that is a digit."""
    before = r"(?<![^\W_])" if needle[0].isdigit() else ""
    after = r"(?![^\W_])" if needle[-1].isdigit() else ""
    return re.compile(before + re.escape(needle) + after)
