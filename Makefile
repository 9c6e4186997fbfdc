# The two commands of the README: `make demo` and `make test`. Each builds .venv from the lock on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
SYNCED := $(VENV)/.synced

.PHONY: install test lint typecheck pytest demo bench postgres browser lock ui reliability playground

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): pyproject.toml uv.lock $(BIN)/uv
	$(BIN)/uv sync --locked --quiet
	touch $(SYNCED)

install: $(SYNCED)

# PostgreSQL serves the ledger and Prefect tests on 127.0.0.1:5432; start the local cluster if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "error: PostgreSQL is not answering on 127.0.0.1:5432"; exit 1

# The browser test drives Debian's Chromium through Playwright (never a browser Playwright downloads).
browser:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium chromium-driver)

lint: install
	$(BIN)/uv lock --check --quiet
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --quiet .

typecheck: install
	$(BIN)/mypy

# Three test processes (one Prefect test server each: the tests wait on servers more than they compute), stealing
# work from each other; scale and campaign runs (marked slow) belong to `make bench`
# and `make reliability`, keeping this under 10 minutes on a 2-core machine.
pytest: install postgres browser
	$(BIN)/pytest -m "not slow" -n 3 --dist worksteal

test: lint typecheck pytest

demo: install
	$(BIN)/hygiene demo

# The demo's world kept running for people: emulators, files, demo-only keys; writes .demo/env. Ctrl-C stops it.
playground: install
	$(BIN)/hygiene playground

# The Prefect UI with every policy's deployments: a server on SQLite under .demo/prefect (or PREFECT_API_URL's), on
# the playground's world: the running one's .demo/env, else one started here. Your own accounts: `hygiene serve`.
ui: install
	@if [ -f .demo/env ]; then . ./.demo/env && exec $(BIN)/hygiene serve; else exec $(BIN)/hygiene serve --playground; fi

bench: install postgres
	$(BIN)/python -m bench
	$(BIN)/pytest -m slow tests/test_scale_out.py

lock:
	$(BIN)/uv lock

# Crash, fault, bad-input, privacy and isolation campaigns on SQLite and PostgreSQL; prints one table.
reliability: install postgres
	$(BIN)/python -m reliability
	$(BIN)/pytest -m slow tests/test_gmail_fault_campaign.py tests/test_served_api.py tests/test_demo_output.py
