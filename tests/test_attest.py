"""Promises kept by hand, end to end through Prefect: S1 (Webnode), S3 (phone), S5 (accountant), B3 (paper)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.exceptions import NotPausedError

from hygiene.checklist import REFUSED, REMINDER, STILL_PRESENT, AttestationRefused
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.pseudonym import is_pseudonym
from sandbox.seed_files import (
    ExportFormat,
    RegisterManifest,
    WebnodeManifest,
    balance_register,
    webnode_submissions,
    write_webnode_export,
)
from tests.attest_fixtures import Answerer, Form, tick_all
from tests.privacy import database_rows, hits

AS_OF = datetime.fromisoformat("2026-11-01T08:00:00+01:00")
STRESSFRI = load_policy(policies_dir(), "stressfri")


@pytest.fixture(autouse=True)
def quick_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.attest

    monkeypatch.setattr(flows.attest, "POLL_SECONDS", 0.2)


@pytest.fixture
def export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebnodeManifest:
    """This month's export, configured where the policy says (HYGIENE_STRESSFRI_WEBNODE_EXPORT)."""
    manifest = write_webnode_export(
        tmp_path / "skjema-nov.csv", webnode_submissions(seed=3, now=AS_OF, count=8), ExportFormat.CSV_SEMICOLON_BOM
    )
    monkeypatch.setenv("HYGIENE_STRESSFRI_WEBNODE_EXPORT", str(manifest.path))
    return manifest


@pytest.fixture
def register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RegisterManifest:
    manifest = balance_register(tmp_path / "crm-kontakter.csv", seed=5, now=AS_OF)
    monkeypatch.setenv("HYGIENE_BALANCE_PAPER_REGISTER", str(manifest.path))
    return manifest


def attest_answered(
    controller: str, ref: str, system: str, answerer: Answerer, as_of: datetime = AS_OF
) -> list[dict[str, Any]]:
    from flows.attest import attest

    answerer.start(system)
    try:
        return attest(controller, ref, as_of=as_of)
    finally:
        answerer.join()


def kinds(ledger: Ledger, run_id: str, kind: EntryKind) -> list[Any]:
    return [e for e in ledger.entries(run_id=run_id) if e.kind is kind]


@pytest.mark.usefixtures("prefect_server")
def test_s1_lists_every_submission_before_the_run_and_records_the_attestation(
    export: WebnodeManifest, database_url: str
) -> None:
    answerer = Answerer(tick_all())
    [result] = attest_answered("stressfri", "S1", "webnode", answerer)
    [form] = answerer.forms
    assert result["outcome"] == "attested" and not answerer.errors
    assert len(form.items) == result["items"] == len(export.submitted_before(AS_OF.replace(tzinfo=None)))
    for entry in export.submissions:  # the person finds each one by its minute in Webnode's admin page
        assert entry.submitted_at.strftime("%Y-%m-%d %H:%M") in form.text
    ledger = Ledger(database_url)
    attestations = kinds(ledger, result["run_id"], EntryKind.ATTESTATION)
    assert len(attestations) == result["items"] and all(a.payload["done"] for a in attestations)
    assert {a.payload["role"] for a in attestations} == {"owner"}
    assert all(
        is_pseudonym(a.payload["attester"]) and a.payload["attester"].startswith("attester:") for a in attestations
    )
    assert ledger.verify().ok


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("left_in_webnode", [0, 1])
def test_s1_full_cycle_the_next_export_verifies_the_deletion(
    export: WebnodeManifest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    left_in_webnode: int,
) -> None:
    from flows.attest import verify_export

    attest_answered("stressfri", "S1", "webnode", Answerer(tick_all()))
    newer = webnode_submissions(seed=4, now=AS_OF + timedelta(days=30), count=3)
    kept = export.submissions[:left_in_webnode]  # a person missed these in the admin page
    december = write_webnode_export(tmp_path / "skjema-des.csv", [*kept, *newer], ExportFormat.CSV_COMMA)

    [checked] = verify_export("stressfri", "S1", str(december.path))
    assert checked["still_present"] == left_in_webnode
    assert checked["verified"] == len(export.submissions) - left_in_webnode
    ledger = Ledger(database_url)
    findings = kinds(ledger, checked["run_id"], EntryKind.FINDING)
    assert [f.payload["finding"] for f in findings] == [STILL_PRESENT] * left_in_webnode
    assert ledger.verify().ok

    # the next monthly run lists what is still there again, with the new submissions
    monkeypatch.setenv("HYGIENE_STRESSFRI_WEBNODE_EXPORT", str(december.path))
    answerer = Answerer(tick_all())
    [again] = attest_answered("stressfri", "S1", "webnode", answerer, as_of=AS_OF + timedelta(days=30))
    assert len(answerer.forms[0].items) == left_in_webnode + len(newer)
    assert again["items"] == left_in_webnode + len(newer)


