"""The `hygiene` command: a thin layer over the library, and the outermost layer of the project.

It sits above flows/ (for `hygiene run`) and sandbox/ (for `hygiene sandbox`), so it lives outside hygiene/,
which imports nothing of ours.
"""

import os

# The first start of Prefect's embedded server migrates a new database, which on a busy two-core machine takes
# longer than Prefect's 20-second default: the first `make demo` would fail. Set before Prefect is imported, as
# Prefect reads its settings once.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# Prefect's temporary server and its client report usage to Prefect by default; this tool runs on machines that
# hold personal data and sends nothing anywhere it was not asked to (and the failed attempts logged an ERROR).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
