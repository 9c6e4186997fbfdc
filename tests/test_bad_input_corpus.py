"""The bad-input corpus: every broken policy, command line and export is refused with one line, exit 1,
no traceback, and nothing changed; every malformed vendor page stops its run in one line with nothing deleted;
and fuzzed policies and exports fail only as HygieneError."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hygiene.errors import HygieneError
from hygiene.locations import policies_dir
from hygiene.policies import check_policy_file
from integrations.webnode import read_export
from reliability.badinput import (
    PAGE_CALLS,
    Verdict,
    cli_cases,
    export_cases,
    judge_cli,
    judge_export,
    policy_cases,
    run_vendor_corpus,
    vendor_cases,
    workspace,
)


def case_id(value: object) -> str | None:
    """The case's own words; a callable is left to pytest's positional id, since its repr holds an address that
    differs between the processes that must collect the same tests."""
    return None if callable(value) else str(value)[:60]


def check(verdict: Verdict) -> None:
    assert verdict.refused_correctly, verdict.why


def test_the_corpus_has_at_least_200_cases(tmp_path: Path) -> None:
    files = len(list(cli_cases())) + len(list(policy_cases())) + len(list(export_cases(tmp_path)))
    assert files + len(list(vendor_cases())) >= 200


@pytest.mark.parametrize(("case", "args"), list(cli_cases()), ids=case_id)
def test_a_bad_command_line_is_refused_in_one_line(case: str, args: list[str], tmp_path: Path) -> None:
    with workspace(tmp_path) as root:
        check(judge_cli(case, args, root))


@pytest.mark.parametrize(("case", "controller", "breaks"), list(policy_cases()), ids=case_id)
def test_a_broken_policy_is_refused_one_line_per_problem(
    case: str, controller: str, breaks: object, tmp_path: Path
) -> None:
    with workspace(tmp_path) as root:
        assert callable(breaks)
        breaks(root / "policies" / f"{controller}.yaml")
        check(judge_cli(case, ["policies", "show", controller], root))


def test_every_broken_export_is_refused_in_one_line(tmp_path: Path) -> None:
    verdicts = [judge_export(case, path) for case, path in export_cases(tmp_path)]
    assert len(verdicts) >= 15
    assert [v for v in verdicts if not v.refused_correctly] == []


def test_every_malformed_vendor_page_stops_the_run_in_one_line_and_deletes_nothing(tmp_path: Path) -> None:
    verdicts = run_vendor_corpus(tmp_path)
    assert {call.vendor for call in PAGE_CALLS} == {"mailchimp", "hubspot", "gmail"}
    assert len(verdicts) == len(list(vendor_cases())) >= 30
    assert [v for v in verdicts if not v.refused_correctly] == []


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(data=st.data())
def test_a_fuzzed_policy_fails_only_as_a_problem_list(data: st.DataObject) -> None:
    original = (policies_dir() / "clienti.yaml").read_bytes()
    start = data.draw(st.integers(0, len(original)))
    end = data.draw(st.integers(start, min(len(original), start + 64)))
    replacement = data.draw(st.binary(max_size=32))
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(policies_dir(), scratch, dirs_exist_ok=True)
        path = Path(scratch) / "clienti.yaml"
        path.write_bytes(original[:start] + replacement + original[end:])
        check_policy_file(path)  # problems are returned as values; any exception fails the test


@_FUZZ
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".xlsx"]))
def test_a_fuzzed_export_fails_only_as_a_hygiene_error(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"export{suffix}"
        path.write_bytes(content)
        try:
            list(read_export(path))
        except HygieneError as error:
            assert len(str(error).splitlines()) == 1
