"""Runs every campaign on both backends and gathers the figures the report prints."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hygiene.keys import use_public_keys
from reliability.badinput import (
    CONTROLLERS,
    Verdict,
    run_cli,
    run_cli_corpus,
    run_export_corpus,
    run_policy_corpus,
    run_vendor_corpus,
)
from reliability.crash import CrashResult, attestation_crash, folder_crash, ledger_write_crash, mailchimp_crash
from reliability.databases import BACKENDS, fresh_database
from reliability.faults import FaultResult, fault_campaign
from reliability.folder_safety import RaceAttempt, StallCase, race_campaign, stall_campaign
from reliability.forgery import ForgeryResult, forgery_campaign
from reliability.isolation import IsolationCheck, isolation_checks
from reliability.privacy import PrivacyScan, demo_scan
from reliability.served_api import ServedApiResult, served_api_campaign
from reliability.wrong_subject import WrongSubjectResult, wrong_subject_run

CrashScenario = Callable[[str, str, int, Path], CrashResult]
SCENARIOS: tuple[CrashScenario, ...] = (folder_crash, mailchimp_crash, attestation_crash, ledger_write_crash)


@dataclass
class Figures:
    crashes: list[CrashResult] = field(default_factory=list)
    faults: list[FaultResult] = field(default_factory=list)
    bad_input: list[Verdict] = field(default_factory=list)
    privacy: list[PrivacyScan] = field(default_factory=list)
    isolation: list[IsolationCheck] = field(default_factory=list)
    wrong_subject: list[WrongSubjectResult] = field(default_factory=list)
    races: list[RaceAttempt] = field(default_factory=list)
    stalls: list[StallCase] = field(default_factory=list)
    forgeries: list[ForgeryResult] = field(default_factory=list)
    served_api: ServedApiResult | None = None
    failures: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(figure, on SQLite, on PostgreSQL, what it must be)."""
        return [
            ("crash runs (of them SIGKILLed)", *self._per_backend(self._runs), "-"),
            *[(f"  {family}", *self._per_backend(self._runs_of(family)), "-") for family in self._families()],
            ("premature deletions", *self._crash_sum("premature"), "0"),
            ("records left due or overdue", *self._crash_sum("overdue_left"), "0"),
            ("lost evidence entries", *self._crash_sum("lost"), "0"),
            ("duplicated evidence entries", *self._crash_sum("duplicated"), "0"),
            ("attester answers left in run inputs", *self._crash_sum("answers_left"), "0"),
            ("chains verified", *self._per_backend(self._chains), "all"),
            ("chain forgeries detected", *self._per_backend(self._forgeries_detected), "all"),
            ("fault cases (runs to complete)", *self._per_backend(self._fault_runs), "-"),
            ("fault-run end-state diffs", *self._fault_sum(lambda f: int(f.state_differs)), "0"),
            ("vendor errors escaping as tracebacks", *self._fault_sum(lambda f: len(f.unhandled)), "0"),
            ("staged faults never met", *self._fault_sum(lambda f: f.faults_left), "0"),
            ("bad-input cases refused correctly", self._refused(), "(SQLite)", "all"),
            *[(f"  {kind}", self._refused(kind), "(SQLite)", "all") for kind in ("policy", "cli", "export", "vendor")],
            ("privacy hits, vendor-run ledgers", *self._fault_sum(lambda f: f.privacy_hits), "0"),
            ("privacy hits, demo (ledger, Prefect, output)", self._privacy("personal_hits"), "(SQLite)", "0"),
            *[(f"  {p.where}: {p.scanned} scanned", str(p.personal_hits), "(SQLite)", "0") for p in self.privacy],
            ("secrets printed or stored", self._privacy("secret_hits"), "(SQLite)", "0"),
            ("isolation checks passed", *self._per_backend(self._isolated), "all"),
            ("wrong-subject runs (decoys)", *self._per_backend(self._decoys), "-"),
            ("wrong-subject deletions", *self._wrong_sum(lambda w: w.wrong_deletions), "0"),
            ("wrong-subject exports", *self._wrong_sum(lambda w: w.wrong_exports), "0"),
            ("the person's files missed", *self._wrong_sum(lambda w: w.missed), "0"),
            ("non-addresses accepted as an email", *self._wrong_sum(lambda w: w.non_addresses_accepted), "0"),
            ("race attempts (caught)", f"{sum(r.caught for r in self.races)}/{len(self.races)}", "(SQLite)", "all"),
            (
                f"stalls (of {len(self.stalls)} hostile inputs)",
                str(sum(c.stalled for c in self.stalls)),
                "(SQLite)",
                "0",
            ),
            *self._served_api_rows(),
        ]

    def _served_api_rows(self) -> list[tuple[str, str, str, str]]:
        api = self.served_api
        if api is None:
            return []
        return [
            ("unauthenticated API calls refused", f"{api.refused}/{api.tried}", "(SQLite)", "all"),
            (
                f"early deletions ({api.early_runs} of the forced runs not refused)",
                str(api.early_deletions),
                "(SQLite)",
                "0",
            ),
        ]

    def all_clear(self) -> bool:
        return not self.failures

    def check(self) -> None:
        """Name every figure that is not what it must be."""
        self.failures += [f"crash {c}" for c in self.crashes if crash_went_wrong(c)]
        self.failures += [
            f"fault {f}" for f in self.faults if f.state_differs or f.unhandled or f.faults_left or f.privacy_hits
        ]
        self.failures += [f"bad input {v.case}: {v.why}" for v in self.bad_input if not v.refused_correctly]
        self.failures += [f"privacy {p}" for p in self.privacy if p.personal_hits or p.secret_hits]
        self.failures += [f"isolation {i}" for i in self.isolation if not i.ok]
        self.failures += [f"wrong subject {w}" for w in self.wrong_subject if w.went_wrong]
        self.failures += [f"race {r}" for r in self.races if not r.caught]
        self.failures += [f"stall {c}" for c in self.stalls if c.stalled or not c.correct]
        self.failures += [f"forgery not detected {f}" for f in self.forgeries if not f.detected]
        api = self.served_api
        if api is not None and (api.refused < api.tried or api.early_runs or api.early_deletions):
            self.failures.append(f"served API {api}")
        if api is not None and api.traceback_on_stop:
            self.failures.append("served API: hygiene serve printed a traceback")

    def _per_backend(self, figure: Callable[[str], str]) -> tuple[str, str]:
        lite, pg = (figure(backend) for backend in BACKENDS)
        return lite, pg

    def _runs(self, backend: str, family: str = "") -> str:
        mine = [c for c in self.crashes if c.backend == backend and c.scenario.startswith(family)]
        return f"{len(mine)} ({sum(c.kills > 0 for c in mine)})"

    def _families(self) -> list[str]:
        """The scenarios by their first word: folder (K1 and K2), mailchimp, attestation, ledger."""
        return sorted({crash.scenario.split()[0] for crash in self.crashes})

    def _runs_of(self, family: str) -> Callable[[str], str]:
        return lambda backend: self._runs(backend, family)

    def _chains(self, backend: str) -> str:
        mine = [c for c in self.crashes if c.backend == backend]
        return f"{sum(c.chain_ok for c in mine)}/{len(mine)}"

    def _crash_sum(self, name: str) -> tuple[str, str]:
        return self._per_backend(lambda b: str(sum(getattr(c, name) for c in self.crashes if c.backend == b)))

    def _fault_runs(self, backend: str) -> str:
        mine = [f for f in self.faults if f.backend == backend]
        return f"{len(mine)} ({sum(f.runs for f in mine)})"

    def _fault_sum(self, figure: Callable[[FaultResult], int]) -> tuple[str, str]:
        return self._per_backend(lambda b: str(sum(figure(f) for f in self.faults if f.backend == b)))

    def _refused(self, kind: str = "") -> str:
        """Of the cases whose name starts with `kind` (policy, cli, export, vendor): refused correctly / all."""
        mine = [v for v in self.bad_input if v.case.startswith(kind)]
        return f"{sum(v.refused_correctly for v in mine)}/{len(mine)}"

    def _privacy(self, name: str) -> str:
        return str(sum(getattr(p, name) for p in self.privacy)) if self.privacy else "skipped"

    def _decoys(self, backend: str) -> str:
        mine = [w for w in self.wrong_subject if w.backend == backend]
        return f"{len(mine)} ({sum(w.decoys for w in mine)})"

    def _wrong_sum(self, figure: Callable[[WrongSubjectResult], int]) -> tuple[str, str]:
        return self._per_backend(lambda b: str(sum(figure(w) for w in self.wrong_subject if w.backend == b)))

    def _forgeries_detected(self, backend: str) -> str:
        mine = [f for f in self.forgeries if f.backend == backend]
        return f"{sum(f.detected for f in mine)}/{len(mine)}"

    def _isolated(self, backend: str) -> str:
        mine = [i for i in self.isolation if i.backend == backend]
        return f"{sum(i.ok for i in mine)}/{len(mine)}"


