"""Privacy scan: after the full demo, nothing the tool keeps holds a seeded person, and no secret is printed.

`hygiene demo` runs in a scratch working directory with Prefect's home inside it, so everything it leaves
(`.demo/` with its ledger, request store, letters and reports, Prefect's database and logs) is there to scan,
with its captured output, the cassettes and the benchmark results. The needles are every person the demo
seeds, regenerated from its seeds and clock (reliability.seeded_people, which also states the rule that keeps
needles from matching ordinary text); the secrets are the controller keys and the sandbox's vendor credentials.

Not scanned, because they are where the people belong rather than something the tool keeps:
- the controllers' own systems the demo seeds into its workspace (Calmo's drive, Stressfri's offers workbook
  and Webnode export), found as the files the regenerated scenes write; any other file the tool leaves beside
  them (a backup, a temporary copy) is scanned;
- the access export's copy of the person's data (`export.json`, `export.html`), which is the controller's
  answer to that person and holds their data by design. The reply letters, the erasure letter and the one
  delivered with the export, are scanned: they go to the person but are also what an operator files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import MetaData

from cli.demo import WORKSPACE
from hygiene.breach import breaches_table
from hygiene.keys import public_key
from hygiene.requests import requests_table
from reliability.seeded_people import seeded_people
from sandbox import credentials
from tests.privacy import hits, sqlite_rows

REPO = Path(__file__).resolve().parents[1]
_TEXT_SUFFIXES = {".json", ".yaml", ".yml", ".md", ".txt", ".log", ".csv", ".html", ""}
_ANSWER_FILES = {"export.json", "export.html"}
_REQUEST_TABLES = {requests_table(MetaData()).name, breaches_table(MetaData()).name}
_SECRETS = {
    public_key("demo", name) for name in ("clienti", "stressfri", "calmo", "balance", "balansekonomi", "ledger")
} | {
    credentials.MAILCHIMP_API_KEY,
    credentials.HUBSPOT_ACCESS_TOKEN,
    credentials.GMAIL_ACCESS_TOKEN,
}


@dataclass(frozen=True)
class PrivacyScan:
    where: str
    scanned: int
    personal_hits: int
    secret_hits: int


def demo_scan(scratch: Path) -> tuple[list[PrivacyScan], str | None]:
    """Run the demo and scan each place it left something, one row per place, even when the demo failed
    part way (what it left then is scanned all the same); the second item is the demo's last error line."""
    work, home, truth = scratch / "demo-cwd", scratch / "prefect-home", scratch / "truth"
    started = datetime.now().astimezone()
    done = _run_demo(work, home)
    failed = None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no output"])[-1]
    people = seeded_people(truth, started).needles()
    return scan(demo_places(done, work, home, controller_systems(truth)), people), failed


def scan(places: Mapping[str, list[str]], people: Set[str]) -> list[PrivacyScan]:
    return [
        PrivacyScan(where, len(texts), len(hits(texts, people)), len(hits(texts, _SECRETS)))
        for where, texts in places.items()
    ]


def _run_demo(work: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`hygiene demo` in `work`, Prefect's home in `home`, with none of the caller's keys or ledger."""
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    env = {
        k: v for k, v in env.items() if not k.startswith(("HYGIENE_KEY_", "HYGIENE_LEDGER_KEY", "HYGIENE_DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "demo"],
        cwd=work,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def controller_systems(workspace: Path) -> set[Path]:
    """The files the regenerated scenes wrote, relative to their workspace: the controllers' own systems."""
    return {path.relative_to(workspace) for path in workspace.rglob("*") if path.is_file()}


def demo_places(
    done: subprocess.CompletedProcess[str], work: Path, home: Path, systems: Set[Path]
) -> dict[str, list[str]]:
    """What to scan, by the place it is kept."""
    demo = work / WORKSPACE.parts[0]
    skipped = {work / WORKSPACE / relative for relative in systems}
    return {
        "demo output": [done.stdout, done.stderr],
        "demo ledger and files (.demo/)": list(_texts(demo, skipped)),
        "request store (requests, breaches)": list(_request_rows(demo)),
        "Prefect database and logs": list(_texts(home)),
        "cassettes (tests/cassettes/)": list(_texts(REPO / "tests" / "cassettes")),
        "benchmark outputs (bench/results/)": list(_texts(REPO / "bench" / "results")),
    }


def _texts(root: Path, skipped: Set[Path] = frozenset()) -> Iterator[str]:
    """Every SQLite row (the request store apart) and text file under `root`, but those `skipped` and the
    access export's data."""
    for path in _files(root):
        if path in skipped or path.name in _ANSWER_FILES:
            continue
        if path.suffix == ".db":
            yield from sqlite_rows(path, lambda table: table not in _REQUEST_TABLES)
        elif path.suffix in _TEXT_SUFFIXES:
            yield path.read_text(encoding="utf-8", errors="replace")


def _request_rows(root: Path) -> Iterator[str]:
    for path in _files(root):
        if path.suffix == ".db":
            yield from sqlite_rows(path, _REQUEST_TABLES.__contains__)


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []
