"""Benchmarks at scale. Their evidence is throwaway: every process of theirs writes it under public keys
(`hygiene.keys.public_key`) unless the environment names real ones."""

from hygiene.keys import use_public_keys

use_public_keys("bench", ("clienti", "stressfri", "calmo", "balance", "balansekonomi"))
