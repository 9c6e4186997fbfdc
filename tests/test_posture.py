"""The owner's posture: each state seeded in a real SQLite ledger by the parts that write it, read back as rows."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from pydantic import SecretStr

from hygiene.breach import BreachStore
from hygiene.checklist import Answer, Checklist, ChecklistItem, attestation_drafts, checklist_drafts
from hygiene.connector import ConnectorError
from hygiene.enforcement import BatchResult, RunContext, RunPlan, finish_run, start_run
from hygiene.holds import HoldStore
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.planner import Decision, PlanSummary
from hygiene.policies import load_policy
from hygiene.policy import Policy
from hygiene.posture import OrchestratedRun, Posture, RunState, State, as_json, read_posture, rows, terminal_lines
from hygiene.pseudonym import RECORD, SUBJECT, pseudonym
from hygiene.requests import RequestKind, RequestStore
from hygiene.settings import Settings
from hygiene.windows import window_for
from tests.cli_runner import run_cli

CLIENTI = load_policy(policies_dir(), "clienti")
STRESSFRI = load_policy(policies_dir(), "stressfri")
CALMO = load_policy(policies_dir(), "calmo")
UI = "http://127.0.0.1:4200"
EMAIL = "ann.decoy@example.dk"


def key(policy: Policy) -> SecretStr:
    return Settings().key_for(policy.controller)


def context(policy: Policy, ref: str, system: str, flow_run: str | None = None) -> RunContext:
    rule = policy.rule(ref)
    assert rule is not None
    now = datetime.now(policy.zone)
    return RunContext(policy, rule, system, now, dry_run=False, key=key(policy), flow_run=flow_run)


def enforced(
    ledger: Ledger,
    policy: Policy,
    ref: str,
    system: str,
    stopped: str | None = None,
    oldest_overdue: datetime | None = None,
    **counts: int,
) -> RunContext:
    """A rule run as `flows.enforce` records it: its start, then its finish with the planner's counts."""
    ctx = context(policy, ref, system)
    start_run(ctx, ledger)
    deleted = counts.pop("deleted", 0)
    summary = PlanSummary(Counter({Decision(k): v for k, v in counts.items()}), oldest_overdue=oldest_overdue)
    found = RunPlan(summary, [], [])
    finish_run(ctx, ledger, found, BatchResult(deleted=deleted), stopped)
    return ctx


def checklist(ctx: RunContext, *items: tuple[Decision, datetime]) -> Checklist:
    return Checklist(
        controller=ctx.controller,
        rule_ref=ctx.rule.ref,
        system=ctx.system,
        run_id=ctx.run_id,
        as_of=ctx.as_of,
        items=tuple(
            ChecklistItem(
                field=f"item_{n:06x}",
                record=pseudonym(ctx.key, RECORD, f"{ctx.system}:{n}"),
                subject=None,
                kind=ctx.rule.covers.records,
                dated="2026-01-01",
                decision=decision,
                deadline=deadline,
            )
            for n, (decision, deadline) in enumerate(items)
        ),
    )


def by_ref(posture: Posture) -> dict[str, dict[str, str]]:
    return {row["rule"]: row for row in rows(posture)}


@pytest.fixture
def ledger(database_url: str) -> Ledger:
    return Ledger(database_url)


