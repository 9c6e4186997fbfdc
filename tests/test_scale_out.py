"""Scale-out on Prefect: four controllers' rules on two process workers of one work pool, a Prefect server on
PostgreSQL, the ledger on PostgreSQL, one HubSpot account's limit held across the workers by a global limit.

The scenario runs once for the module, in `make bench` (with bench/bench_scale_out.py's 20 controllers); every
server, worker and flow-run process it starts is ended when the module's fixture exits, even on failure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from bench import bench_scale_out
from bench.bench_scale_out import AS_OF, Figures, deleted_records, runs_in_ledger, scale_out, scale_out_setup, waited
from bench.cluster import POOL, ClusterError, wait_for_api
from bench.fleet import ACCOUNT, Fleet, due_contacts
from hygiene.ledger import Ledger
from hygiene.settings import Settings
from sandbox.runner import free_port
from tasks.limits import bucket, limit_name

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
CONTROLLERS = 4


@pytest.fixture(scope="module")
def scaled() -> Iterator[tuple[Fleet, Figures, Ledger]]:
    with (
        tempfile.TemporaryDirectory(prefix="hygiene-scale-") as root,
        scale_out_setup(Path(root), CONTROLLERS, workers=2, contacts=40) as (fleet, sandbox),
    ):
        figures = scale_out(fleet, sandbox, POOL, timeout=400)
        yield fleet, figures, Ledger.from_settings(Settings())


def test_every_rule_of_every_controller_completes(scaled: tuple[Fleet, Figures, Ledger]) -> None:
    _, figures, _ = scaled
    assert len(figures.runs) == 2 * CONTROLLERS + 1
    failed = [
        (run.name, run.state.message if run.state else None) for run in figures.runs if run.state_name != "Completed"
    ]
    assert not failed


def test_the_accounts_limit_holds_across_workers(scaled: tuple[Fleet, Figures, Ledger]) -> None:
    _, figures, _ = scaled
    assert figures.answered_429 == 0
    assert figures.busiest[0] <= figures.busiest[1]
    assert figures.busiest_search[0] <= figures.busiest_search[1]
    name = limit_name("hubspot", ACCOUNT, 100, 10.0)
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
    assert (limit.limit, limit.slot_decay_per_second) == bucket(100, 10.0)


def test_the_ledger_is_one_chain_with_every_run_once(scaled: tuple[Fleet, Figures, Ledger]) -> None:
    _, figures, ledger = scaled
    assert figures.ledger_ok
    per_run = runs_in_ledger(ledger)
    assert len(per_run) == 2 * len(figures.runs), "a started and a finished entry for each run"
    assert set(per_run.values()) == {1}


def test_every_due_record_is_deleted_exactly_once(scaled: tuple[Fleet, Figures, Ledger]) -> None:
    fleet, _, ledger = scaled
    deletions = deleted_records(ledger)
    assert set(deletions.values()) == {1}
    due_logbooks = sum(
        1 for m in fleet.members for f in m.folders.files if f.kind == "logbook" and f.dated and is_due(f.dated)
    )
    due_crm = sum(len(due_contacts(member, AS_OF)) for member in fleet.members)
    assert len(deletions) == due_logbooks + due_crm


def test_a_rule_triggered_twice_runs_once_after_the_other(scaled: tuple[Fleet, Figures, Ledger]) -> None:
    _, figures, _ = scaled
    first, second = figures.doubled
    assert waited(first, second), (first.end_time, second.start_time)


def test_an_unreachable_prefect_api_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    with pytest.raises(ClusterError, match="is not answering"):
        wait_for_api(url, timeout=0.5)
    monkeypatch.setattr("sys.argv", ["bench_scale_out", "--api-url", url])
    assert bench_scale_out.main() == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"the Prefect API at {url} is not answering" in err


def is_due(ended: date) -> bool:
    """K2: an archived logbook is due a year after its course ended."""
    return ended <= AS_OF.date().replace(year=AS_OF.year - 1)
