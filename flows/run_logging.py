"""A run that fails on an error a user can act on logs one line, in Prefect's log and on the terminal.

Prefect logs every exception that ends a flow or task run with its traceback. For a `HygieneError` (a missing
key, an unreadable folder, a refused parameter) the traceback says nothing the message does not, buries the one
line the user must read, and `hygiene run` prints that line itself afterwards. So the flow and task run loggers
drop the traceback of these errors and keep the line; any other exception keeps its traceback, as a bug should.
"""

from __future__ import annotations

import logging

from hygiene.errors import HygieneError

RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.engine")


class OneLineErrors(logging.Filter):
    """Turns a record about a `HygieneError` into the error's own line, without the traceback; passes every
    record on."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HygieneError):
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            record.msg, record.args = f"{type(error).__name__}: {'; '.join(lines)}", None
            record.exc_info, record.exc_text = None, None
        return True


def log_expected_errors_in_one_line() -> None:
    """Install the filter on Prefect's run loggers, once however often it is called."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, OneLineErrors) for existing in logger.filters):
            logger.addFilter(OneLineErrors())
