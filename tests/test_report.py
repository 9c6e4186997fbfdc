"""`hygiene report`: the quarterly evidence report an auditor reads, from the ledger, naming nobody."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from hygiene.report import Quarter
from sandbox.seed_files import FolderManifest
from tests.cli_runner import run_cli
from tests.test_enforce_folders import AS_OF, calmo_drive

__all__ = ["calmo_drive"]


@pytest.mark.usefixtures("prefect_server")
def test_the_report_has_quotes_runs_counts_overdue_and_the_chain_and_no_names(
    calmo_drive: FolderManifest,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.enforce import enforce_rule

    enforce_rule("calmo", "K2", dry_run=True, as_of=AS_OF, approved=True, pause_for_approval=False)
    [real] = enforce_rule("calmo", "K2", as_of=AS_OF, approved=True, pause_for_approval=False)
    quarter = Quarter.of(datetime.now().astimezone())  # the ledger dates entries by the clock, not by as_of
    out = tmp_path / "report"
    result = run_cli(
        capsys, monkeypatch, "report", "--controller", "calmo", "--quarter", str(quarter), "--out", str(out)
    )
    assert result.code == 0, result.err
    markdown = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "klientlogbøger" in markdown and "K4" in markdown, "every rule with its quote"
    assert f"| K2 | 1 | {real['deleted']} | {real['overdue']} | 0 | 0 |" in markdown, "counts of the real run only"
    assert markdown.count("| yes | finished |") == markdown.count("| no | finished |") == 1, "dry run and real run"
    assert f"{real['overdue']} records were acted on after their deadline" in markdown
    assert markdown.count("`") == 0 and markdown.count("record:…") == real["overdue"]
    assert "Hash chain intact" in markdown and "Hash chain intact" in html
    seeded = [Path(f.relative).stem for f in calmo_drive.of_kind("logbook")]
    assert not [name for name in seeded if name in markdown or name in html], "no file names, no client names"


def test_a_quarter_written_wrongly_is_one_line(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(capsys, monkeypatch, "report", "--controller", "calmo", "--quarter", "2026-Q5")
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 1 and lines == ["error: '2026-Q5' is not a quarter: write it as YYYYQn, e.g. 2026Q4"]


def test_a_notice_that_states_no_period_is_a_finding_of_the_report(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Balansekonomi's notice names the CRM and Apsis/Mailchimp but no retention period: the report says so."""
    out = tmp_path / "report"
    result = run_cli(
        capsys, monkeypatch, "report", "--controller", "balansekonomi", "--quarter", "2026Q4", "--out", str(out)
    )
    assert result.code == 0, result.err
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "Findings in the notice: no period promised" in markdown
    assert "| E4 | crm, mailchimp, apsis, web_forms |" in markdown
    assert "| E4 | Show that the notice states no retention period" in markdown and "no period promised |" in markdown
