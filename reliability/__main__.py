"""`python -m reliability` (`make reliability`): every campaign on SQLite and PostgreSQL, then one table.

`--seeds N` sets the crash seeds per scenario and backend (default 50); `--fault-seeds` the fault campaign's.
Exit status 1 when any figure that must be zero is not.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from reliability.campaigns import Figures, run_all


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--seeds", type=int, default=50, help="crash seeds per scenario and backend")
    parser.add_argument("--fault-seeds", type=int, default=2, help="fault campaign seeds per backend")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo privacy scan (it starts Prefect)")
    options = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
        figures = run_all(Path(scratch), range(options.seeds), range(options.fault_seeds), not options.no_demo)
    print(render(figures, options.seeds, options.fault_seeds, time.monotonic() - started))
    sys.exit(0 if figures.all_clear() else 1)


def render(figures: Figures, seeds: int, fault_seeds: int, seconds: float) -> str:
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})"
    width = max(len(row[0]) for row in figures.rows()) + 2
    lines = [
        f"reliability: crash seeds 0..{seeds - 1} per scenario and backend, fault seeds 0..{fault_seeds - 1}; "
        f"{seconds / 60:.1f} min on {machine}",
        f"{'figure':<{width}}{'sqlite':>14}{'postgresql':>14}{'must be':>10}",
    ]
    lines += [f"{name:<{width}}{lite:>14}{pg:>14}{want:>10}" for name, lite, pg, want in figures.rows()]
    lines += [f"FAIL {failure}" for failure in figures.failures]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
