"""`hygiene serve` as a real subprocess: an API only its owner can drive, no early deletion, a clean stop.

One served process (its own Prefect server on the test server's migrated database, every deployment) answers
the attacks and the API-created runs, and is then stopped with Ctrl-C; a second one is stopped with SIGTERM
(marked slow: a second start of a server takes minutes on a loaded two-core machine; `make reliability`).
"""

from __future__ import annotations

import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reliability.served_api import FUTURE, Served, alive, descendants, files_left, refused, served


@pytest.fixture(scope="module")
def server(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("served"), prefect_server) as running:
        yield running


def test_the_api_refuses_calls_without_the_auth_string_and_preflights_from_a_foreign_origin(server: Served) -> None:
    done, tried = refused(server)
    assert done == tried
    with server.client() as api:
        assert api.post("/flow_runs/filter", json={}).status_code == 200
    ui = httpx.options(
        f"{server.api}/flow_runs/filter",
        headers={"Origin": server.origin, "Access-Control-Request-Method": "POST"},
    )
    assert ui.headers["access-control-allow-origin"] == server.origin
    assert stat.S_IMODE(server.auth_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(server.auth_file.parent.stat().st_mode) == 0o700
    assert server.auth_file.read_text().strip() not in server.output()


def test_a_run_created_through_the_api_with_a_future_as_of_and_approval_deletes_nothing(server: Served) -> None:
    before = files_left(server.drive)
    forced = server.run_deployment("K2", {"as_of": FUTURE, "approved": True})
    approved = server.run_deployment("K2", {"approved": True})
    assert forced["type"] == "FAILED" and "later than now" in forced["message"]
    assert approved["type"] == "FAILED" and "approved=true is refused" in approved["message"]
    assert files_left(server.drive) == before, "a logbook inside its one-year minimum was deleted"
    dry = server.run_deployment("K2", {"as_of": FUTURE, "dry_run": True})
    assert dry["type"] == "COMPLETED"
    assert files_left(server.drive) == before


def stops_cleanly(server: Served, signum: int) -> None:
    children = descendants(server.process.pid)
    assert children, "the Prefect server is a child of hygiene serve"
    server.stop(signum, within=45)
    assert not [pid for pid in children if alive(pid)], "the Prefect server outlived hygiene serve"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.api}/health", timeout=5)
    assert "Traceback" not in server.output()
    assert "Pausing all deployments" in server.output()


def test_ctrl_c_ends_serve_and_its_server_without_a_traceback(server: Served) -> None:
    stops_cleanly(server, signal.SIGINT)


@pytest.mark.slow
def test_sigterm_ends_serve_and_its_server_without_a_traceback(prefect_server: str, tmp_path: Path) -> None:
    with served(tmp_path, prefect_server) as running:
        stops_cleanly(running, signal.SIGTERM)
