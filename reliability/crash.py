"""Crash campaign: SIGKILL at seeded random points of real runs, then a rerun, then the ground truth.

A run is forked (the parent has already imported everything, so a child starts in milliseconds) and dies
either by its own hand at a seeded step (`DiesAtCall`, or the Mailchimp SDK's n-th HTTP call) or by the
parent's SIGKILL after a seeded delay. A seed may crash its run twice before the clean rerun. Afterwards
the figures that must be zero: records deleted before their not_before, records left due or overdue, lost
or duplicated evidence, and a chain that does not verify.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from hygiene.checklist import Checklist, settled_records
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.policy import Policy, Rule
from hygiene.pseudonym import RECORD, normalise, pseudonym
from hygiene.store import dispose_engine
from hygiene.windows import window_for
from integrations.registry import connector_for, mailchimp_connector
from integrations.webnode import WebnodeConnector
from reliability import steps
from reliability.evidence import check_attestations, check_evidence
from reliability.steps import DiesAtCall, Dying, DyingLedger, FileInbox, Person, enforce
from sandbox.seed_files import (
    ExportFormat,
    FolderManifest,
    SeededSubmission,
    calmo_folder,
    webnode_submissions,
    write_webnode_export,
)
from tests.vendor_fixtures import AS_OF as VENDOR_AS_OF
from tests.vendor_fixtures import CLIENTI, aim_at, seeded_sandbox

AS_OF = datetime.fromisoformat("2026-11-23T09:00:00+01:00")
#: the child is killed by the parent within this many seconds of its start (when the seed picks the timer)
_TIMER_SPAN = 0.4
_CHILD_TIMEOUT = 120
_FORK = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class CrashResult:
    scenario: str
    backend: str
    seed: int
    kills: int
    premature: int
    overdue_left: int
    lost: int
    duplicated: int
    chain_ok: bool
    #: answers still in the run inputs after recovery: an attester's name left in the orchestrator
    answers_left: int = 0


@dataclass(frozen=True)
class Kill:
    """How one crashed attempt dies: at its own `fatal_call`, or by the parent after `delay` seconds."""

    fatal_call: int
    delay: float | None

    @classmethod
    def drawn(cls, rng: random.Random, steps: int) -> Kill:
        if rng.random() < 0.5:
            return cls(fatal_call=rng.randint(1, max(steps, 1)), delay=None)
        return cls(fatal_call=0, delay=rng.uniform(0, _TIMER_SPAN))


def run_killed(target: Callable[..., None], kill: Kill, *args: Any) -> bool:
    """Fork `target(*args, fatal_call)`, kill it as `kill` says; True when it died by SIGKILL."""
    child = _FORK.Process(target=target, args=(*args, kill.fatal_call), daemon=True)
    child.start()
    child.join(kill.delay if kill.delay is not None else _CHILD_TIMEOUT)
    if child.is_alive() and kill.delay is not None:
        os.kill(child.pid or 0, signal.SIGKILL)
    child.join(_CHILD_TIMEOUT)
    if child.exitcode is None:
        raise RuntimeError("a campaign child did not end")
    return child.exitcode == -signal.SIGKILL


# ---- folders: Calmo's invoices (K1) and client logbooks (K2) -------------------------------------------------

_FOLDER_RULES = {
    "K1": ("invoices", "invoice", "HYGIENE_CALMO_INVOICES", "fakturaer"),
    "K2": ("logbooks", "logbook", "HYGIENE_CALMO_LOGBOOKS", "klientlogboeger"),
}


def folder_truth(policy: Policy, ref: str, manifest: FolderManifest, kind: str) -> tuple[set[str], set[str]]:
    """(files to keep, files due or overdue) from each file's window, worked out without the planner."""
    rule = policy.rule(ref)
    assert rule is not None
    keep: set[str] = set()
    due: set[str] = set()
    for file in manifest.of_kind(kind):
        assert file.dated is not None
        trigger = datetime(file.dated.year, file.dated.month, file.dated.day, tzinfo=policy.zone)
        window = window_for(policy, rule, trigger)
        (keep if window.not_before is not None and window.not_before >= AS_OF else due).add(file.relative)
    return keep, due


def _folder_child(url: str, ref: str, batch_size: int, fatal_call: int) -> None:
    policy = load_policy(policies_dir(), "calmo")
    system = _FOLDER_RULES[ref][0]
    connector = DiesAtCall(connector_for(policy, system), fatal_call)
    enforce(policy, ref, system, connector, Ledger(url), AS_OF, batch_size)


