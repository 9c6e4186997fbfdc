"""Deployments generated from the policies: one per scheduled rule, in the controller's zone, reproducible."""

from __future__ import annotations

import shutil
import socket
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from pydantic import SecretStr

from deployments.generate import deployment_specs
from hygiene.cadence import LatestOfCadence, next_runs
from hygiene.enforcement import RunContext, start_run
from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_all, load_policy
from hygiene.policy import Action
from hygiene.runs import interval_not_reached
from sandbox.runner import free_port
from tests.cli_runner import Result, run_cli

POLICIES = load_all(policies_dir())
SPECS = {(s.controller, s.rule_ref): s for s in deployment_specs(POLICIES)}
REPO = Path(__file__).resolve().parents[1]


def hygiene(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    return run_cli(capsys, monkeypatch, *args)


def one_error_line(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 1 and len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def test_every_scheduled_rule_with_a_flow_gets_one_deployment_and_the_rest_none() -> None:
    expected = {
        (p.controller, r.ref)
        for p in POLICIES
        for r in p.rules
        if r.cadence is not None
        and r.action in {Action.DELETE, Action.ATTEST, Action.FLAG_FOR_REVIEW, Action.DETECT_AND_FLAG}
    }
    assert set(SPECS) == expected
    assert not {("clienti", "C6"), ("calmo", "K3"), ("calmo", "K4"), ("stressfri", "S6")} & set(SPECS)
    assert SPECS[("calmo", "K2")].entrypoint == "flows/enforce.py:enforce_rule"
    assert SPECS[("stressfri", "S1")].entrypoint == "flows/attest.py:attest"
    # a review of Visma, which has no connector, is a checklist: review-rule would ask for a connector
    assert SPECS[("stressfri", "S5")].entrypoint == "flows/attest.py:attest"
    assert SPECS[("clienti", "C2")].entrypoint == "flows/review.py:review_rule"
    assert SPECS[("clienti", "C7")].entrypoint == "flows/detect.py:detect_rule"
    assert SPECS[("clienti", "C1")].schedule == {"cron": "0 6 * * *", "timezone": "Europe/Copenhagen"}
    assert SPECS[("calmo", "K2")].parameters == {"controller": "calmo", "rule_ref": "K2"}


@pytest.mark.parametrize("key", [("stressfri", "S2"), ("stressfri", "S5")])
def test_an_rrule_schedule_fires_when_the_cadence_does_in_the_controllers_zone(key: tuple[str, str]) -> None:
    from prefect.client.schemas.schedules import RRuleSchedule

    from deployments.serve import prefect_schedule

    policy = load_policy(policies_dir(), key[0])
    rule = policy.rule(key[1])
    assert rule is not None and rule.cadence is not None
    fixed = rule.cadence.fixed if isinstance(rule.cadence, LatestOfCadence) else rule.cadence
    after = datetime(2026, 2, 10, tzinfo=policy.zone)
    prefect = prefect_schedule(SPECS[key].schedule)
    assert isinstance(prefect, RRuleSchedule) and prefect.timezone == policy.timezone
    schedule = prefect.to_rrule()
    prefect_runs = list(schedule.xafter(after, count=4))
    assert prefect_runs == next_runs(fixed, after, 4, policy.zone)


def test_the_served_deployments_carry_the_schedules_and_names_only() -> None:
    from deployments.serve import runner_deployments

    [served] = runner_deployments([SPECS[("stressfri", "S2")]])
    assert served.name == "stressfri-s2-ended-customer-mail-quarterly"
    assert served.parameters == {"controller": "stressfri", "rule_ref": "S2"}
    [schedule] = served.schedules or []
    assert schedule.schedule.timezone == "Europe/Oslo"  # type: ignore[union-attr]


def test_regeneration_is_byte_identical_and_matches_the_committed_prefect_yaml(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    assert hygiene(capsys, monkeypatch, "deploy", "--write", str(first)).code == 0
    assert hygiene(capsys, monkeypatch, "deploy", "--write", str(second)).code == 0
    assert first.read_bytes() == second.read_bytes() == (REPO / "prefect.yaml").read_bytes()


def test_a_policy_change_that_breaks_a_cadence_is_refused_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(policies_dir(), policies)
    clienti = policies / "clienti.yaml"
    text = clienti.read_text(encoding="utf-8")
    assert 'cadence: {cron: "0 6 * * *"}' in text
    clienti.write_text(
        text.replace('cadence: {cron: "0 6 * * *"}', 'cadence: {cron: "0 6 * * 1"}', 1), encoding="utf-8"
    )
    monkeypatch.setenv("HYGIENE_POLICIES_DIR", str(policies))
    written = tmp_path / "prefect.yaml"
    line = one_error_line(hygiene(capsys, monkeypatch, "deploy", "--write", str(written)))
    assert "rule C1: cadence: cron '0 6 * * 1' cannot keep the deadline '5 days'" in line
    assert not written.exists()


def test_an_unreachable_prefect_api_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = f"http://127.0.0.1:{free_port()}/api"
    with temporary_settings(updates={PREFECT_API_URL: url}):
        line = one_error_line(hygiene(capsys, monkeypatch, "deploy"))
    assert f"the Prefect API at PREFECT_API_URL={url} cannot be reached" in line


def test_a_taken_port_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as taken, temporary_settings(restore_defaults={PREFECT_API_URL}):
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_error_line(hygiene(capsys, monkeypatch, "serve", "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is already taken" in line


def test_a_scheduled_run_of_a_compound_cadence_waits_three_months_after_the_last_scheduled_run(
    database_url: str,
) -> None:
    stressfri = load_policy(policies_dir(), "stressfri")
    s2 = stressfri.rule("S2")
    assert s2 is not None
    ledger = Ledger(database_url)
    due = datetime(2026, 10, 1, 6, tzinfo=stressfri.zone)
    assert interval_not_reached(stressfri, s2, ledger, due) is None, "never ran: go"
    ledger.append([run_started("scheduled", dry_run=False, scheduled_for=due)])
    ledger.append([run_started("dry", dry_run=True, scheduled_for=due + relativedelta(months=3))])
    reason = interval_not_reached(stressfri, s2, ledger, due + timedelta(days=40))
    assert reason is not None and "stressfri S2: skipped" in reason and "every 3 months after the last run" in reason
    assert interval_not_reached(stressfri, s2, ledger, due + relativedelta(months=3)) is None
    c1 = load_policy(policies_dir(), "clienti").rule("C1")
    assert c1 is not None and interval_not_reached(stressfri, c1, ledger, due) is None, "plain cadences never wait"


def test_the_three_month_floor_ignores_runs_started_by_hand(database_url: str) -> None:
    """A run by hand weeks after the quarterly run must not push the next quarterly run a quarter further (a
    customer who ended the day after it would keep their mail six months): only the scheduled run counts, and
    from when it was due, not when it started."""
    stressfri = load_policy(policies_dir(), "stressfri")
    s2 = stressfri.rule("S2")
    assert s2 is not None
    ledger = Ledger(database_url)
    due = datetime.now(stressfri.zone).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=45)
    ledger.append([run_started("started a day late", dry_run=False, scheduled_for=due)])
    ledger.append([run_started("by hand", dry_run=False)])  # recorded now, with no scheduled time
    assert interval_not_reached(stressfri, s2, ledger, due + relativedelta(months=3)) is None


def test_a_run_records_when_its_schedule_meant_it_to_start(database_url: str) -> None:
    stressfri = load_policy(policies_dir(), "stressfri")
    s2 = stressfri.rule("S2")
    assert s2 is not None
    ledger = Ledger(database_url)
    due = datetime(2027, 1, 1, 6, tzinfo=stressfri.zone)
    ctx = RunContext(stressfri, s2, "gmail", due + timedelta(days=1), False, SecretStr("k"), scheduled_for=due)
    start_run(ctx, ledger)
    [entry] = ledger.entries(run_id=ctx.run_id)
    assert datetime.fromisoformat(entry.payload["scheduled_for"]) == due


def run_started(run_id: str, dry_run: bool, scheduled_for: datetime | None = None) -> EntryDraft:
    return EntryDraft(
        controller="stressfri",
        run_id=run_id,
        kind=EntryKind.RUN_STARTED,
        rule_ref="S2",
        payload={
            "system": "gmail",
            "dry_run": dry_run,
            "action": "delete",
            **({} if scheduled_for is None else {"scheduled_for": scheduled_for.isoformat()}),
        },
    )


def test_a_flow_run_process_that_ended_before_shutdown_is_one_line_not_a_traceback() -> None:
    import logging
    import sys

    from deployments.serve import AlreadyEnded

    try:
        raise ProcessLookupError(3, "No such process")
    except ProcessLookupError:
        ended = logging.LogRecord(
            "prefect.runner.process_manager", logging.ERROR, __file__, 1, "Failed to kill %s", ("r",), sys.exc_info()
        )
    other = logging.LogRecord(
        "prefect.runner.process_manager", logging.ERROR, __file__, 1, "boom", (), (None, None, None)
    )
    assert AlreadyEnded().filter(ended) and AlreadyEnded().filter(other)
    assert ended.exc_info is None and ended.levelno == logging.INFO and "already ended" in ended.getMessage()
    assert other.levelno == logging.ERROR and other.getMessage() == "boom"
