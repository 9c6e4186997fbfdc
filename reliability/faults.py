"""Fault campaign: each vendor family's rules under staged vendor faults, against a fault-free run.

Clienti's C1 runs on Mailchimp and HubSpot, Stressfri's S2 and S8 on Gmail. Each case seeds the family's tenant
into a fresh emulator, stages one kind of fault (429 storms, 5xx bursts, slow answers, dropped connections,
batch operations that fail), and runs the rules until they complete: a storm longer than the connector's retries
stops a run with a one-line error, a deletion that failed is left to the next run, and the scheduler's next run
is the rerun. The end state must equal the fault-free run's: the same records left, and every record's last
outcome the same.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hygiene.connector import ConnectorError
from hygiene.ledger import EntryKind, Ledger
from reliability.databases import fresh_database
from reliability.tenants import GMAIL_RETRIES, GMAIL_TIMEOUT, Tenant, TenantFactory, clienti, stressfri
from sandbox.state import Fault, FaultPlan
from tests.privacy import database_rows, hits

#: runs allowed per case: a fault that outlasts one run's retries must be over by the next
MAX_RUNS = 3
#: a Gmail answer this slow has been abandoned by the connector, which retries; the emulator still serves it
_SLOW = GMAIL_TIMEOUT * 1.5


@dataclass(frozen=True)
class EndState:
    held: frozenset[str]
    #: each record's last outcome, counted by system and result: a failed deletion the rerun finished is deleted
    outcomes: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class FaultResult:
    case: str
    backend: str
    seed: int
    runs: int
    state_differs: bool
    #: errors that escaped as something other than a one-line ConnectorError (a traceback for the user)
    unhandled: tuple[str, ...]
    #: staged faults the runs never met: a case that injected nothing proves nothing
    faults_left: int
    #: seeded emails, names and national ids found in the ledger the runs wrote
    privacy_hits: int


FaultStager = Callable[[random.Random], list[tuple[str, Fault]]]


@dataclass(frozen=True)
class Family:
    """Vendors whose faults are staged against one tenant: its seeding and its rule steps are the family's."""

    tenant: TenantFactory
    cases: dict[str, FaultStager]


MAILCHIMP_HUBSPOT_CASES: dict[str, FaultStager] = {
    "429 storm, mailchimp": lambda rng: [("mailchimp", Fault(status=429, remaining=rng.randint(2, 5)))],
    "429 storm, hubspot": lambda rng: [("hubspot", Fault(status=429, remaining=rng.randint(2, 5)))],
    "429 storm past the retries": lambda rng: [("mailchimp", Fault(status=429, remaining=rng.randint(7, 12)))],
    "5xx burst, mailchimp": lambda rng: [("mailchimp", Fault(status=rng.choice((500, 502, 503)), remaining=3))],
    "5xx burst, hubspot": lambda rng: [("hubspot", Fault(status=rng.choice((500, 502, 503, 504)), remaining=3))],
    "slow answers": lambda rng: [
        (vendor, Fault(delay_seconds=0.2, remaining=3)) for vendor in ("mailchimp", "hubspot")
    ],
    "dropped connections, mailchimp": lambda rng: [("mailchimp", Fault(drop=True, remaining=rng.randint(1, 3)))],
    "dropped connections, hubspot": lambda rng: [("hubspot", Fault(drop=True, remaining=rng.randint(1, 3)))],
    "batch operations fail": lambda rng: [
        ("mailchimp/batch", Fault(status=rng.choice((429, 500, 503)), remaining=rng.randint(1, 4)))
    ],
}

#: where a Gmail fault lands: labels.list, or messages.list (and batchDelete, when the listing has not met it)
_GMAIL_PATHS = ("/labels", "/messages")
GMAIL_CASES: dict[str, FaultStager] = {
    "429 rateLimitExceeded storm, gmail": lambda rng: [
        ("gmail", Fault(status=429, remaining=rng.randint(2, GMAIL_RETRIES - 1), path_contains="/messages"))
    ],
    "403 userRateLimitExceeded storm on batchDelete, gmail": lambda rng: [
        ("gmail", Fault(status=403, remaining=rng.randint(2, GMAIL_RETRIES - 1), path_contains="batchDelete"))
    ],
    "429 storm past the retries, gmail": lambda rng: [
        ("gmail", Fault(status=429, remaining=rng.randint(GMAIL_RETRIES + 1, 2 * GMAIL_RETRIES)))
    ],
    "5xx burst, gmail": lambda rng: [
        ("gmail", Fault(status=rng.choice((500, 502, 503, 504)), remaining=3, path_contains=rng.choice(_GMAIL_PATHS)))
    ],
    "slow answers past the timeout, gmail": lambda rng: [
        ("gmail", Fault(delay_seconds=_SLOW, remaining=1, path_contains="/labels")),
        ("gmail", Fault(delay_seconds=_SLOW, remaining=rng.randint(1, 2), path_contains="batchDelete")),
    ],
    "dropped connections, gmail": lambda rng: [
        ("gmail", Fault(drop=True, remaining=rng.randint(1, 2), path_contains=rng.choice(_GMAIL_PATHS))),
        ("gmail", Fault(drop=True, remaining=rng.randint(1, 2), path_contains="batchDelete")),
    ],
    "batchDelete fails half-way, gmail": lambda rng: [
        ("gmail/batch", Fault(status=rng.choice((500, 503)), remaining=rng.randint(1, GMAIL_RETRIES - 1)))
    ],
    "batchDelete calls fail past the retries, gmail": lambda rng: [
        # the first call passes, the next one fails every attempt: its mail is left to the rerun
        ("gmail", Fault(remaining=1, path_contains="batchDelete")),
        ("gmail", Fault(status=rng.choice((500, 503)), remaining=GMAIL_RETRIES, path_contains="batchDelete")),
    ],
}

