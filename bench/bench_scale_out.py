"""Scale-out: many controllers' rules on two process workers, one HubSpot account's limit held across them.

    python -m bench.bench_scale_out [--controllers 20] [--workers 2] [--contacts 30] [--api-url URL]

A Prefect server on a fresh PostgreSQL database, a process work pool and its workers (bench/cluster.py); the
fleet of synthetic controllers (bench/fleet.py), each with a deployment per rule (K2 over its own folder tree,
H1 over the HubSpot portal they all share); the ledger on a fresh PostgreSQL schema. Every rule is triggered at
once, the first controller's K2 twice. Reported: runs, wall time, the busiest window of calls at the emulator
against the account's limit, 429s answered, the ledger's chain, and that the doubled run waited its turn.

A rule's deployment has a concurrency limit of 1 with collision strategy ENQUEUE: a second run of the same rule
waits, in state AwaitingConcurrencySlot, until the first has finished, so nothing is planned or deleted twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy, FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from bench.bench_ledger import POSTGRES_URL, postgres_url
from bench.cluster import POOL, Cluster, ClusterError, running_cluster, wait_for_api
from bench.fleet import Fleet, aim, build_fleet
from flows.enforce import enforce_rule
from hygiene.ledger import EntryKind, Ledger
from hygiene.settings import Settings
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.state import Answer

REPO = Path(__file__).resolve().parents[1]
AS_OF = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
RULES = ("K2", "H1")
#: HubSpot's documented limits, as the emulator enforces them: 100 calls per rolling 10 s; search 5 a second
ACCOUNT_LIMIT = (100, 10.0)
SEARCH_LIMIT = (5, 1.0)
SEARCH = "/search"


@dataclass(frozen=True)
class Figures:
    runs: list[FlowRun]
    wall_seconds: float
    hubspot_answers: list[Answer]
    #: (calls in the busiest window, the limit) for the account's limit and for search
    busiest: tuple[int, int]
    busiest_search: tuple[int, int]
    answered_429: int
    ledger_ok: bool
    ledger_entries: int
    #: the two runs of the doubled rule, in the order they started
    doubled: tuple[FlowRun, FlowRun]

    def as_dict(self) -> dict[str, object]:
        return {
            "runs": len(self.runs),
            "completed": sum(run.state is not None and run.state.is_completed() for run in self.runs),
            "wall_seconds": round(self.wall_seconds, 1),
            "hubspot_calls": len(self.hubspot_answers),
            "busiest_10s_window": f"{self.busiest[0]} of {self.busiest[1]}",
            "busiest_1s_search_window": f"{self.busiest_search[0]} of {self.busiest_search[1]}",
            "answered_429": self.answered_429,
            "ledger_ok": self.ledger_ok,
            "ledger_entries": self.ledger_entries,
            "doubled_run_waited": waited(*self.doubled),
        }


def deployment_name(controller: str, rule_ref: str) -> str:
    return f"{controller}-{rule_ref.lower()}"


def deploy_rules(fleet: Fleet, pool: str) -> None:
    """One deployment per controller and rule, at most one run at a time, later runs queued."""
    flow = enforce_rule.from_source(source=str(REPO), entrypoint="flows/enforce.py:enforce_rule")
    assert isinstance(flow, Flow), "from_source is synchronous in a synchronous caller"
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    for controller in fleet.controllers:
        for rule_ref in RULES:
            flow.deploy(
                name=deployment_name(controller, rule_ref),
                work_pool_name=pool,
                parameters={"controller": controller, "rule_ref": rule_ref, "as_of": AS_OF.isoformat()},
                concurrency_limit=one_at_a_time,
                build=False,
                push=False,
                print_next_steps=False,
                ignore_warnings=True,
            )


def trigger(names: Sequence[str]) -> list[UUID]:
    """Start a run of each deployment without waiting for it (a name twice: two runs)."""
    return [run_deployment(f"enforce-rule/{name}", timeout=0).id for name in names]  # type: ignore[union-attr]


def wait_for(run_ids: Sequence[UUID], timeout: float) -> list[FlowRun]:
    """The runs once every one has reached a final state; a run still going at `timeout` fails the bench."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = [client.read_flow_run(run_id) for run_id in run_ids]
            if all(run.state is not None and run.state.is_final() for run in runs):
                return runs
            if time.monotonic() > deadline:
                going = Counter(run.state_name for run in runs)
                raise TimeoutError(f"runs not finished after {timeout:.0f} s: {dict(going)}")
            time.sleep(1)


