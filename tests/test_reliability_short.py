"""A short form of `make reliability`: a few seeds of every crash scenario and the isolation checks on SQLite and
PostgreSQL, and the Mailchimp and HubSpot fault sweep on SQLite (the evidence store plays no part in a vendor
fault; `make reliability` runs it on both), with the same figures that must be zero."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.campaigns import (
    crash_campaign,
    crash_went_wrong,
    isolation_campaign,
    use_campaign_keys,
    wrong_subject_campaign,
)
from reliability.faults import MAILCHIMP_HUBSPOT_CASES, fault_campaign

pytest_plugins = ["tests.ledger_fixtures"]


@pytest.fixture(autouse=True)
def campaign_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    use_campaign_keys()


def test_sigkill_at_random_points_loses_nothing_and_deletes_nothing_early(
    evidence_backend: str, tmp_path: Path
) -> None:
    results = crash_campaign(evidence_backend, range(3), tmp_path)
    assert {r.scenario.split()[0] for r in results} == {"folder", "mailchimp", "attestation", "ledger"}
    assert sum(r.kills for r in results) > 0, "the seeds killed something"
    assert [r for r in results if crash_went_wrong(r)] == []


def test_vendor_faults_end_where_the_fault_free_run_ends(tmp_path: Path) -> None:
    results = fault_campaign("sqlite", 1, tmp_path, list(MAILCHIMP_HUBSPOT_CASES))
    assert len(results) == len(MAILCHIMP_HUBSPOT_CASES)
    assert [r for r in results if r.state_differs or r.unhandled or r.faults_left or r.privacy_hits] == []


def test_two_controllers_cannot_see_each_other(evidence_backend: str, tmp_path: Path) -> None:
    checks = isolation_campaign(evidence_backend, tmp_path)
    assert len(checks) == 4 and all(check.ok for check in checks), checks


def test_an_erasure_among_decoys_takes_only_the_person(evidence_backend: str, tmp_path: Path) -> None:
    results = wrong_subject_campaign(evidence_backend, range(2), tmp_path)
    assert len(results) == 2 and all(r.decoys >= 10 for r in results)
    assert [r for r in results if r.went_wrong] == []
