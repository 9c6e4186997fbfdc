"""Folder deletion against a tree that changes between the plan and the deletion (issue 14, item 4).

Each test lists the folder, then changes it the way an attacker or a sync tool could before the deletion: a
folder swapped for a symbolic link, a folder or a file replaced by another one with the same name. The files
outside the tree, and the replacements, are decoys: on the old code they were deleted and the ledger said so.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from hygiene.enforcement import RunContext, act_on_batch, plan_run
from hygiene.holds import HoldIndex
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from integrations.folder import DateSource, FolderConnector
from sandbox.seed_files import LOGBOOK_PATTERN, FolderManifest, calmo_folder

AS_OF = datetime.fromisoformat("2026-11-23T09:00:00+01:00")


@pytest.fixture
def drive(tmp_path: Path) -> FolderManifest:
    return calmo_folder(tmp_path / "drive", seed=5, now=AS_OF, invoices=4, logbooks=6)


def logbooks(manifest: FolderManifest) -> FolderConnector:
    return FolderConnector(manifest.root, "klientlogboeger/Arkiv/*.md", DateSource(LOGBOOK_PATTERN))


def listed(manifest: FolderManifest) -> tuple[FolderConnector, list[str]]:
    connector = logbooks(manifest)
    return connector, [record.record_id for record in connector.records({}, "course_ended_at")]


def swap_archive_for_link(manifest: FolderManifest, outside: Path) -> Path:
    """Move Arkiv away and put a link to `outside` in its place, `outside` holding files of the same names."""
    archive = manifest.root / "klientlogboeger" / "Arkiv"
    shutil.copytree(archive, outside)
    archive.rename(archive.with_name("Arkiv.moved"))
    archive.symlink_to(outside, target_is_directory=True)
    return outside


def test_a_folder_swapped_for_a_link_after_the_listing_deletes_nothing_outside(
    drive: FolderManifest, tmp_path: Path
) -> None:
    connector, ids = listed(drive)
    outside = swap_archive_for_link(drive, tmp_path / "outside")
    before = sorted(path.name for path in outside.iterdir())
    receipts = connector.delete(ids)
    proofs = connector.verify_absent(ids)
    assert sorted(path.name for path in outside.iterdir()) == before and before
    assert not any(receipt.ok for receipt in receipts)
    assert all("symbolic link" in receipt.detail for receipt in receipts)
    assert not any(proof.absent for proof in proofs)


def test_a_folder_replaced_by_another_with_the_same_names_is_refused_by_identity(
    drive: FolderManifest, tmp_path: Path
) -> None:
    connector, ids = listed(drive)
    archive = drive.root / "klientlogboeger" / "Arkiv"
    shutil.copytree(archive, tmp_path / "other")
    archive.rename(archive.with_name("Arkiv.moved"))
    (tmp_path / "other").rename(archive)
    receipts = connector.delete(ids)
    assert not any(receipt.ok for receipt in receipts)
    assert all("not the file listed" in receipt.detail for receipt in receipts)
    assert all(Path(drive.root / record_id).exists() for record_id in ids)
    # the one line names the file only by its masked tail
    assert not any(Path(record_id).stem in receipt.detail for record_id, receipt in zip(ids, receipts, strict=True))


def test_a_file_replaced_after_the_listing_survives(drive: FolderManifest) -> None:
    connector, ids = listed(drive)
    target = drive.root / ids[0]
    replacement = target.with_name("incoming.tmp")
    replacement.write_bytes(b"a new logbook the plan never saw")
    os.replace(replacement, target)
    (receipt,) = connector.delete(ids[:1])
    assert not receipt.ok and "nothing deleted" in receipt.detail
    assert target.read_bytes() == b"a new logbook the plan never saw"


def test_a_file_swapped_for_a_link_does_not_delete_the_target(drive: FolderManifest, tmp_path: Path) -> None:
    connector, ids = listed(drive)
    decoy = tmp_path / "decoy.md"
    decoy.write_text("outside the tree")
    (drive.root / ids[0]).unlink()
    (drive.root / ids[0]).symlink_to(decoy)
    (receipt,) = connector.delete(ids[:1])
    assert not receipt.ok and "symbolic link" in receipt.detail
    assert decoy.read_text() == "outside the tree" and (drive.root / ids[0]).is_symlink()


def test_a_file_the_connector_did_not_list_is_not_deleted(drive: FolderManifest) -> None:
    relative = drive.of_kind("logbook")[0].relative
    (receipt,) = logbooks(drive).delete([relative])
    assert not receipt.ok and "not listed" in receipt.detail
    assert (drive.root / relative).exists()


def test_listing_does_not_enter_a_folder_that_is_a_link(drive: FolderManifest, tmp_path: Path) -> None:
    swap_archive_for_link(drive, tmp_path / "outside")
    assert list(logbooks(drive).records({}, "course_ended_at")) == []
    with pytest.raises(Exception, match="link"):
        list(logbooks(drive).records({"folder": "klientlogboeger/Arkiv"}, "course_ended_at"))


def test_a_swap_between_plan_and_act_leaves_no_deletion_in_the_ledger(drive: FolderManifest, tmp_path: Path) -> None:
    policy = load_policy(policies_dir(), "calmo")
    rule = policy.rule("K2")
    assert rule is not None
    ctx = RunContext(policy=policy, rule=rule, system="logbooks", as_of=AS_OF, dry_run=False, key=SecretStr("k" * 40))
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    connector = FolderConnector(drive.root / "klientlogboeger", "Arkiv/forloeb-slut_*", DateSource(LOGBOOK_PATTERN))
    found = plan_run(ctx, connector, ledger, HoldIndex({}, {}))
    assert found.actionable, "the seed has logbooks past their year"
    outside = swap_archive_for_link(drive, tmp_path / "outside")
    before = sorted(path.name for path in outside.iterdir())
    result = act_on_batch(ctx, connector, ledger, found.actionable)
    assert result.deleted == 0 and result.failed == len(found.actionable)
    assert sorted(path.name for path in outside.iterdir()) == before
    outcomes = [entry for entry in ledger.entries(run_id=ctx.run_id) if entry.kind is EntryKind.OUTCOME]
    assert len(outcomes) == len(found.actionable)
    assert {entry.payload["result"] for entry in outcomes} == {"failed"}
