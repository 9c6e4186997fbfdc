"""Answering an attestation form the way the Prefect UI does: find the paused run, read its form, resume it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run

from tests.paused_runs import PAUSE_LIMIT_SECONDS, now, wait_for_paused_run


@dataclass
class Form:
    """What the UI shows of a paused attestation run: its checkboxes, and its description and titles as text."""

    flow_run_id: UUID
    items: list[str]
    text: str


@dataclass
class Answerer:
    """A person in the UI, in a background thread: `answer(form)` gives the run input to send."""

    answer: Callable[[Form], dict[str, Any]]
    twice: bool = False
    forms: list[Form] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None
    #: set when the run it answers has ended, paused or not, so the person stops looking
    ended: threading.Event = field(default_factory=threading.Event)

    def start(self, system: str) -> Answerer:
        self.thread = threading.Thread(target=self._run, args=(system, now()), daemon=True)
        self.thread.start()
        return self

    def join(self) -> None:
        assert self.thread is not None
        self.ended.set()
        self.thread.join(PAUSE_LIMIT_SECONDS)

    def _run(self, system: str, since: datetime) -> None:
        try:
            form = paused_form(system, since, self.ended)
            self.forms.append(form)
            resume_flow_run(form.flow_run_id, run_input=self.answer(form))
            if self.twice:
                resume_flow_run(form.flow_run_id, run_input=self.answer(form))
        except BaseException as error:  # the test asserts on it
            self.errors.append(error)


def paused_form(system: str, since: datetime, ended: threading.Event | None = None) -> Form:
    """Wait for the attest run started after `since` to pause, then read its form's schema as the UI does."""
    run_id = wait_for_paused_run("attest", since, stop=ended)
    with get_client(sync_client=True) as client:
        base = f"paused-attest-{system}".replace("_", "-")
        schema: dict[str, Any] = json.loads(client.read_flow_run_input(run_id, f"{base}-schema"))
        description: str = json.loads(client.read_flow_run_input(run_id, f"{base}-description"))
    items = [name for name in schema["properties"] if name.startswith("item_")]
    titles = " ".join(str(prop.get("title", "")) for prop in schema["properties"].values())
    return Form(run_id, items, f"{description} {titles}")


def tick_all(name: str = "Kari Nordmann", role: str = "owner") -> Callable[[Form], dict[str, Any]]:
    def answer(form: Form) -> dict[str, Any]:
        return {**dict.fromkeys(form.items, True), "attester_name": name, "attester_role": role}

    return answer
