"""Copies of the real policies that a test may break, without touching the checked-in files."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

POLICIES = Path(__file__).resolve().parents[1] / "policies"

Editor = Callable[[str, Callable[[str], str]], Path]


@pytest.fixture
def policy_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Editor:
    """A copy of policies/ that the CLI reads; the returned editor rewrites one controller's YAML text."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    monkeypatch.setenv("HYGIENE_POLICIES_DIR", str(target))

    def edit(controller: str, change: Callable[[str], str]) -> Path:
        path = target / f"{controller}.yaml"
        original = path.read_text(encoding="utf-8")
        changed = change(original)
        assert changed != original, "the edit did not change the policy"
        path.write_text(changed, encoding="utf-8")
        return path

    return edit
