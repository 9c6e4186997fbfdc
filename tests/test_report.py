"""`hygiene report`: the quarterly evidence report an auditor reads, from the ledger, naming nobody."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from hygiene.holds import HoldStore
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.pseudonym import RECORD, SUBJECT, pseudonym
from hygiene.report import Quarter, report_dir
from hygiene.requests import RequestKind, RequestStore
from hygiene.settings import Settings
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
    written = report_dir(Settings().reports_dir, "calmo", quarter)
    assert f"({(written / 'report.html').resolve().as_uri()})" in evidence_report_link("calmo-evidence-report")
    assert (written / "report.md").read_text(encoding="utf-8").count("| no | finished |") == 1, (
        "the run's page links to the quarter's report, written with the run in it in the configured folder"
    )
    out = tmp_path / "report"
    result = run_cli(
        capsys, monkeypatch, "report", "--controller", "calmo", "--quarter", str(quarter), "--out", str(out)
    )
    assert result.code == 0, result.err
    markdown = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "klientlogbøger" in markdown and "K4" in markdown, "every rule with its quote"
    assert f"| K2 | 1 | 0 | {real['deleted']} | {real['overdue']} | 0 | 0 | 0 |" in markdown, "the real run only"
    assert markdown.count("| yes | finished |") == markdown.count("| no | finished |") == 1, "dry run and real run"
    assert f"{real['overdue']} records were acted on after their deadline" in markdown
    assert markdown.count("`") == 0 and markdown.count("record:…") == real["overdue"]
    overdue = [line.split(" | ") for line in markdown.splitlines() if "| record:…" in line]
    assert all(date.fromisoformat(row[3]) < date.fromisoformat(row[4]) for row in overdue), "each row's deadline"
    assert "Hash chain intact" in markdown and "Hash chain intact" in html
    seeded = [Path(f.relative).stem for f in calmo_drive.of_kind("logbook")]
    assert not [name for name in seeded if name in markdown or name in html], "no file names, no client names"


def test_a_quarter_written_wrongly_is_one_line(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(capsys, monkeypatch, "report", "--controller", "calmo", "--quarter", "2026-Q5")
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 1 and lines == ["error: '2026-Q5' is not a quarter: write it as YYYYQn, e.g. 2026Q4"]


def evidence_report_link(key: str) -> str:
    """The newest link artifact under `key`, as Prefect stores it: `[text](link)`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        [newest] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    assert isinstance(newest.data, str)
    return newest.data


EMAIL = "ruth.auditee@example.dk"
HOLD_TEXT = "tvist om faktura 2026-114"


def seeded_clienti_ledger(url: str) -> None:
    """A small Clienti quarter: a C1 run that deleted a record late and kept one, a C3 hold, C7's CPR finding,
    an erasure and an access request answered under C6, and one request still open past its deadline."""
    ledger = Ledger(url)
    key = Settings().key_for("clienti")
    policy = load_policy(policies_dir(), "clienti")
    today = datetime.now(policy.zone).date()
    record, subject = pseudonym(key, RECORD, "mailchimp:m1"), pseudonym(key, SUBJECT, EMAIL)
    deadline = datetime.now(policy.zone) - timedelta(days=3)
    run = {"controller": "clienti", "run_id": "run-c1", "rule_ref": "C1"}
    ledger.append(
        [
            EntryDraft(kind=EntryKind.RUN_STARTED, payload={"system": "mailchimp", "dry_run": False}, **run),
            EntryDraft.intent(
                action="delete",
                record=record,
                subject=subject,
                payload={"system": "mailchimp", "decision": "overdue", "deadline": deadline.isoformat()},
                **run,
            ),
            EntryDraft(
                kind=EntryKind.DECISION,
                record=pseudonym(key, RECORD, "mailchimp:m2"),
                payload={"system": "mailchimp", "decision": "held", "reason": "bookkeeping_duty"},
                **run,
            ),
            EntryDraft(
                kind=EntryKind.RUN_FINISHED,
                payload={"counts": {"keep": 0, "overdue": 1, "held": 1}, "deleted": 1, "failed": 0},
                **run,
            ),
            EntryDraft(
                controller="clienti",
                run_id="run-c7",
                rule_ref="C7",
                kind=EntryKind.FINDING,
                record=pseudonym(key, RECORD, "hubspot:17"),
                payload={"system": "hubspot", "finding": "cpr_in_property", "field": "notes"},
            ),
        ]
    )
    HoldStore(ledger).add("clienti", reason=HOLD_TEXT, set_by="owner", subject=subject)
    store = RequestStore(ledger)
    erasure = store.open(policy, RequestKind.ERASURE, EMAIL, today - timedelta(days=2), key)
    store.close(erasure.request_id, "erased", {"systems": [], "totals": {"deleted": 2}})
    access = store.open(policy, RequestKind.ACCESS, EMAIL, today - timedelta(days=1), key)
    store.close(access.request_id, "delivered", {"systems": [], "totals": {"deleted": 0}})
    store.open(policy, RequestKind.OBJECTION, EMAIL, today - timedelta(days=70), key)


def test_the_report_answers_the_auditor_deadlines_requests_findings_holds_and_the_notice(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded_clienti_ledger(database_url)
    quarter = Quarter.of(datetime.now(load_policy(policies_dir(), "clienti").zone))
    out = tmp_path / "report"
    result = run_cli(
        capsys, monkeypatch, "report", "--controller", "clienti", "--quarter", str(quarter), "--out", str(out)
    )
    assert result.code == 0, result.err
    markdown = (out / "report.md").read_text(encoding="utf-8")
    counts = markdown.split("## Counts per rule")[1].split("## Runs")[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in counts.splitlines() if line.startswith("| C")}
    assert "Privacy notice: policies/clienti.notice.txt" in markdown and "seeds/" not in markdown
    overdue = next(line for line in markdown.splitlines() if "| mailchimp | record:" in line)
    now = datetime.now(load_policy(policies_dir(), "clienti").zone)
    missed = f"| {(now - timedelta(days=3)).date()} | {now.date()} | 3 |"
    assert missed in overdue, "the deadline it missed, the day it was deleted, and how many days late"
    assert "| C6 | 2 | 2 | 2 |" in rows["C6"], "two requests answered under C6, the erasure deleted two"
    assert "| C1 | 1 | 0 | 1 | 1 | 1 |" in rows["C1"] and rows["C7"].endswith("| 1 |"), markdown
    assert "| C7 | hubspot | cpr_in_property | notes | 1 |" in markdown, "C7's CPR finding"
    assert "| C1 | mailchimp | bookkeeping_duty | 1 | - |" in markdown, "held records by reason kind and date"
    assert "legal_hold 1 added" in markdown and HOLD_TEXT not in markdown, "a hold by kind, never its text"
    requests = [line for line in markdown.splitlines() if "| erasure |" in line or "| access |" in line]
    assert len(requests) == 2 and all("| on time |" in line for line in requests), requests
    assert any("| erased |" in line for line in requests) and any("| delivered |" in line for line in requests)
    assert "| objection |" in markdown and "open, past its deadline" in markdown
    assert EMAIL not in markdown and EMAIL.split("@")[0] not in markdown


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
