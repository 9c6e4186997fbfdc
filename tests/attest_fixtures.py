"""Answering an attestation form the way the Prefect UI does: find the paused run, read its form, resume it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

#: how long a test waits for a run to pause before it gives up
PAUSE_LIMIT_SECONDS = 30.0


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

    def start(self, system: str) -> Answerer:
        self.thread = threading.Thread(target=self._run, args=(system,), daemon=True)
        self.thread.start()
        return self

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(PAUSE_LIMIT_SECONDS)

    def _run(self, system: str) -> None:
        try:
            form = paused_form(system)
            self.forms.append(form)
            resume_flow_run(form.flow_run_id, run_input=self.answer(form))
            if self.twice:
                resume_flow_run(form.flow_run_id, run_input=self.answer(form))
        except BaseException as error:  # the test asserts on it
            self.errors.append(error)


def paused_form(system: str) -> Form:
    """Wait (bounded) for an attest run to pause, then read its form's schema as the UI does."""
    give_up = time.monotonic() + PAUSE_LIMIT_SECONDS
    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    with get_client(sync_client=True) as client:
        while time.monotonic() < give_up:
            runs = client.read_flow_runs(flow_run_filter=paused)
            if runs:
                break
            time.sleep(0.1)
        else:
            raise TimeoutError("no attest run paused")
        run_id = runs[0].id
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
