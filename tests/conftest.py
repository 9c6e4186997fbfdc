"""Test-wide settings: pseudonym keys for the five controllers, and Prefect's test server once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hygiene.keys import use_public_keys

CONTROLLERS = ("clienti", "stressfri", "calmo", "balance", "balansekonomi")

# Fixed, public test keys (pseudonyms and the ledger's chain): the evidence written by tests is pseudonymous
# under these and nothing else.
use_public_keys("test", CONTROLLERS)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# pytest swaps sys.stderr per test; Prefect's console handler would keep writing to a closed one
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """Prefect's temporary test server with its own SQLite database; yields the database URL to scan."""
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_DATABASE_CONNECTION_URL.value())


@pytest.fixture
def database_url(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite ledger per test, set where every part of the product reads it."""
    url = f"sqlite:///{tmp_path}/hygiene.db"
    monkeypatch.setenv("HYGIENE_DATABASE_URL", url)
    return url
