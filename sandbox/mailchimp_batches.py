"""Mailchimp batch operations: `POST /batches` queues many calls and runs them in the background.

As at Mailchimp, a batch moves pending -> preprocessing -> started -> finalizing -> finished; each operation's
failure shows only in the results, a gzipped tar archive of JSON files (each a list of `status_code`,
`operation_id` and `response`, the latter the response body as a JSON string) behind `response_body_url`,
which needs no API key (Mailchimp hands out a pre-signed storage URL). Operations are replayed through the
emulator's own app in-process, so a batched call behaves exactly like the same call made directly.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import tarfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from sandbox.common import call_in_process
from sandbox.mailchimp_store import invalid, mc_time, not_found
from sandbox.state import SandboxClock

BATCH_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: operations per JSON file inside the results archive
RESULTS_PER_FILE = 500


@dataclass
class Batch:
    id: str
    operations: list[dict[str, Any]]
    submitted_at: datetime
    results_url: str
    status: str = "pending"
    finished: int = 0
    errored: int = 0
    completed_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        done = self.status == "finished"
        return {
            "id": self.id,
            "status": self.status,
            "total_operations": len(self.operations),
            "finished_operations": self.finished,
            "errored_operations": self.errored,
            "submitted_at": mc_time(self.submitted_at),
            "completed_at": mc_time(self.completed_at),
            "response_body_url": self.results_url if done else "",
            "_links": [],
        }


class BatchRunner:
    """Accepts batches and runs each on its own daemon thread against `app`."""

    def __init__(self, app: FastAPI, clock: SandboxClock, phase_seconds: float = 0.02) -> None:
        self._app = app
        self._clock = clock
        self._phase_seconds = phase_seconds
        self._batches: dict[str, Batch] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, body: dict[str, Any], results_base_url: str) -> Batch:
        operations = _valid_operations(body)
        with self._lock:
            batch_id = f"{next(self._ids):010x}"
            batch = Batch(batch_id, operations, self._clock.now(), f"{results_base_url}{batch_id}.tar.gz")
            self._batches[batch_id] = batch
        threading.Thread(target=self._run, args=(batch,), name=f"mailchimp-batch-{batch_id}", daemon=True).start()
        return batch

    def get(self, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise not_found()
        return batch

    def all(self) -> list[Batch]:
        with self._lock:
            return list(self._batches.values())

    def archive(self, batch_id: str) -> bytes:
        """The results as Mailchimp serves them: a .tar.gz of JSON files."""
        batch = self.get(batch_id)
        if batch.status != "finished":
            raise not_found()
        return _tar_gz(batch)

    def _run(self, batch: Batch) -> None:
        for phase in ("preprocessing", "started"):
            time.sleep(self._phase_seconds)
            self._set_status(batch, phase)
        for operation in batch.operations:
            result = self._execute(operation)
            with self._lock:
                batch.results.append(result)
                batch.finished += 1
                batch.errored += int(result["status_code"] >= 400)
        self._set_status(batch, "finalizing")
        time.sleep(self._phase_seconds)
        with self._lock:
            batch.completed_at = self._clock.now()
            batch.status = "finished"

    def _set_status(self, batch: Batch, status: str) -> None:
        with self._lock:
            batch.status = status

    def _execute(self, operation: dict[str, Any]) -> dict[str, Any]:
        body = operation.get("body") or ""
        status, payload = call_in_process(
            self._app, operation["method"], operation["path"], operation.get("params") or {}, body.encode()
        )
        return {
            "status_code": status,
            "operation_id": operation.get("operation_id"),
            "response": payload.decode() or "{}",
        }


def _valid_operations(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Mailchimp's schema for a batch: `operations`, each with a method and path; `body` is a JSON string."""
    operations = body.get("operations")
    if not isinstance(operations, list):
        raise invalid(
            "The resource submitted could not be validated.",
            [{"field": "operations", "message": "Schema describes array, NULL found instead"}],
        )
    for index, operation in enumerate(operations):
        problem = _operation_problem(operation)
        if problem:
            raise invalid(
                "The resource submitted could not be validated.",
                [{"field": f"operations.item:{index}", "message": problem}],
            )
    return [dict(operation, method=operation["method"].upper()) for operation in operations]


def _operation_problem(operation: Any) -> str:
    if not isinstance(operation, dict):
        return "Schema describes object"
    if str(operation.get("method", "")).upper() not in BATCH_METHODS:
        return "Schema describes enum, but the method is not one of GET, POST, PUT, PATCH, DELETE"
    if not isinstance(operation.get("path"), str) or not operation["path"].startswith("/"):
        return "Schema describes string, and the path must start with /"
    if "body" in operation and not isinstance(operation["body"], str):
        return "Schema describes string, object found instead (body must be a JSON-encoded string)"
    if "params" in operation and not isinstance(operation["params"], dict):
        return "Schema describes object (params)"
    return ""


def _tar_gz(batch: Batch) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for index in range(0, max(len(batch.results), 1), RESULTS_PER_FILE):
            chunk = json.dumps(batch.results[index : index + RESULTS_PER_FILE]).encode()
            info = tarfile.TarInfo(name=f"{batch.id}-{index // RESULTS_PER_FILE}.json")
            info.size = len(chunk)
            tar.addfile(info, io.BytesIO(chunk))
    return buffer.getvalue()