def folder_crash(backend: str, url: str, seed: int, scratch: Path) -> CrashResult:
    """Seed a Calmo drive, crash one or two runs of K1 or K2 on it, rerun, and compare with the truth."""
    rng = random.Random(seed)
    ref = rng.choice(sorted(_FOLDER_RULES))
    system, kind, variable, folder = _FOLDER_RULES[ref]
    manifest = calmo_folder(scratch / f"drive-{backend}-{seed}", seed=seed, now=AS_OF, invoices=40, logbooks=24)
    os.environ[variable] = str(manifest.root / folder)
    policy = load_policy(policies_dir(), "calmo")
    keep, due = folder_truth(policy, ref, manifest, kind)
    batch_size = rng.choice((1, 3, 7, 500))
    kills = _crash_rounds(rng, _folder_child, url, len(manifest.of_kind(kind)) + 2 * len(due), ref, batch_size)
    ledger = Ledger(url)
    enforce(policy, ref, system, connector_for(policy, system), ledger, AS_OF, batch_size)
    present = {f.relative for f in manifest.of_kind(kind) if (manifest.root / f.relative).exists()}
    evidence = check_evidence(ledger, "calmo", len(due - present))
    dispose_engine(url)
    return CrashResult(
        f"folder {ref}",
        backend,
        seed,
        kills,
        len(keep - present),
        len(due & present),
        evidence.lost,
        evidence.duplicated,
        evidence.chain_ok,
    )


def _crash_rounds(
    rng: random.Random,
    child: Callable[..., None],
    url: str,
    steps: int,
    *args: Any,
    between: Callable[[], None] = lambda: None,
) -> int:
    """One or two crashed attempts (the second one crashes the recovery itself); the number that died.

    `between` runs after each attempt: what the world does meanwhile (a person deleting what they ticked).
    """
    kills = 0
    for _ in range(rng.choice((1, 1, 2))):
        dispose_engine(url)  # a forked child must open its own connections, never share the parent's
        kills += run_killed(child, Kill.drawn(rng, steps), url, *args)
        between()
    return kills


# ---- Mailchimp: Clienti's C1 through /batches, killed at a seeded SDK call or moment -----------------------


def _mailchimp_child(url: str, fatal_call: int) -> None:
    policy = load_policy(policies_dir(), "clienti")
    connector = mailchimp_connector(policy, "mailchimp")
    api = connector.client.api_client
    api.call_api = _dying(api.call_api, fatal_call)
    enforce(policy, "C1", "mailchimp", connector, Ledger(url), VENDOR_AS_OF, batch_size=2000)


def _dying(call: Callable[..., Any], fatal_call: int) -> Callable[..., Any]:
    """`call`, but the process dies on its `fatal_call`-th use: before a batch starts, while polling it..."""
    calls = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == fatal_call:
            os.kill(os.getpid(), signal.SIGKILL)
        return call(*args, **kwargs)

    return counted


def mailchimp_crash(backend: str, url: str, seed: int, scratch: Path) -> CrashResult:
    """Seed Clienti's list, crash C1's /batches run once or twice, rerun, and compare with the unsubscribes."""
    rng = random.Random(seed)
    with seeded_sandbox(CLIENTI, n=30, rng_seed=seed) as seeded, pytest.MonkeyPatch.context() as patch:
        aim_at(patch, seeded, "clienti")
        every = {m.email for m in seeded.mailchimp.members}
        due = {
            m.email for m in seeded.mailchimp.unsubscribed() if m.unsubscribed_at and m.unsubscribed_at < VENDOR_AS_OF
        }
        # a page of members, one batch start and a few polls before the results: about a dozen SDK calls
        kills = _crash_rounds(rng, _mailchimp_child, url, 12)
        policy = load_policy(policies_dir(), "clienti")
        ledger = Ledger(url)
        enforce(policy, "C1", "mailchimp", mailchimp_connector(policy, "mailchimp"), ledger, VENDOR_AS_OF, 2000)
        present = seeded.member_emails()
    evidence = check_evidence(ledger, "clienti", len(due - present))
    dispose_engine(url)
    return CrashResult(
        "mailchimp /batches",
        backend,
        seed,
        kills,
        len((every - due) - present),
        len(due & present),
        evidence.lost,
        evidence.duplicated,
        evidence.chain_ok,
    )


# ---- attestation: Stressfri's S1, a person answering the checklist while the run dies around the answer ----

_ATTESTER = {"attester_name": "Kari Nordmann", "attester_role": "owner"}
#: steps of an attest run that can die: each ledger append (before, after) and each run-input operation
_ATTEST_STEPS = 12


def ticking(share: float, seed: int) -> Person:
    """A person who ticks about `share` of the items (and deletes those in Webnode's admin page)."""

    def answer(checklist: Checklist) -> dict[str, Any]:
        rng = random.Random(seed)
        return {**{item.field: rng.random() < share for item in checklist.items}, **_ATTESTER}

    return answer


def _attest_child(url: str, inbox: str, share: float, seed: int, fatal_call: int) -> None:
    dying = Dying(fatal_call)
    policy = load_policy(policies_dir(), "stressfri")
    steps.attest(
        policy, "S1", "webnode", DyingLedger(url, dying), AS_OF, FileInbox(Path(inbox), dying), ticking(share, seed)
    )


