"""Real databases for the ledger, pseudonym and hold tests: a SQLite file per test and one PostgreSQL schema
per session (each test under its own table prefix), dropped at the end.

Test modules load this with `pytest_plugins = ["tests.ledger_fixtures"]`. The PostgreSQL URL can be changed
with HYGIENE_TEST_POSTGRES_URL; without a reachable server the PostgreSQL cases are skipped, saying why.
PYTEST_DONT_REWRITE: there are no asserts here, and the test modules import it before pytest could.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from hygiene.errors import DatabaseUnreachable
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.pseudonym import RECORD, SUBJECT, pseudonym
from hygiene.store import connection, dispose_engine, engine_for
from reliability.databases import BACKENDS

POSTGRES_URL = os.environ.get("HYGIENE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = SecretStr("test-key-for-clienti-0123456789abcdef")
CONTROLLER = "clienti"
RULE = "unsubscribe-deletion"


def subject_of(email: str) -> str:
    return pseudonym(KEY, SUBJECT, email)


def record_of(record_id: str) -> str:
    return pseudonym(KEY, RECORD, record_id)


def decision(run_id: str, number: int, **payload: object) -> EntryDraft:
    """A plain decision entry, told apart from others by `number`."""
    return EntryDraft(
        controller=CONTROLLER,
        run_id=run_id,
        kind=EntryKind.DECISION,
        rule_ref=RULE,
        record=record_of(f"contact-{number}"),
        payload={"decision": "due", "number": number, **payload},
    )


def append_from_process(url: str, prefix: str, worker: str, batches: int, size: int, start: Barrier) -> None:
    """Runs in a child process: waits until every writer is ready, then appends `batches` batches of `size`."""
    ledger = Ledger(url, prefix=prefix)
    start.wait(timeout=120)  # the other writer may take long to start on a loaded machine
    for batch in range(batches):
        ledger.append([decision(worker, batch * size + n, worker=worker) for n in range(size)])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, reached through search_path, dropped after the session."""
    schema = f"hygiene_test_{uuid.uuid4().hex[:12]}"
    try:
        with connection(engine_for(POSTGRES_URL)) as conn, conn.begin():
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except DatabaseUnreachable as exc:
        pytest.skip(str(exc))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    yield url
    dispose_engine(url)
    with connection(engine_for(POSTGRES_URL)) as conn, conn.begin():
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    dispose_engine(POSTGRES_URL)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test runs once on a SQLite file of its own and once on PostgreSQL."""
    if request.param == "postgresql":
        yield request.getfixturevalue("postgres_url")
        return
    url = f"sqlite:///{tmp_path / 'evidence.db'}"
    yield url
    dispose_engine(url)


@pytest.fixture(params=BACKENDS)
def evidence_backend(request: pytest.FixtureRequest) -> str:
    """A campaign's evidence store by name (the campaign makes its own), once each; PostgreSQL is skipped,
    saying why, when no server answers."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")
    return str(request.param)


@pytest.fixture(scope="module")
def shared_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One SQLite file for a module's property tests, whose examples each take a fresh table prefix."""
    url = f"sqlite:///{tmp_path_factory.mktemp('evidence') / 'evidence.db'}"
    yield url
    dispose_engine(url)


@pytest.fixture
def ledger_prefix() -> str:
    """Table names of this test's own, so tests sharing the PostgreSQL schema never see each other."""
    return f"t{uuid.uuid4().hex[:10]}_"


@pytest.fixture
def ledger(ledger_url: str, ledger_prefix: str) -> Ledger:
    return Ledger(ledger_url, prefix=ledger_prefix)
