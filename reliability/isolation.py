"""Tenant isolation: two controllers' keys, ledgers and holds cannot see each other.

The checks run the real pieces (pseudonyms, the ledger in one shared database, the hold store, the planner's
hold lookup and `hygiene ledger prove`) with two controllers that hold the same person, because that is what
an agency like Clienti running many controllers' ledgers on one PostgreSQL does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from hygiene.holds import HoldStore
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.pseudonym import RECORD, SUBJECT, pseudonym
from hygiene.settings import Settings

PERSON = "same.person@example.org"
A, B = "calmo", "clienti"


@dataclass(frozen=True)
class IsolationCheck:
    name: str
    backend: str
    ok: bool


def isolation_checks(backend: str, url: str, prove: Callable[[str, str], dict[str, object]]) -> list[IsolationCheck]:
    """`prove(controller, email)` is `hygiene ledger prove --json` against `url`, run by the caller."""
    settings = Settings()
    key_a, key_b = settings.key_for(A), settings.key_for(B)
    subject_a, subject_b = pseudonym(key_a, SUBJECT, PERSON), pseudonym(key_b, SUBJECT, PERSON)
    ledger = Ledger(url)
    for controller, subject in ((A, subject_a), (B, subject_b)):
        ledger.append(
            [
                EntryDraft(
                    controller=controller,
                    run_id=f"isolation-{controller}",
                    kind=EntryKind.DECISION,
                    rule_ref="R",
                    subject=subject,
                    payload={"decision": "due"},
                )
            ]
        )
    HoldStore(ledger).add(B, reason="dispute", set_by="dpo", subject=subject_b)
    proof_a = prove(A, PERSON)
    checks = {
        "the same email gives unrelated pseudonyms": subject_a != subject_b
        and pseudonym(key_a, RECORD, PERSON) != pseudonym(key_b, RECORD, PERSON),
        "prove --controller A finds nothing of B's": subject_b not in json.dumps(proof_a)
        and bool(_entries(proof_a))
        and all(isinstance(e, dict) and e.get("controller") == A for e in _entries(proof_a)),
        "B's pseudonym is no one under A's key": not list(ledger.entries(controller=A, subject=subject_b)),
        "a run of A never reads B's holds": HoldStore(ledger).active_for(A).reason_for(subject=subject_a, record=None)
        is None
        and HoldStore(ledger).active_for(B).reason_for(subject=subject_b, record=None) is not None,
    }
    return [IsolationCheck(name, backend, ok) for name, ok in checks.items()]


def _entries(proof: dict[str, object]) -> list[dict[str, object]]:
    entries = proof.get("entries")
    return entries if isinstance(entries, list) else []
