"""Policies that would stall or crash validation, or a run (issue 14, item 7): each is one line, quickly.

On the old code an alias bomb in `exemptions` held validation for minutes, YAML nested 20,000 deep ended in a
RecursionError, and a catastrophic or group-less `date_pattern` passed `policies check`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from hygiene.locations import policies_dir
from hygiene.policies import check_policy_file


@pytest.fixture
def calmo(tmp_path: Path) -> Path:
    for name in ("calmo.yaml", "calmo.notice.txt"):
        shutil.copy(policies_dir() / name, tmp_path / name)
    return tmp_path / "calmo.yaml"


def problems_of(path: Path) -> list[str]:
    started = time.monotonic()
    _, problems = check_policy_file(path)
    assert time.monotonic() - started < 1.0, "validation must not stall"
    return [str(problem) for problem in problems]


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_alias_bomb_in_exemptions_is_refused_in_under_a_second(calmo: Path) -> None:
    levels = [f"- &l0 [{', '.join(['legal_hold'] * 9)}]"]
    levels += [f"- &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 12)]
    bomb = "\n".join(f"      {line}" for line in levels)
    replace(calmo, "    exemptions: [legal_hold]\n", f"    exemptions:\n{bomb}\n")
    (problem,) = problems_of(calmo)
    assert "anchors and aliases" in problem and "\n" not in problem


def test_yaml_nested_20000_deep_is_one_line(calmo: Path) -> None:
    with calmo.open("a", encoding="utf-8") as stream:
        stream.write("deep: " + "[" * 20_000 + "]" * 20_000 + "\n")
    (problem,) = problems_of(calmo)
    assert "nested deeper than" in problem


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"^(?P<date>(\d+)+)x$", "long repetition"),
        (r"(?P<date>(a|aa)*)\d", "long repetition"),
        (r"(?P<date>\d{4}-\d{2}-\d{2}).*.*.*x", "more than 2 long repetitions"),
        (r"(?P<date>\d{4})(?=_)", "lookahead"),
        (r"^forloeb-slut_\d{4}-\d{2}-\d{2}_", "no named group 'date'"),
    ],
)
def test_an_unsafe_or_dateless_date_pattern_is_refused_when_the_policy_loads(
    calmo: Path, pattern: str, why: str
) -> None:
    replace(
        calmo,
        r"""date_pattern: '^forloeb-slut_(?P<date>\d{4}-\d{2}-\d{2})_(?P<subject>[^.]+)\.'""",
        f"date_pattern: '{pattern}'",
    )
    (problem,) = problems_of(calmo)
    assert "systems.logbooks.options.date_pattern" in problem and why in problem


def test_the_published_patterns_are_inside_the_safe_subset(calmo: Path) -> None:
    assert problems_of(calmo) == []


def test_an_oversized_policy_is_not_read(calmo: Path) -> None:
    with calmo.open("a", encoding="utf-8") as stream:
        stream.write("# padding\n" * 200_000)
    (problem,) = problems_of(calmo)
    assert "larger than" in problem
