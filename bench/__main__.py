"""`make bench`: every benchmark in this folder, one after another, each in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    failed = 0
    for module in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"\n== {module.stem}", flush=True)
        failed += subprocess.run([sys.executable, "-m", f"bench.{module.stem}"], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
