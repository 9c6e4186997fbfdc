"""The short form of the race and stall rows of `make reliability`: each attack once, every hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.campaigns import use_campaign_keys
from reliability.folder_safety import ATTACKS, STALL_CASES, race_campaign, stall_campaign


@pytest.fixture(autouse=True)
def campaign_keys() -> None:
    use_campaign_keys()


def test_every_race_attack_is_caught(tmp_path: Path) -> None:
    attempts = race_campaign(range(len(ATTACKS)), tmp_path)
    assert {attempt.attack for attempt in attempts} == set(ATTACKS)
    assert [attempt for attempt in attempts if not attempt.caught] == []


def test_no_hostile_input_stalls_or_is_mishandled(tmp_path: Path) -> None:
    cases = stall_campaign(tmp_path)
    assert len(cases) == len(STALL_CASES)
    assert [case for case in cases if case.stalled or not case.correct] == []