def crash_went_wrong(crash: CrashResult) -> bool:
    wrong = crash.premature or crash.overdue_left or crash.lost or crash.duplicated or crash.answers_left
    return bool(wrong or not crash.chain_ok)


def use_campaign_keys() -> None:
    """Throwaway pseudonym keys for the five controllers and the ledger, unless the environment sets them."""
    use_public_keys("reliability", CONTROLLERS)


def run_all(scratch: Path, seeds: Iterable[int], fault_seeds: Iterable[int], demo: bool) -> Figures:
    use_campaign_keys()
    figures = Figures()
    for backend in BACKENDS:
        figures.crashes += crash_campaign(backend, seeds, scratch)
        for seed in fault_seeds:
            figures.faults += fault_campaign(backend, seed, scratch)
        figures.isolation += isolation_campaign(backend, scratch)
        figures.wrong_subject += wrong_subject_campaign(backend, seeds, scratch)
        with fresh_database(backend, scratch) as url:
            figures.forgeries += forgery_campaign(backend, url)
    figures.bad_input = run_cli_corpus(scratch) + run_export_corpus(scratch) + run_policy_corpus(scratch)
    figures.bad_input += run_vendor_corpus(scratch)
    figures.races = race_campaign(list(seeds), scratch)
    figures.stalls = stall_campaign(scratch)
    figures.served_api = served_api_campaign(scratch)
    if demo:
        figures.privacy, failed = demo_scan(scratch)
        figures.failures += [f"the demo exited 1: {failed}"] if failed else []
    figures.check()
    return figures


