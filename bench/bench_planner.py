"""Planner throughput on one core, and peak memory when planning 10k against 1M records.

    python -m bench.bench_planner [--records 1000000]

The planner is fed a generator, as a connector feeds it, and the decisions are consumed and dropped, as the
enforcement path consumes them (it keeps only the records to act on, here none). Goals: at least 500k
records/s, and a peak RSS that does not grow with the number of records planned. The naive baseline computes
each record's window with period arithmetic (what the planner avoids by turning the window around once).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from hygiene.connector import Record
from hygiene.locations import policies_dir
from hygiene.planner import Decision, plan
from hygiene.policies import load_policy
from hygiene.windows import window_for

GOAL_PER_SECOND = 500_000
AS_OF = datetime(2026, 11, 23, 12, tzinfo=UTC)


def records(count: int) -> Iterator[Record]:
    """Unsubscribes spread over the last 30 days: a mix of kept, due and overdue for Clienti's C1."""
    start = AS_OF - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    for index in range(count):
        yield Record(str(index), "subject", start + step * index)


def planner_rate(count: int) -> float:
    policy = load_policy(policies_dir(), "clienti")
    rule = policy.rule("C1")
    assert rule is not None
    began = time.perf_counter()
    deque(plan(records(count), policy, rule, AS_OF), maxlen=0)
    return count / (time.perf_counter() - began)


def naive_rate(count: int) -> float:
    policy = load_policy(policies_dir(), "clienti")
    rule = policy.rule("C1")
    assert rule is not None
    began = time.perf_counter()
    for record in records(count):
        assert record.trigger is not None
        window = window_for(policy, rule, record.trigger)
        assert window.deadline is not None
        _ = Decision.OVERDUE if window.deadline < AS_OF else Decision.DUE
    return count / (time.perf_counter() - began)


def peak_rss_mib(count: int) -> float:
    """Plan `count` records in a fresh process and report its peak RSS, so runs do not share a high-water mark."""
    code = (
        "import resource, sys; from collections import deque; from bench.bench_planner import *;"
        "policy = load_policy(policies_dir(), 'clienti'); rule = policy.rule('C1');"
        f"deque(plan(records({count}), policy, rule, AS_OF), maxlen=0);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description="Planner throughput and memory.")
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    rate = planner_rate(args.records)
    baseline = naive_rate(min(args.records, 100_000))
    small, large = peak_rss_mib(10_000), peak_rss_mib(args.records)
    print(f"planner:  {rate:,.0f} records/s on one core ({args.records:,} records; goal {GOAL_PER_SECOND:,})")
    print(f"naive:    {baseline:,.0f} records/s (window arithmetic per record)")
    print(f"peak RSS: {small:.1f} MiB for 10k records, {large:.1f} MiB for {args.records:,} (goal: flat)")
    print(f"self RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
