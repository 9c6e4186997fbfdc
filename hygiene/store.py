"""One SQLAlchemy engine per database URL, set up for an evidence store that several processes write.

SQLite (the default) gets WAL, so readers never wait for the writer, and a busy timeout, so a second writer
waits its turn instead of failing. SQLite's own BEGIN is deferred, which lets two writers both read the chain
head and then race; a `write_transaction` therefore starts with BEGIN IMMEDIATE, taking the write lock before
the first read. PostgreSQL needs nothing here: the ledger locks its head row itself.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from hygiene.errors import DatabaseUnreachable

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "hygiene_write"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def masked_url(url: str) -> str:
    """The URL with any password replaced by `***`; works on URLs SQLAlchemy cannot parse, too."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def engine_for(url: str) -> Engine:
    """The engine for `url`, created once per process and shared by the ledger, the holds and the rest."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create(url)
        return engine


def dispose_engine(url: str) -> None:
    """Close the pooled connections to `url` (tests and long-lived workers that are done with a database)."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


@contextmanager
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection, or a one-line `DatabaseUnreachable` instead of a driver traceback."""
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        raise DatabaseUnreachable(_unreachable_message(str(engine.url), exc)) from exc
    with conn:
        yield conn


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its first statement on SQLite."""
    with connection(engine) as conn:
        conn = conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


def _create(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnreachable(f"{masked_url(url)}: not a database URL (e.g. sqlite:///evidence.db)") from None
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnreachable(f"cannot reach database {masked_url(url)}: {exc.strerror}") from exc
    engine = create_engine(parsed)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to the "begin" hook below; pysqlite's own would issue a deferred BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _unreachable_message(url: str, exc: DBAPIError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return f"cannot reach database {masked_url(url)}: {reason}"


def _forget_engines_in_child() -> None:
    # A forked worker must not reuse its parent's pooled sockets (it opens its own on first use), nor a lock
    # another parent thread happened to hold at the fork.
    global _engines_lock
    _engines_lock = threading.Lock()
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines_in_child)
