"""What a ledger must show after any interruption: every intent closed once, every record deleted once."""

from __future__ import annotations

from collections import Counter
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
