"""The reliability figure "chain forgeries detected": every rewrite by someone without the ledger key is caught."""

from __future__ import annotations

from pathlib import Path

from reliability.databases import fresh_database
from reliability.forgery import ATTACKS, forgery_campaign

pytest_plugins = ["tests.ledger_fixtures"]


def test_every_chain_forgery_is_detected(evidence_backend: str, tmp_path: Path) -> None:
    with fresh_database(evidence_backend, tmp_path) as url:
        results = forgery_campaign(evidence_backend, url)

    assert [r.attack for r in results] == list(ATTACKS)
    assert [r.attack for r in results if not r.detected] == []
