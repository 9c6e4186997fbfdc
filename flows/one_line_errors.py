"""A missing key or folder inside a run is one line in the run's log, not a traceback.

Prefect logs every exception that ends a flow or task run with its traceback ("Encountered exception during
execution"). For the errors this product raises on purpose (`HygieneError`: a missing pseudonym key, a folder
that is not there, a vendor refusing a token) the traceback says nothing the one-line message does not, and in
the UI it buries that line; so a filter on Prefect's run loggers keeps the message and drops the traceback.
Every other exception keeps its traceback: that is a bug, and the traceback is how it gets found.
"""

from __future__ import annotations

import logging

from hygiene.errors import HygieneError

#: the loggers Prefect's flow and task engines log a run's exception with
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class OneLineErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HygieneError):
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            record.msg, record.args = f"{type(error).__name__}: {'; '.join(lines)}", None
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Add the filter once to each run logger (importing `flows` calls this)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OneLineErrors) for f in logger.filters):
            logger.addFilter(OneLineErrors())