def test_each_state_of_a_delete_review_and_detect_controller(ledger: Ledger) -> None:
    for system in ("mailchimp", "hubspot"):
        enforced(ledger, CLIENTI, "C1", system, keep=5, due=2, deleted=2)
    enforced(ledger, CLIENTI, "C2", "hubspot", keep=40, due=3)
    ended = datetime.now(CLIENTI.zone) - timedelta(days=800)
    enforced(ledger, CLIENTI, "C3", "hubspot", oldest_overdue=ended, keep=9, overdue=2, deleted=2)
    enforced(ledger, CLIENTI, "C4", "gmail", stopped="gmail: the policy names no customer register for this mailbox")
    detect = context(CLIENTI, "C7", "hubspot")
    start_run(detect, ledger)
    ledger.append([detect.draft(EntryKind.RUN_FINISHED, {"scanned": 12, "findings": 0})])
    failed_run = str(uuid.uuid4())
    # a later C7 run that Prefect saw fail before the ledger heard of it
    later = datetime.now(CLIENTI.zone) + timedelta(seconds=1)
    orchestrated = [OrchestratedRun(failed_run, "C7", RunState.FAILED, later, later + timedelta(seconds=2))]
    store = RequestStore(ledger)
    late = store.open(CLIENTI, RequestKind.ERASURE, EMAIL, date(2026, 1, 2), key(CLIENTI))
    fresh = store.open(CLIENTI, RequestKind.ACCESS, "bo@example.dk", datetime.now(CLIENTI.zone).date(), key(CLIENTI))
    holds = HoldStore(ledger)
    holds.add("clienti", reason="dispute 2026-114", set_by="DPO", subject=pseudonym(key(CLIENTI), SUBJECT, EMAIL))
    released = holds.add("clienti", reason="claim 7", set_by="DPO", record=pseudonym(key(CLIENTI), RECORD, "hubspot:7"))
    holds.release(released.hold_id, released_by="DPO")
    closed = store.open(CLIENTI, RequestKind.ACCESS, "cy@example.dk", date(2026, 1, 5), key(CLIENTI))
    store.close(closed.request_id, "answered", {})

    posture = read_posture(CLIENTI, ledger, orchestrated, datetime.now(CLIENTI.zone) + timedelta(minutes=1), UI)
    table = by_ref(posture)

    assert {ref: row["state"] for ref, row in table.items()} == {
        "C1": "kept",
        "C2": "waiting for a person",
        "C3": "overdue 2",
        "C4": "not set up",
        "C5": "no period promised",
        "C6": "overdue 1",
        "C7": "failing",
    }
    assert table["C1"]["outcome"] == "deleted 2, held 0"
    assert table["C3"]["outcome"] == "deleted 2, held 0, 2 past the deadline"
    c3 = CLIENTI.rule("C3")
    assert c3 is not None
    deadline = window_for(CLIENTI, c3, ended).deadline
    assert deadline is not None
    assert table["C3"]["oldest overdue"] == f"{(posture.as_of - deadline).days} days late"
    assert table["C7"]["run"] == f"{UI}/runs/flow-run/{failed_run}"
    assert table["C1"]["next run"] != "-" and table["C1"]["last run"] != "-"
    assert table["C6"]["oldest overdue"].endswith("days late")
    assert [(r.request_id, r.days_left > 0) for r in posture.requests] == [
        (late.request_id, False),
        (fresh.request_id, True),
    ]
    assert (posture.holds_on_subjects, posture.holds_on_records) == (1, 0)
    shown = json.dumps(as_json(posture)) + "\n".join(terminal_lines(posture))
    assert EMAIL not in shown and "bo@example.dk" not in shown and "dispute" not in shown


def test_checklists_answered_in_part_paused_or_never_run(ledger: Ledger) -> None:
    now = datetime.now(STRESSFRI.zone)
    s1 = context(STRESSFRI, "S1", "webnode")
    start_run(s1, ledger)
    asked = checklist(s1, (Decision.OVERDUE, now - timedelta(days=9)), (Decision.DUE, now + timedelta(days=20)))
    ledger.append(checklist_drafts(s1, asked))
    answer = Answer(frozenset({"item_000001"}), frozenset(), attester_name="Owner", role="owner")
    ledger.append(attestation_drafts(s1, asked, answer, ledger))
    ledger.append([s1.draft(EntryKind.RUN_FINISHED, {"items": 2, "outcome": "attested"})])
    paused = str(uuid.uuid4())
    s3 = context(STRESSFRI, "S3", "phone", flow_run=uuid.UUID(paused).hex)
    start_run(s3, ledger)
    ledger.append(checklist_drafts(s3, checklist(s3, (Decision.DUE, now + timedelta(days=30)))))
    # S4 ran through once; its newest run stopped with an error
    enforced(ledger, STRESSFRI, "S4", "offers", keep=3)
    enforced(ledger, STRESSFRI, "S4", "offers", stopped="offers: the workbook cannot be opened")
    # S8's run paused above its safety limit: the ledger has its start only, Prefect knows it is paused
    approval = str(uuid.uuid4())
    start_run(context(STRESSFRI, "S8", "gmail"), ledger)
    orchestrated = [
        OrchestratedRun(paused, "S3", RunState.PAUSED, now),
        OrchestratedRun(approval, "S8", RunState.PAUSED, now - timedelta(seconds=5)),
    ]

    table = by_ref(read_posture(STRESSFRI, ledger, orchestrated, now + timedelta(minutes=1), UI))

    assert table["S1"]["state"] == "overdue 1"
    assert table["S1"]["oldest overdue"] == "9 days late"
    assert table["S3"]["state"] == "waiting for a person"
    assert table["S3"]["run"] == f"{UI}/runs/flow-run/{paused}"
    assert table["S4"]["state"] == "failing"
    assert table["S8"]["state"] == "waiting for a person"
    assert table["S8"]["run"] == f"{UI}/runs/flow-run/{approval}"
    assert table["S2"]["state"] == "not set up" and table["S2"]["outcome"] == "never ran"
    assert table["S6"]["state"] == "no period promised"


