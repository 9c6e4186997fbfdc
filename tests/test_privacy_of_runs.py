"""After a run, the tool's own stores hold no seeded file name, client reference or person's name."""

from __future__ import annotations

import re

import pytest

from sandbox.seed_files import FolderManifest
from tests.privacy import database_rows, hits
from tests.test_enforce_folders import AS_OF, calmo_drive

__all__ = ["calmo_drive"]

_NAME_LINE = re.compile(r"^(?:Faktura \d+|# Klientlogbog \S+)\n+(.+)$", re.MULTILINE)


def needles(manifest: FolderManifest) -> set[str]:
    """File names, paths, client references, and the person named inside each seeded file."""
    found: set[str] = set()
    for file in manifest.files:
        found |= {file.relative, file.relative.rsplit("/", 1)[-1]}
        if not file.subject.isdigit():
            found.add(file.subject)
        match = _NAME_LINE.search((manifest.root / file.relative).read_text(encoding="utf-8", errors="replace"))
        if match:
            found.add(match.group(1).strip())
    return found


@pytest.mark.usefixtures("prefect_server")
def test_no_seeded_name_reaches_the_ledger_prefect_logs_or_artifacts(
    calmo_drive: FolderManifest,
    database_url: str,
    prefect_server: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flows.enforce import enforce_rule

    secrets = needles(calmo_drive)
    assert any(" " in n for n in secrets), "the seed put person names in the files"
    for ref in ("K1", "K2"):
        enforce_rule("calmo", ref, dry_run=True, as_of=AS_OF, approved=True, pause_for_approval=False)
        enforce_rule("calmo", ref, as_of=AS_OF, approved=True, pause_for_approval=False)
    out, err = capfd.readouterr()
    assert hits(database_rows(database_url), secrets) == []
    assert hits(database_rows(prefect_server), secrets) == []
    assert hits([out, err, caplog.text], secrets) == []
