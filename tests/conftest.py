"""Test-wide settings: pseudonym keys for the five controllers, a scratch home for everything a test writes, and
Prefect's test server once per session.

No test writes into the checkout: a ledger left in `.hygiene/` would be counted by the next real report. Every
default location points into a scratch folder, and the session fails when the checkout gained a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

CONTROLLERS = ("clienti", "stressfri", "calmo", "balance", "balansekonomi")

# Fixed, public test keys: the evidence written by tests is pseudonymous under these and nothing else.
for _controller in CONTROLLERS:
    os.environ.setdefault(f"HYGIENE_KEY_{_controller.upper()}", f"test-only-key-{_controller}-7f3a9c")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# pytest swaps sys.stderr per test; Prefect's console handler would keep writing to a closed one
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

CHECKOUT = Path(__file__).resolve().parent.parent
#: where a test that forgets to choose a location writes: never the checkout
SCRATCH = Path(tempfile.mkdtemp(prefix="hygiene-tests-"))
os.environ.setdefault("HYGIENE_DATABASE_URL", f"sqlite:///{SCRATCH}/hygiene.db")
os.environ.setdefault("HYGIENE_REPORTS_DIR", str(SCRATCH / "reports"))
set_hypothesis_home_dir(SCRATCH / "hypothesis")
# a property is about values, not speed: a loaded 2-core machine must not fail an example for being slow
settings.register_profile("loaded-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("loaded-machine")

#: what tooling keeps in the checkout on purpose (the UI test's screenshot under CI included)
TOOLING = {".git", ".venv", ".mypy_cache", ".ruff_cache", "__pycache__", "artifacts"}


def checkout_files() -> set[str]:
    found: set[str] = set()
    for folder, folders, names in os.walk(CHECKOUT):
        folders[:] = [name for name in folders if name not in TOOLING]
        found |= {str(Path(folder, name).relative_to(CHECKOUT)) for name in names}
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = checkout_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a test left a file in the checkout (a worker's own session is checked by the
    controller's, which finishes after every worker)."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    if hasattr(session.config, "workerinput") or _BEFORE not in session.config.stash:
        return
    before: set[str] = session.config.stash[_BEFORE]
    written = sorted(checkout_files() - before)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"error: the tests wrote into the checkout: {', '.join(written[:10])}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[set[str]]()


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
    # every run writes its quarter's evidence report; the test's, not the checkout's, folder holds it
    monkeypatch.setenv("HYGIENE_REPORTS_DIR", str(Path(str(tmp_path)) / "reports"))
    return url