def test_a_running_breach_clock_waits_for_its_notices_and_is_overdue_after_72_hours(ledger: Ledger) -> None:
    discovered = datetime.now(CALMO.zone).replace(second=0, microsecond=0) - timedelta(hours=10)
    breach = BreachStore(ledger).open(
        CALMO, discovered, "lost laptop", {"logbooks": {pseudonym(key(CALMO), SUBJECT, EMAIL)}}
    )
    posture = read_posture(CALMO, ledger, [], discovered + timedelta(hours=10))
    assert by_ref(posture)["K4"]["state"] == "waiting for a person"
    assert [(c.breach_id, c.recipient, c.hours_left) for c in posture.breaches] == [
        (breach.breach_id, "authority", 62),
        (breach.breach_id, "subjects", 62),
    ]
    late = read_posture(CALMO, ledger, [], discovered + timedelta(hours=80))
    assert by_ref(late)["K4"]["state"] == "overdue 2"


def test_status_fits_80_columns_and_json_keeps_the_full_quote(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    enforced(ledger, CLIENTI, "C3", "hubspot", keep=9, overdue=2, deleted=2)
    shown = run_cli(capsys, monkeypatch, "status", "--controller", "clienti")
    assert shown.code == 0, shown.err
    assert max(len(line) for line in shown.out.splitlines()) <= 80
    assert "overdue 2" in shown.out
    [document] = run_cli(capsys, monkeypatch, "status", "--controller", "clienti", "--json").json()
    quote = next(r["quote"] for r in document["rules"] if r["rule"] == "C4")
    assert quote == " ".join(CLIENTI.rules[3].quote.text.split()) and len(quote) > 120
    assert State.OVERDUE.value in {r["state"].split()[0] for r in document["rules"]}


@pytest.mark.usefixtures("prefect_server")
def test_the_posture_flow_writes_its_table_under_the_controllers_key_with_prefects_failed_run(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    from flows.enforce import enforce_rule
    from flows.posture import posture

    enforced(ledger, CALMO, "K1", "invoices", keep=4)
    monkeypatch.delenv("HYGIENE_CALMO_INVOICES", raising=False)
    with pytest.raises(ConnectorError):
        enforce_rule("calmo", "K1", pause_for_approval=False)

    posture("calmo")
    [document] = posture("calmo")

    with get_client(sync_client=True) as client:
        artifact, *history = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["posture-calmo"])),
            sort=ArtifactSort.UPDATED_DESC,
        )
    assert len(history) >= 1, "every posture is kept under the key: the UI shows its history"
    assert isinstance(artifact.data, str)
    table = {row["rule"]: row for row in json.loads(artifact.data)}
    assert table["K1"]["state"] == "failing"
    assert "/runs/flow-run/" in table["K1"]["run"]
    assert table["K2"]["state"] == "not set up" and table["K3"]["state"] == "no period promised"
    assert [row["state"] for row in document["rules"]] == [table[ref]["state"] for ref in ("K1", "K2", "K3", "K4")]
    assert "Open requests: 0" in (artifact.description or "")