def waited(first: FlowRun, second: FlowRun) -> bool:
    """The later run started only once the earlier one had ended."""
    return first.end_time is not None and second.start_time is not None and second.start_time >= first.end_time


def busiest_window(arrivals: Sequence[datetime], seconds: float) -> int:
    """The most calls that arrived within any rolling window of `seconds`."""
    ordered, most, start = sorted(arrivals), 0, 0
    for end, arrived in enumerate(ordered):
        while arrived - ordered[start] >= timedelta(seconds=seconds):
            start += 1
        most = max(most, end - start + 1)
    return most


def hubspot_figures(answers: list[Answer]) -> tuple[tuple[int, int], tuple[int, int], int]:
    searches = [a.arrived for a in answers if a.endpoint.endswith(SEARCH)]
    others = [a.arrived for a in answers if not a.endpoint.endswith(SEARCH)]
    return (
        (busiest_window(others, ACCOUNT_LIMIT[1]), ACCOUNT_LIMIT[0]),
        (busiest_window(searches, SEARCH_LIMIT[1]), SEARCH_LIMIT[0]),
        sum(a.status == 429 for a in answers),
    )


def deleted_records(ledger: Ledger) -> Counter[str]:
    """How often each record's deletion is recorded as done: once each, or something was done twice."""
    return Counter(
        str(entry.record)
        for entry in ledger.entries(kinds=[EntryKind.OUTCOME])
        if str(entry.payload.get("result", "")).startswith("deleted")
    )


def runs_in_ledger(ledger: Ledger) -> Counter[tuple[str, str]]:
    """Started and finished entries per ledger run: exactly one of each for every run."""
    kinds = [EntryKind.RUN_STARTED, EntryKind.RUN_FINISHED]
    return Counter((entry.run_id, entry.kind.value) for entry in ledger.entries(kinds=kinds))


@contextmanager
def scale_out_setup(
    root: Path, controllers: int, workers: int, contacts: int, api_url: str | None = None
) -> Iterator[tuple[Fleet, RunningSandbox]]:
    """Sandbox, fleet and ledger schema; a cluster of our own unless `api_url` names a running server."""
    if api_url is not None:
        wait_for_api(api_url, timeout=5)
    with ExitStack() as stack:
        sandbox = stack.enter_context(running_sandbox())
        sandbox.state.enforce_rate_limits = False  # seeding is not what is measured
        fleet = build_fleet(root, controllers, sandbox, AS_OF, contacts)
        database_url = stack.enter_context(postgres_url(POSTGRES_URL))
        env = {**fleet.env, "HYGIENE_DATABASE_URL": database_url}
        if api_url is None:
            cluster: Cluster = stack.enter_context(running_cluster(workers, env))
            api_url = cluster.api_url
        stack.enter_context(aim(env))
        stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))
        yield Fleet(fleet.policies, fleet.members, env), sandbox


def scale_out(fleet: Fleet, sandbox: RunningSandbox, pool: str, timeout: float) -> Figures:
    """Deploy, trigger every rule at once (the first controller's K2 twice), wait, and measure."""
    deploy_rules(fleet, pool)
    sandbox.state.stats.reset()
    sandbox.state.enforce_rate_limits = True
    doubled = deployment_name(fleet.controllers[0], "K2")
    names = [doubled, *(deployment_name(c, r) for c in fleet.controllers for r in RULES)]
    started = time.monotonic()
    runs = wait_for(trigger(names), timeout)
    wall = time.monotonic() - started
    answers = sandbox.state.stats.answers("hubspot")
    busiest, busiest_search, answered_429 = hubspot_figures(answers)
    ledger = Ledger.from_settings(Settings())
    report = ledger.verify()
    pair = sorted(
        (run for run in runs if run.deployment_id == runs[0].deployment_id),
        key=lambda run: run.start_time or AS_OF,
    )
    return Figures(
        runs, wall, answers, busiest, busiest_search, answered_429, report.ok, report.count, (pair[0], pair[1])
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--controllers", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--contacts", type=int, default=30, help="HubSpot contacts per controller")
    parser.add_argument("--api-url", help="a running Prefect server with the work pool hygiene-scale and workers")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="hygiene-scale-") as root,
            scale_out_setup(Path(root), args.controllers, args.workers, args.contacts, args.api_url) as (fleet, sb),
        ):
            figures = scale_out(fleet, sb, POOL, args.timeout)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(figures.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
