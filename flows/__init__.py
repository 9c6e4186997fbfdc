"""The Prefect flows; importing any of them makes a failed run's expected error one line in its log."""

from flows.run_logging import log_expected_errors_in_one_line

log_expected_errors_in_one_line()
