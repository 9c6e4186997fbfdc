"""Reliability campaigns: crashes, vendor faults, bad input, privacy and tenant isolation, measured as counts.

Each campaign runs the product's real code paths (the enforcement steps, the ledger, the CLI, the emulators)
and returns figures that must all be zero (or all true); `python -m reliability` prints them as one table. It
lives beside bench/ rather than in it because its figures are pass/fail guarantees, not timings, and
tests/test_reliability_short.py runs a short form of the same code in `make test`.
"""
