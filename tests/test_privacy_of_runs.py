"""After a run, the tool's own stores hold no seeded file name, client reference or person's name."""

from __future__ import annotations

import pytest

from reliability.seeded_people import Kind, SeededPeople
from sandbox.seed_files import FolderManifest
from tests.privacy import database_rows, hits
from tests.test_enforce_folders import AS_OF, calmo_drive

__all__ = ["calmo_drive"]


@pytest.mark.usefixtures("prefect_server")
def test_no_seeded_name_reaches_the_ledger_prefect_logs_or_artifacts(
    calmo_drive: FolderManifest,
    database_url: str,
    prefect_server: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flows.enforce import enforce_rule

    seeded = SeededPeople()
    seeded.add_drive(calmo_drive.root)
    assert seeded.found[Kind.NAME], "the seed put person names in the files"
    secrets = seeded.needles()
    for ref in ("K1", "K2"):
        enforce_rule("calmo", ref, dry_run=True, as_of=AS_OF, approved=True, pause_for_approval=False)
        enforce_rule("calmo", ref, as_of=AS_OF, approved=True, pause_for_approval=False)
    out, err = capfd.readouterr()
    assert hits(database_rows(database_url), secrets) == []
    assert hits(database_rows(prefect_server), secrets) == []
    assert hits([out, err, caplog.text], secrets) == []
