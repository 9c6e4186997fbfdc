"""Tables fit an 80-column terminal: a quote is shortened with an ellipsis, and `--json` keeps its full text."""

from __future__ import annotations

import pytest

from tests.cli_runner import run_cli


@pytest.mark.parametrize("controller", ["clienti", "stressfri"])
def test_policies_show_fits_80_columns_and_json_keeps_the_whole_quote(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, controller: str
) -> None:
    shown = run_cli(capsys, monkeypatch, "policies", "show", controller, columns=80)
    rules = run_cli(capsys, monkeypatch, "policies", "show", controller, "--json").json()["rules"]
    lines = shown.out.splitlines()
    assert shown.code == 0 and max(len(line) for line in lines) <= 80
    # a rule takes a handful of lines, not one line per word of its quote
    assert len(lines) <= 8 * len(rules), shown.out
    longest = max(rules, key=lambda rule: len(rule["quote"]))
    opening = " ".join(longest["quote"].split()[:3])
    assert f"“{opening}" in shown.out and "…" in shown.out and longest["quote"] not in shown.out
    assert len(longest["quote"]) > 80


def test_schedule_keeps_a_long_cadence_to_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("schedule", "--controller", "stressfri", "--after", "2026-11-23T00:00+01:00", "--count", "2")
    shown = run_cli(capsys, monkeypatch, *args, columns=80)
    cadences = {row["ref"]: row["cadence"] for row in run_cli(capsys, monkeypatch, *args, "--json").json()}
    s2 = next(line for line in shown.out.splitlines() if " S2 " in line)
    assert max(len(line) for line in shown.out.splitlines()) <= 80
    assert s2.split("│")[2].strip().endswith("…") and "whichever comes last" in cadences["S2"]


def test_open_requests_fit_80_columns_with_the_id_and_dates_whole(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = run_cli(
        capsys, monkeypatch, "request", "open", "--controller", "balansekonomi", "--kind", "rectification",
        "--email", "a@example.se", "--received", "2026-11-02", "--json",
    ).json()  # fmt: skip
    shown = run_cli(capsys, monkeypatch, "requests", columns=80).out
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert opened["request"] in shown and "2026-11-02" in shown and str(opened["deadline"]) in shown
    assert "balansekonomi" in shown and "rectification" in shown
