"""A missing key or folder inside a run is one line in the run's log, not a traceback; a bug keeps its traceback."""

from __future__ import annotations

import logging
import sys

import pytest

from flows.run_logging import OneLineErrors
from hygiene.errors import MissingSecretKey


@pytest.mark.usefixtures("prefect_server")
def test_a_run_without_its_key_logs_one_line_and_no_traceback(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    from flows.enforce import enforce_rule

    monkeypatch.delenv("HYGIENE_KEY_CALMO")
    state = enforce_rule("calmo", "K2", dry_run=True, return_state=True)
    assert state.is_failed()
    APILogHandler().flush()
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    errors = [log.message for log in logs if log.level >= logging.ERROR]
    assert errors and not [message for message in errors if "Traceback" in message], errors
    assert any(m.startswith("MissingSecretKey: no pseudonym key for controller 'calmo'") for m in errors), errors
    assert all("\n" not in message for message in errors)


def test_an_unexpected_error_keeps_its_traceback() -> None:
    try:
        raise KeyError("bug")
    except KeyError:
        record = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "boom %r", ("x",), sys.exc_info())
    assert OneLineErrors().filter(record) and record.exc_info is not None and record.getMessage() == "boom 'x'"
    try:
        raise MissingSecretKey("no key\nset it")
    except MissingSecretKey:
        record = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "boom %r", ("x",), sys.exc_info())
    assert OneLineErrors().filter(record) and record.exc_info is None
    assert record.getMessage() == "MissingSecretKey: no key; set it"