FAMILIES = (Family(clienti, MAILCHIMP_HUBSPOT_CASES), Family(stressfri, GMAIL_CASES))
CASES: dict[str, FaultStager] = {name: stage for family in FAMILIES for name, stage in family.cases.items()}


@dataclass(frozen=True)
class Completion:
    state: EndState
    runs: int
    unhandled: tuple[str, ...]
    faults_left: int
    privacy_hits: int


def fault_campaign(backend: str, seed: int, scratch: Path, cases: list[str] | None = None) -> list[FaultResult]:
    """Per family, the fault-free run and each fault case on a fresh, identically seeded tenant and ledger."""
    wanted = cases or list(CASES)
    unknown = set(wanted) - set(CASES)
    if unknown:
        raise ValueError(f"no fault case named {sorted(unknown)}")
    results: list[FaultResult] = []
    for family in FAMILIES:
        chosen = [case for case in wanted if case in family.cases]
        if chosen:
            results += _family_campaign(family, chosen, backend, seed, scratch)
    return results


def _family_campaign(family: Family, cases: list[str], backend: str, seed: int, scratch: Path) -> list[FaultResult]:
    baseline = _one_case(family.tenant, lambda rng: [], backend, seed, scratch)
    assert baseline.runs == 1 and not baseline.unhandled, "the fault-free run completes at once"
    results = []
    for case in cases:
        faulted = _one_case(family.tenant, family.cases[case], backend, seed, scratch)
        results.append(
            FaultResult(
                case,
                backend,
                seed,
                faulted.runs,
                faulted.state != baseline.state,
                faulted.unhandled,
                faulted.faults_left,
                faulted.privacy_hits,
            )
        )
    return results


def _one_case(tenant_for: TenantFactory, stage: FaultStager, backend: str, seed: int, scratch: Path) -> Completion:
    with tenant_for(seed, scratch) as tenant, fresh_database(backend, scratch) as url:
        for vendor, fault in stage(random.Random(seed)):
            tenant.faults.stage(vendor, fault)
        ledger = Ledger(url)
        runs, unhandled, complete = run_until_complete(tenant, ledger)
        state = end_state(tenant, ledger) if complete else EndState(frozenset(), ())
        found = hits(database_rows(url), tenant.needles)
        return Completion(state, runs, unhandled, _faults_left(tenant.faults), len(found))


def run_until_complete(tenant: Tenant, ledger: Ledger) -> tuple[int, tuple[str, ...], bool]:
    """Rerun until every deletion is proven, at most MAX_RUNS times: (runs made, unhandled errors, completed)."""
    unhandled: list[str] = []
    for runs in range(1, MAX_RUNS + 1):
        try:
            if tenant.run(ledger):
                return runs, tuple(unhandled), True
        except ConnectorError as error:
            if "\n" in str(error):
                unhandled.append(f"a ConnectorError of {len(str(error).splitlines())} lines")
        except Exception as error:  # measured, not hidden: each one is a traceback a user would have seen
            unhandled.append(f"{type(error).__module__}.{type(error).__name__}")
    return MAX_RUNS, tuple(unhandled), False


def end_state(tenant: Tenant, ledger: Ledger) -> EndState:
    last: dict[tuple[str, str | None], str] = {}
    for entry in ledger.entries(controller=tenant.controller, kinds=[EntryKind.OUTCOME]):
        system = str(entry.payload.get("system"))
        last[(system, entry.record)] = f"{system}:{entry.payload.get('result')}"
    return EndState(tenant.held(), tuple(sorted(Counter(last.values()).items())))


def _faults_left(plan: FaultPlan) -> int:
    return sum(fault.remaining for faults in plan.faults.values() for fault in faults)