@pytest.mark.usefixtures("prefect_server")
def test_verifying_with_the_export_the_checklist_came_from_is_refused(
    export: WebnodeManifest, database_url: str
) -> None:
    from flows.attest import verify_export
    from hygiene.checklist import SameExport

    attest_answered("stressfri", "S1", "webnode", Answerer(tick_all()))
    with pytest.raises(SameExport, match="this is the export the checklist was made from"):
        verify_export("stressfri", "S1", str(export.path))


@pytest.mark.usefixtures("prefect_server")
def test_a_form_answered_twice_takes_the_first_answer_only(export: WebnodeManifest, database_url: str) -> None:
    answerer = Answerer(tick_all(), twice=True)
    [result] = attest_answered("stressfri", "S1", "webnode", answerer)
    assert [type(error) for error in answerer.errors] == [NotPausedError]
    assert "Cannot resume a run that isn't paused" in str(answerer.errors[0])
    assert len(kinds(Ledger(database_url), result["run_id"], EntryKind.ATTESTATION)) == result["items"]


@pytest.mark.usefixtures("prefect_server")
def test_an_answer_naming_items_not_on_the_checklist_records_nothing(
    export: WebnodeManifest, database_url: str
) -> None:
    def foreign(form: Form) -> dict[str, Any]:
        return {**tick_all()(form), "item_ffffff": True}

    with pytest.raises(AttestationRefused) as refused:
        attest_answered("stressfri", "S1", "webnode", Answerer(foreign))
    assert "names 1 item(s) that are not on checklist" in str(refused.value)
    assert "\n" not in str(refused.value)
    ledger = Ledger(database_url)
    assert not list(ledger.entries(kinds={EntryKind.ATTESTATION}))
    [finding] = ledger.entries(kinds={EntryKind.FINDING})
    assert finding.payload["finding"] == REFUSED
    assert ledger.verify().ok


