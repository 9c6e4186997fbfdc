"""Calmo's K1 (invoices, bookkeeping) and K2 (client logbooks) end to end through the Prefect flow."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.planner import Decision
from hygiene.policies import load_policy
from hygiene.windows import window_for
from sandbox.seed_files import FolderManifest, calmo_folder

CALMO = load_policy(policies_dir(), "calmo")
AS_OF = datetime.fromisoformat("2026-11-23T09:00:00+01:00")


@pytest.fixture
def calmo_drive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FolderManifest:
    manifest = calmo_folder(tmp_path / "drive", seed=7, now=AS_OF, invoices=40, logbooks=12)
    monkeypatch.setenv("HYGIENE_CALMO_INVOICES", str(manifest.root / "fakturaer"))
    monkeypatch.setenv("HYGIENE_CALMO_LOGBOOKS", str(manifest.root / "klientlogboeger"))
    return manifest


def expected(manifest: FolderManifest, kind: str, ref: str) -> dict[Decision, set[str]]:
    """The decision each seeded file should get, worked out from its window (not from the planner)."""
    rule = CALMO.rule(ref)
    assert rule is not None
    out: dict[Decision, set[str]] = {d: set() for d in Decision}
    for file in manifest.of_kind(kind):
        assert file.dated is not None
        window = window_for(CALMO, rule, datetime(file.dated.year, file.dated.month, file.dated.day, tzinfo=CALMO.zone))
        if window.not_before is not None and window.not_before >= AS_OF:
            out[Decision.KEEP].add(file.relative)
        elif window.deadline is not None and window.deadline < AS_OF:
            out[Decision.OVERDUE].add(file.relative)
        else:
            out[Decision.DUE].add(file.relative)
    return out


def remaining(manifest: FolderManifest, kind: str) -> set[str]:
    return {f.relative for f in manifest.of_kind(kind) if (manifest.root / f.relative).exists()}


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(("ref", "kind"), [("K1", "invoice"), ("K2", "logbook")])
def test_a_run_deletes_exactly_the_due_files_and_reports_the_overdue(
    calmo_drive: FolderManifest, database_url: str, ref: str, kind: str
) -> None:
    from flows.enforce import enforce_rule

    truth = expected(calmo_drive, kind, ref)
    assert truth[Decision.KEEP] and truth[Decision.DUE] | truth[Decision.OVERDUE], "seed covers both sides"
    [result] = enforce_rule("calmo", ref, as_of=AS_OF, approved=True, pause_for_approval=False)
    assert remaining(calmo_drive, kind) == truth[Decision.KEEP]
    assert result["deleted"] == len(truth[Decision.DUE] | truth[Decision.OVERDUE])
    assert result["overdue"] == len(truth[Decision.OVERDUE])
    assert Ledger(database_url).verify().ok


@pytest.mark.usefixtures("prefect_server")
def test_a_dry_run_deletes_nothing_and_records_what_it_would_do(calmo_drive: FolderManifest, database_url: str) -> None:
    from flows.enforce import enforce_rule

    before = remaining(calmo_drive, "logbook")
    [result] = enforce_rule("calmo", "K2", dry_run=True, as_of=AS_OF, approved=True, pause_for_approval=False)
    assert remaining(calmo_drive, "logbook") == before
    decisions = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.DECISION]
    assert len(decisions) == result["counts"]["due"] + result["counts"]["overdue"] > 0
    assert all(e.payload["would"] == "delete" for e in decisions)


@pytest.mark.usefixtures("prefect_server")
def test_a_rerun_is_a_no_op(calmo_drive: FolderManifest, database_url: str) -> None:
    from flows.enforce import enforce_rule

    enforce_rule("calmo", "K2", as_of=AS_OF, approved=True, pause_for_approval=False)
    [again] = enforce_rule("calmo", "K2", as_of=AS_OF, approved=True, pause_for_approval=False)
    assert again["deleted"] == 0 and again["counts"]["due"] == again["counts"]["overdue"] == 0


@pytest.mark.usefixtures("prefect_server")
def test_the_run_page_shows_counts_overdue_pseudonyms_and_the_ledger_range(
    calmo_drive: FolderManifest, database_url: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.enforce import enforce_rule

    [result] = enforce_rule("calmo", "K2", as_of=AS_OF, approved=True, pause_for_approval=False)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["calmo-k2-logbooks"]))
        )
    [page] = [a for a in artifacts if isinstance(a.data, str) and result["run_id"] in a.data]
    first, last = result["ledger_range"]
    assert isinstance(page.data, str)
    assert f"| overdue | {result['counts']['overdue']} |" in page.data
    assert f"ledger entries {first}–{last}" in page.data
    assert page.data.count("`record:…") == result["overdue"] > 0


@pytest.mark.usefixtures("prefect_server")
def test_a_file_name_that_is_not_utf8_is_one_finding_and_the_run_finishes(
    calmo_drive: FolderManifest, database_url: str
) -> None:
    from flows.enforce import enforce_rule

    bad = os.fsencode(calmo_drive.root / "klientlogboeger" / "Arkiv") + b"/forloeb-slut_2020-01-01_K\xe6\xf8.md"
    with open(bad, "wb") as stream:
        stream.write(b"a logbook whose name a Windows tool wrote in Latin-1")
    truth = expected(calmo_drive, "logbook", "K2")
    [result] = enforce_rule("calmo", "K2", as_of=AS_OF, approved=True, pause_for_approval=False)
    assert remaining(calmo_drive, "logbook") == truth[Decision.KEEP]
    entries = list(Ledger(database_url).entries(run_id=result["run_id"]))
    findings = [entry.payload for entry in entries if entry.kind is EntryKind.FINDING]
    assert [(finding["finding"], finding["where"]) for finding in findings] == [("file_name_not_utf8", "…/…8.md")]
    assert entries[-1].kind is EntryKind.RUN_FINISHED
    assert os.path.exists(bad)