def crash_campaign(backend: str, seeds: Iterable[int], scratch: Path) -> list[CrashResult]:
    """Every scenario at every seed, each on an empty store of its own so seeds cannot mask each other."""
    results = []
    for seed in seeds:
        for scenario in SCENARIOS:
            with fresh_database(backend, scratch) as url:
                results.append(scenario(backend, url, seed, scratch))
    return results


def wrong_subject_campaign(backend: str, seeds: Iterable[int], scratch: Path) -> list[WrongSubjectResult]:
    """One person's export and erasure among decoys per seed, each on an empty store of its own."""
    results = []
    for seed in seeds:
        with fresh_database(backend, scratch) as url:
            results.append(wrong_subject_run(backend, url, seed, scratch))
    return results


def isolation_campaign(backend: str, scratch: Path) -> list[IsolationCheck]:
    with fresh_database(backend, scratch) as url:
        return isolation_checks(backend, url, lambda controller, email: _prove(url, controller, email))


def _prove(url: str, controller: str, email: str) -> dict[str, object]:
    saved = os.environ.get("HYGIENE_DATABASE_URL")
    os.environ["HYGIENE_DATABASE_URL"] = url
    try:
        code, out, err = run_cli(["ledger", "prove", "--controller", controller, "--email", email, "--json"])
    finally:
        if saved is None:
            os.environ.pop("HYGIENE_DATABASE_URL")
        else:
            os.environ["HYGIENE_DATABASE_URL"] = saved
    if code != 0:
        raise RuntimeError(f"ledger prove failed: {err.strip()}")
    proof: dict[str, object] = json.loads(out)
    return proof
