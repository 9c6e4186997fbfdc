"""Sandboxes for the emulator tests: one shared per session, or a fresh one for a test that needs its own state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.runner import RunningSandbox, running_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as sb:
        yield sb


@pytest.fixture
def fresh_sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as sb:
        yield sb
