"""The two evidence stores every campaign runs on: a SQLite file and a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from hygiene.store import connection, dispose_engine, engine_for

POSTGRES_URL = os.environ.get("HYGIENE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def fresh_database(backend: str, scratch: Path) -> Iterator[str]:
    """A URL to an empty store: a new SQLite file under `scratch`, or a new schema reached by search_path.

    A schema per campaign (not per table prefix) so the product runs with its default table names, exactly
    as installed; it is dropped afterwards even when the campaign fails.
    """
    if backend == "sqlite":
        url = f"sqlite:///{scratch / f'ledger-{uuid.uuid4().hex[:8]}.db'}"
        yield url
        dispose_engine(url)
        return
    schema = f"reliability_{uuid.uuid4().hex[:12]}"
    _execute(f"CREATE SCHEMA {schema}")
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        dispose_engine(url)
        _execute(f"DROP SCHEMA {schema} CASCADE")


def _execute(statement: str) -> None:
    with connection(engine_for(POSTGRES_URL)) as conn, conn.begin():
        conn.execute(text(statement))
