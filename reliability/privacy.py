"""Privacy scan: after the full demo, nothing the tool keeps holds a seeded person, and no secret is printed.

`hygiene demo` runs in a scratch working directory with Prefect's home inside it, so everything it leaves
(`.demo/` with its ledger and drive, Prefect's database and logs) is there to scan, with its captured output,
the cassettes and the benchmark results. The needles are the seeder's ground truth, regenerated from the
demo's seed: file names, client references and the names written inside the files; the secrets are the
controller keys and the sandbox's vendor credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sandbox import credentials
from sandbox.seed_files import calmo_folder
from tests.privacy import hits, sqlite_rows
from tests.test_privacy_of_runs import needles

REPO = Path(__file__).resolve().parents[1]
_TEXT_SUFFIXES = {".json", ".yaml", ".yml", ".md", ".txt", ".log", ".csv", ""}


@dataclass(frozen=True)
class PrivacyScan:
    where: str
    scanned: int
    personal_hits: int
    secret_hits: int


def demo_scan(scratch: Path) -> tuple[list[PrivacyScan], str | None]:
    """Run the demo and scan each place it left something, one row per place, even when the demo failed
    part way (what it left then is scanned all the same); the second item is the demo's last error line."""
    work, home = scratch / "demo-cwd", scratch / "prefect-home"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    env = {k: v for k, v in env.items() if not k.startswith(("HYGIENE_KEY_", "HYGIENE_DATABASE_URL"))}
    started = datetime.now().astimezone()
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo"],
        cwd=work,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    failed = None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no output"])[-1]
    people = needles(calmo_folder(scratch / "truth", seed=2026, now=started, invoices=60, logbooks=16))
    secrets = {f"demo-only-key-{c}-not-secret" for c in ("clienti", "stressfri", "calmo", "balance", "balansekonomi")}
    secrets |= {credentials.MAILCHIMP_API_KEY, credentials.HUBSPOT_ACCESS_TOKEN, credentials.GMAIL_ACCESS_TOKEN}
    places = {
        "demo output": [done.stdout, done.stderr],
        "demo ledger and files (.demo/)": list(_texts(work / ".demo")),
        "Prefect database and logs": list(_texts(home)),
        "cassettes (tests/cassettes/)": list(_texts(REPO / "tests" / "cassettes")),
        "benchmark outputs (bench/results/)": list(_texts(REPO / "bench" / "results")),
    }
    scans = [
        PrivacyScan(where, len(texts), len(hits(texts, people)), len(hits(texts, secrets)))
        for where, texts in places.items()
    ]
    return scans, failed


def _texts(root: Path) -> Iterator[str]:
    """Every SQLite row and text file under `root`, except the seeded drive: that is the controller's own
    system (where the names belong), not something the tool keeps."""
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "calmo-drive" in path.parts:
            continue
        if path.suffix == ".db":
            yield from sqlite_rows(path)
        elif path.suffix in _TEXT_SUFFIXES:
            yield path.read_text(encoding="utf-8", errors="replace")
