"""The Prefect flows; importing the package makes a run's own errors one line in its log (flows.one_line_errors)."""

from flows.one_line_errors import install

install()
