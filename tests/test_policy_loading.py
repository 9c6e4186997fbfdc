"""Loading policies: all of them validate, and every kind of bad input is one line naming file, rule and field."""

from pathlib import Path

import pytest

from hygiene.policies import check_directory, quote_appears
from tests.cli_runner import run_cli
from tests.policy_fixtures import POLICIES, Editor, policy_copy

__all__ = ["policy_copy"]

ALL_REFS = (
    [f"C{i}" for i in range(1, 8)]
    + [f"S{i}" for i in range(1, 10)]
    + [f"K{i}" for i in range(1, 5)]
    + [f"B{i}" for i in range(1, 9)]
    + [f"E{i}" for i in range(1, 5)]
)


def test_all_32_rules_load_and_validate() -> None:
    policies, problems = check_directory(POLICIES)
    assert problems == []
    assert sorted(r.ref for p in policies for r in p.rules) == sorted(ALL_REFS)
    assert {p.controller for p in policies} == {"clienti", "stressfri", "calmo", "balance", "balansekonomi"}


def test_every_rule_quotes_its_notice_in_the_notices_language() -> None:
    policies, _ = check_directory(POLICIES)
    for policy in policies:
        notice = (POLICIES / policy.notice.file).read_text(encoding="utf-8")
        for rule in policy.rules:
            assert quote_appears(rule.quote.text, notice), rule.ref


def test_the_none_action_still_lists_hano_with_its_reason() -> None:
    policies, _ = check_directory(POLICIES)
    s6 = next(r for p in policies for r in p.rules if r.ref == "S6")
    assert s6.action.value == "none"
    assert s6.reason
    assert s6.cadence is None


def _one_error(result_err: str) -> str:
    lines = [line for line in result_err.splitlines() if line.strip()]
    assert len(lines) == 1, result_err
    assert "Traceback" not in result_err
    return lines[0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '    action: delete\n    exemptions: [legal_hold, bookkeeping_duty]\n    reading: >-\n      "Fra',
            '    action: obliterate\n    exemptions: [legal_hold, bookkeeping_duty]\n    reading: >-\n      "Fra',
            "policies/clienti.yaml: rule C1: action: 'obliterate' is not one of",
        ),
        (
            "window: {deadline: 5 days}",
            "window: {deadline: 5 dayz}",
            "policies/clienti.yaml: rule C1: window.deadline: '5 dayz' is not a period",
        ),
        (
            "    title: Delete a newsletter recipient at the latest 5 days after the unsubscribe\n",
            "",
            "policies/clienti.yaml: rule C1: title: missing",
        ),
        (
            "timezone: Europe/Copenhagen",
            "timezone: Europe/Aalborg",
            "policies/clienti.yaml: timezone: unknown time zone 'Europe/Aalborg'",
        ),
        (
            '    cadence: {cron: "0 6 * * *"}\n    action: delete',
            '    cadence: {cron: "0 6 * * 1"}\n    action: delete',
            "policies/clienti.yaml: rule C1: cadence: cron '0 6 * * 1' cannot keep the deadline '5 days'",
        ),
        (
            "senest 5 dage efter afmeldelsen.",
            "senest 3 dage efter afmeldelsen.",
            "policies/clienti.yaml: rule C1: quote.text: the quote no longer appears in clienti.notice.txt",
        ),
        (
            "systems: [mailchimp, hubspot]\n      records: newsletter",
            "systems: [mailchimp, salesforce]\n      records: newsletter",
            "policies/clienti.yaml: rule C1: covers.systems: unknown system 'salesforce'",
        ),
        (
            "systems: [mailchimp, hubspot, gmail, web_forms]",
            "systems: [mailchimp, hubspot, gmail]",
            "policies/clienti.yaml: systems.web_forms: no rule covers it",
        ),
        (
            '    cadence: {cron: "0 6 * * *"}\n    action: delete\n',
            '    cadence: {cron: "0 6 * * *"}\n    action: delete\n    finding: no_period_promised\n',
            "rule C1: a 'finding' marks a gap in the notice, so nothing is enforced: use action 'none'",
        ),
    ],
    ids=[
        "unknown-action",
        "bad-period",
        "missing-field",
        "unknown-zone",
        "weekly-cannot-keep-5-days",
        "quote-not-in-notice",
        "unknown-system",
        "system-no-rule-shows",
        "finding-on-a-deleting-rule",
    ],
)
def test_a_broken_policy_is_one_line_naming_file_rule_and_field(
    policy_copy: Editor,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
    expected: str,
) -> None:
    policy_copy("clienti", lambda text: text.replace(old, new, 1))
    result = run_cli(capsys, monkeypatch, "policies", "check")
    assert result.code == 1
    line = _one_error(result.err)
    assert line.startswith("error: ")
    assert expected in line