@dataclass
class WebnodeSite:
    """Webnode's admin page: the submissions a person has not deleted yet, and this month's export of them."""

    submissions: list[SeededSubmission]
    export: Path
    references: dict[str, str]  # the record pseudonym of each submission, by email

    def take_export(self) -> None:
        write_webnode_export(self.export, self.submissions, ExportFormat.CSV_SEMICOLON_BOM)

    def delete_ticked(self, inbox: FileInbox) -> None:
        """What the person ticked in any answer is gone from the site; the next export shows it."""
        ticked = {field[5:] for values in inbox.given().values() for field, tick in values.items() if tick is True}
        self.submissions = [s for s in self.submissions if self.references[s.email][-6:] not in ticked]
        self.take_export()

    def present(self) -> set[str]:
        return {self.references[s.email] for s in self.submissions}


def webnode_site(policy: Policy, root: Path, seed: int) -> WebnodeSite:
    root.mkdir(parents=True, exist_ok=True)
    site = WebnodeSite(list(webnode_submissions(seed=seed, now=AS_OF, count=16)), root / "webnode-export.csv", {})
    site.take_export()
    ctx = steps.run_context(policy, "S1", "webnode", AS_OF)
    records = WebnodeConnector(site.export, tz=policy.zone).records({}, "submitted_at")
    by_email = {record.subject: ctx.record_pseudonym(record) for record in records}
    site.references = {s.email: by_email[normalise(s.email)] for s in site.submissions}
    return site


def attestation_crash(backend: str, url: str, seed: int, scratch: Path) -> CrashResult:
    """Crash S1's attest run once or twice around the answer, rerun twice (answer all, then verify), compare."""
    rng = random.Random(seed)
    root = scratch / f"attest-{backend}-{seed}"
    policy = load_policy(policies_dir(), "stressfri")
    site = webnode_site(policy, root, seed)
    os.environ["HYGIENE_STRESSFRI_WEBNODE_EXPORT"] = str(site.export)
    rule = policy.rule("S1")
    assert rule is not None
    due = {site.references[s.email] for s in site.submissions if _is_due(policy, rule, s.submitted_at)}
    keep = set(site.references.values()) - due
    inbox = FileInbox(root / "run-inputs")
    share = rng.uniform(0.3, 1.0)
    kills = _crash_rounds(
        rng,
        _attest_child,
        url,
        _ATTEST_STEPS,
        str(inbox.waiting.parent),
        share,
        seed,
        between=lambda: site.delete_ticked(inbox),
    )
    ledger = Ledger(url)
    for _ in range(2):  # the next month's run answers everything; the one after verifies it against the export
        steps.attest(policy, "S1", "webnode", ledger, AS_OF, inbox, ticking(1.0, seed))
        site.delete_ticked(inbox)
    settled = settled_records(ledger, "stressfri", "S1")
    evidence = check_attestations(ledger, "stressfri", inbox.given())
    dispose_engine(url)
    return CrashResult(
        "attestation S1",
        backend,
        seed,
        kills,
        len(keep - site.present()) + len(keep & settled),
        len(due & site.present()),
        evidence.lost,
        evidence.duplicated,
        evidence.chain_ok,
        inbox.left(),
    )


def _is_due(policy: Policy, rule: Rule, submitted_at: datetime) -> bool:
    window = window_for(policy, rule, submitted_at.replace(tzinfo=policy.zone))
    return window.not_before is None or window.not_before < AS_OF


# ---- the ledger itself: killed inside a large append ---------------------------------------------------------

_APPEND_SIZE = 2000
#: entries of the append campaign are pseudonymous under a throwaway key: they name no one
_KEY = SecretStr("reliability-campaign-key")


def _appending_child(url: str, progress: Any, fatal_call: int) -> None:
    """Append batches until killed, telling the parent after each commit; `fatal_call` is unused here."""
    ledger = Ledger(url)
    for batch in range(10_000):
        ledger.append([_draft(batch, n) for n in range(_APPEND_SIZE)])
        progress.send(batch + 1)


def _draft(batch: int, number: int) -> EntryDraft:
    record = pseudonym(_KEY, RECORD, f"append-{batch}-{number}")
    return EntryDraft(
        controller="calmo",
        run_id=f"append-{batch}",
        kind=EntryKind.DECISION,
        rule_ref="K2",
        record=record,
        payload={"decision": "keep"},
    )


def ledger_write_crash(backend: str, url: str, seed: int, scratch: Path) -> CrashResult:
    """Kill a writer of 2000-entry batches at a seeded moment; no batch may be half there or lost."""
    rng = random.Random(seed)
    before = Ledger(url).last_seq()
    dispose_engine(url)
    receiving, sending = _FORK.Pipe(duplex=False)
    run_killed(_appending_child, Kill(fatal_call=0, delay=rng.uniform(0.05, 1.5)), url, sending)
    committed = 0
    while receiving.poll():
        committed = receiving.recv()
    ledger = Ledger(url)
    written = ledger.last_seq() - before
    whole, torn = divmod(written, _APPEND_SIZE)
    ledger.append([_draft(-1, 0)])  # the next writer finds a usable head
    lost = max(committed - whole, 0) * _APPEND_SIZE + torn
    extra = max(whole - committed - 1, 0) * _APPEND_SIZE  # at most one commit can outrun its report
    return CrashResult("ledger append", backend, seed, 1, 0, 0, lost, extra, ledger.verify().ok)