@pytest.mark.usefixtures("prefect_server")
def test_an_unanswered_checklist_reminds_and_marks_passed_deadlines_overdue(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.attest

    monkeypatch.setattr(flows.attest, "reminder_wait", lambda rule, policy: timedelta(seconds=1))
    september = datetime.fromisoformat("2026-09-01T08:00:00+02:00")
    [result] = flows.attest.attest("stressfri", "S3", as_of=september)
    assert result["outcome"] == "unanswered" and result["items"] == 1
    ledger = Ledger(database_url)
    [reminder] = kinds(ledger, result["run_id"], EntryKind.FINDING)
    assert reminder.payload["finding"] == REMINDER
    decisions = [e.payload["decision"] for e in kinds(ledger, result["run_id"], EntryKind.DECISION)]
    assert decisions == ["due", "overdue"]  # listed as due; its deadline (8 October) passed unanswered


@pytest.mark.usefixtures("prefect_server")
def test_the_monthly_phone_sweep_is_one_item_without_per_message_data(database_url: str) -> None:
    answerer = Answerer(tick_all())
    [result] = attest_answered("stressfri", "S3", "phone", answerer)
    assert result["items"] == 1
    assert "delete every one dated before 2026-11-01" in answerer.forms[0].text


@pytest.mark.usefixtures("prefect_server")
def test_the_august_review_lists_the_expired_bookkeeping_years_once(database_url: str) -> None:
    from flows.attest import attest

    august = datetime.fromisoformat("2026-08-01T09:00:00+02:00")
    [first] = attest("stressfri", "S5", as_of=august, demo_answer=True)
    assert first["items"] == 5 and first["outcome"] == "attested"  # financial years 2016 to 2020
    assert first["overdue"] == 4  # 2016 to 2019 were due at earlier Augusts' reviews; 2020 at this one
    [second] = attest("stressfri", "S5", as_of=august, demo_answer=True)
    assert second["items"] == 0 and second["settled"] == 5
    roles = {e.payload["role"] for e in Ledger(database_url).entries(kinds={EntryKind.ATTESTATION})}
    assert roles == {"demo"}


@pytest.mark.usefixtures("prefect_server")
def test_b3_lists_every_ended_course_from_the_register(register: RegisterManifest, database_url: str) -> None:
    """B3's sensitive details are not kept for the newsletter (B2's exemption, from MailChimp, is tested apart)."""
    answerer = Answerer(tick_all(role="therapist"))
    [result] = attest_answered("balance", "B3", "paper_archive", answerer)
    assert result["items"] == len(register.course_ended_before(AS_OF.date())) > 0
    decisions = Ledger(database_url).entries(run_id=result["run_id"], kinds={EntryKind.DECISION})
    assert not [e for e in decisions if e.payload["decision"] == "held"]


@pytest.mark.usefixtures("prefect_server")
def test_checklists_artifacts_logs_and_evidence_hold_no_name_email_or_message(
    export: WebnodeManifest,
    register: RegisterManifest,
    database_url: str,
    prefect_server: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flows.attest import attest

    answerer = Answerer(tick_all(name="Ola Attestersen"))
    attest_answered("stressfri", "S1", "webnode", answerer)
    attest("balance", "B4", as_of=AS_OF, demo_answer=True)
    secrets = {"Ola Attestersen"}
    for entry in export.submissions:
        secrets |= {entry.name, entry.email, entry.email.lower(), entry.phone, *entry.message.splitlines()[1:2]}
    for contact in register.contacts:
        secrets |= {contact.name, contact.email, contact.contact}
    out, err = capfd.readouterr()
    assert hits([answerer.forms[0].text], secrets) == []
    assert hits(database_rows(database_url), secrets) == []
    assert hits(database_rows(prefect_server), secrets) == []
    assert hits([out, err, caplog.text], secrets) == []


def _first_flow_run(ledger: Ledger) -> str:
    [started, *_] = ledger.entries(kinds={EntryKind.RUN_STARTED})
    return str(started.payload["flow_run"])


@pytest.mark.usefixtures("prefect_server")
def test_an_answer_its_run_died_before_recording_is_recorded_by_the_next_run(
    export: WebnodeManifest, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.input.actions import read_flow_run_input

    from flows.attest import PrefectInbox
    from hygiene.answers import RECORDED_LATE

    real_append = Ledger.append

    def dies_at_the_attestations(self: Ledger, drafts: Any) -> Any:
        if any(draft.kind is EntryKind.ATTESTATION for draft in drafts):
            raise ConnectionError("the database went away")
        return real_append(self, drafts)

    with monkeypatch.context() as dying:
        dying.setattr(Ledger, "append", dies_at_the_attestations)
        with pytest.raises(ConnectionError):
            attest_answered("stressfri", "S1", "webnode", Answerer(tick_all()))
    ledger = Ledger(database_url)
    asked = _first_flow_run(ledger)
    assert read_flow_run_input(PrefectInbox("webnode").key, flow_run_id=UUID(asked)) is not None

    answerer = Answerer(tick_all())
    [second] = attest_answered("stressfri", "S1", "webnode", answerer)

    assert second["items"] == 0 and second["settled"] == len(export.submissions), "the late answer settled them"
    first_run = next(e.run_id for e in ledger.entries(kinds={EntryKind.RUN_STARTED}))
    attestations = kinds(ledger, first_run, EntryKind.ATTESTATION)
    assert len(attestations) == len(export.submissions) and all(a.payload["done"] for a in attestations)
    [closed] = kinds(ledger, first_run, EntryKind.RUN_FINISHED)
    assert closed.payload["outcome"] == RECORDED_LATE and closed.payload["closed_by"] == second["run_id"]
    assert read_flow_run_input(PrefectInbox("webnode").key, flow_run_id=UUID(asked)) is None, "the name is gone"
    assert ledger.verify().ok


@pytest.mark.usefixtures("prefect_server")
def test_a_run_that_died_unanswered_is_closed_and_its_items_are_asked_again(
    export: WebnodeManifest, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.attest
    from hygiene.answers import INTERRUPTED

    def dies_while_waiting(*args: Any) -> str:
        raise ConnectionError("the worker restarted")

    with monkeypatch.context() as dying:
        dying.setattr(flows.attest, "ask_and_record", dies_while_waiting)
        with pytest.raises(ConnectionError):
            flows.attest.attest("stressfri", "S1", as_of=AS_OF)

    answerer = Answerer(tick_all())
    [second] = attest_answered("stressfri", "S1", "webnode", answerer)

    assert second["items"] == len(export.submissions) and second["outcome"] == "attested"
    ledger = Ledger(database_url)
    first_run = next(e.run_id for e in ledger.entries(kinds={EntryKind.RUN_STARTED}))
    [closed] = kinds(ledger, first_run, EntryKind.RUN_FINISHED)
    assert closed.payload["outcome"] == INTERRUPTED and closed.payload["items"] == len(export.submissions)
    assert not kinds(ledger, first_run, EntryKind.ATTESTATION)
