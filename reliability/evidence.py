"""What a ledger must show after any interruption: every intent closed once, every record deleted once, every
answer recorded once in the run that asked, every run closed once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from hygiene.ledger import EntryKind, Ledger


@dataclass(frozen=True)
class EvidenceCheck:
    #: intents without an outcome, and deletions that happened with no outcome saying so
    lost: int
    #: intents with more than one outcome, outcomes quoting no intent, records deleted more than once
    duplicated: int
    chain_ok: bool


def check_evidence(ledger: Ledger, controller: str, deleted_records: int) -> EvidenceCheck:
    """Count lost and duplicated evidence of `controller`; `deleted_records` is what really disappeared."""
    intents: set[str] = set()
    closings: Counter[str] = Counter()
    deletions: Counter[str] = Counter()
    for entry in ledger.entries(controller=controller, kinds=[EntryKind.INTENT, EntryKind.OUTCOME]):
        assert entry.intent_id is not None
        if entry.kind is EntryKind.INTENT:
            intents.add(entry.intent_id)
            continue
        closings[entry.intent_id] += 1
        if str(entry.payload.get("result", "")).startswith("deleted") and entry.record is not None:
            deletions[entry.record] += 1
    unclosed = len(intents - set(closings))
    orphans = sum(count for intent_id, count in closings.items() if intent_id not in intents)
    repeated = sum(count - 1 for count in closings.values() if count > 1)
    repeated += sum(count - 1 for count in deletions.values() if count > 1)
    unrecorded = max(deleted_records - len(deletions), 0)
    return EvidenceCheck(
        lost=unclosed + unrecorded,
        duplicated=orphans + repeated + max(len(deletions) - deleted_records, 0),
        chain_ok=ledger.verify().ok,
    )


def check_attestations(ledger: Ledger, controller: str, given: Mapping[str, Mapping[str, object]]) -> EvidenceCheck:
    """Count lost and duplicated attestation evidence; `given` is every answer a person gave, by flow run.

    Lost: a ticked item of a given answer with no done-attestation in the run that asked, and a run never
    closed. Duplicated: an item attested twice in one run, a run closed twice, a record attested done in two
    runs (the person was asked again for work already done).
    """
    entries = list(ledger.entries(controller=controller))
    asked_by = {str(e.payload.get("flow_run")): e.run_id for e in entries if e.kind is EntryKind.RUN_STARTED}
    attested = Counter((e.run_id, str(e.payload.get("item"))) for e in entries if e.kind is EntryKind.ATTESTATION)
    done = {
        (e.run_id, str(e.payload.get("item"))) for e in entries if e.kind is EntryKind.ATTESTATION and e.payload["done"]
    }
    closed = Counter(e.run_id for e in entries if e.kind is EntryKind.RUN_FINISHED)
    lost = sum(
        1
        for flow_run, values in given.items()
        for field, ticked in values.items()
        if field.startswith("item_") and ticked is True and (asked_by.get(flow_run), field) not in done
    )
    lost += sum(1 for run_id in asked_by.values() if run_id not in closed)
    done_per_record = Counter(
        e.record for e in entries if e.kind is EntryKind.ATTESTATION and e.payload["done"] is True
    )
    duplicated = sum(count - 1 for counter in (attested, closed, done_per_record) for count in counter.values())
    return EvidenceCheck(lost=lost, duplicated=duplicated, chain_ok=ledger.verify().ok)