def test_the_weekly_cadence_message_shows_the_worst_case_delay(
    policy_copy: Editor, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_copy(
        "clienti",
        lambda t: t.replace(
            'cadence: {cron: "0 6 * * *"}\n    action: delete', 'cadence: {cron: "0 6 * * 1"}\n    action: delete', 1
        ),
    )
    line = _one_error(run_cli(capsys, monkeypatch, "policies", "check").err)
    assert "delay 6 days 6 hours" in line


def test_a_changed_notice_is_reported_as_drift(
    policy_copy: Editor, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    notice = tmp_path / "policies" / "calmo.notice.txt"
    notice.write_text(notice.read_text(encoding="utf-8") + "\nEn ny sætning.\n", encoding="utf-8")
    result = run_cli(capsys, monkeypatch, "policies", "check")
    assert result.code == 1
    assert "policies/calmo.yaml: notice.sha256: the notice changed" in _one_error(result.err)


def test_invalid_yaml_names_the_line(
    policy_copy: Editor, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_copy("clienti", lambda text: text.replace("rules:\n", "rules:\n  - ref: [\n", 1))
    line = _one_error(run_cli(capsys, monkeypatch, "policies", "check").err)
    assert "policies/clienti.yaml: line" in line and "not valid YAML" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("policies", "show", "acme"), "unknown controller 'acme'"),
        (("policies", "window", "clienti", "C99", "--trigger", "2026-01-01T00:00+01:00"), "unknown rule 'C99'"),
        (("policies", "window", "clienti", "C1", "--trigger", "2026-01-01T09:00"), "has no UTC offset"),
        (("policies", "window", "clienti", "C1", "--trigger", "2026-02-30T09:00+01:00"), "not a valid ISO 8601"),
        (("deadline", "calmo", "--received", "2026-13-01"), "not a valid ISO 8601 date"),
        (("schedule", "--controller", "calmo", "--after", "2026-11-23T00:00", "--count", "2"), "has no UTC offset"),
        (("schedule", "--controller", "calmo", "--after", "2026-11-23T00:00+01:00", "--count", "0"), "--count"),
    ],
    ids=[
        "unknown-controller",
        "unknown-ref",
        "naive-datetime",
        "impossible-date",
        "impossible-received",
        "naive-after",
        "count-zero",
    ],
)
def test_bad_cli_input_is_one_line_and_exit_1(
    args: tuple[str, ...], expected: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(capsys, monkeypatch, *args)
    assert result.code == 1
    assert expected in _one_error(result.err)


def test_a_scheduled_review_of_a_system_kept_by_hand_is_refused_as_unable_to_run(
    policy_copy: Editor, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """S5 as it was: a review-rule deployment asking Visma, which has no connector, for records every August."""
    policy_copy(
        "stressfri",
        lambda text: text.replace(
            "    action: attest\n    reading: >-\n      Kept as long",
            "    action: flag_for_review\n    reading: >-\n      Kept as long",
        ),
    )
    result = run_cli(capsys, monkeypatch, "policies", "check")
    assert result.code == 1
    assert _one_error(result.err).endswith(
        "policies/stressfri.yaml: rule S5: action: 'visma' is kept by hand with no register, so a scheduled review "
        "of it cannot read anything: make it a checklist (action attest)"
    )
