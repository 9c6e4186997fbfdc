"""Stressfri's Gmail rules (S2, S8) under Gmail's faults end where the fault-free run ends: rate-limit storms
in both of Gmail's shapes, 5xx bursts, answers past the timeout, dropped connections, and batchDelete calls
that fail half-way or past the retries. The evidence store plays no part in a vendor fault, so the short form
runs on SQLite, in `make reliability` (marked slow); the campaign runs every case on PostgreSQL as well."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.faults import GMAIL_CASES, fault_campaign


@pytest.mark.slow
def test_gmail_faults_end_where_the_fault_free_run_ends(tmp_path: Path) -> None:
    results = fault_campaign("sqlite", 1, tmp_path, list(GMAIL_CASES))
    assert [r.case for r in results] == list(GMAIL_CASES)
    assert [r for r in results if r.state_differs or r.unhandled or r.faults_left or r.privacy_hits] == []
    assert any(r.runs > 1 for r in results), "a storm past the retries leaves its work to the rerun"
