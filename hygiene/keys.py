"""Secret keys: how strong one must be, and how to make one that is.

A controller's pseudonym key and the ledger's chain key are HMAC-SHA256 keys. HMAC is only as good as the key
is unguessable: with a short or patterned key, anyone holding the ledger can try keys until a pseudonym of a
known email matches (and then name every person in the evidence), or recompute the chain after rewriting it.
So a key must carry at least 32 bytes (256 bits) of entropy, what `new_key()` makes.

Entropy cannot be measured from one string; this is a floor that catches typed and patterned keys:
- by its alphabet: the smallest of decimal digits (10), hexadecimal (16), base64/base64url (64), printable
  ASCII (95) or any byte (256, per UTF-8 byte) that holds every character, times the length, at least 256 bits;
- by its repetition: at least 8 different characters, and their Shannon entropy times the length at least
  128 bits (so "abab…" or a short word repeated fails however long it is).
The checks never echo the key, nor its length.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import string
from collections import Counter
from collections.abc import Iterable

from pydantic import SecretStr

from hygiene.errors import WeakSecretKey

MIN_BITS = 256
MIN_SPREAD_BITS = 128
MIN_DISTINCT = 8
#: what every refusal prints: a command that makes a good key, with nothing of ours installed
MAKE_KEY = "hygiene key new (or: python -c 'import secrets; print(secrets.token_urlsafe(32))')"

_ALPHABETS = (
    (frozenset(string.digits), 10),
    (frozenset(string.hexdigits.lower()), 16),
    (frozenset(string.hexdigits.upper()), 16),
    (frozenset(string.ascii_letters + string.digits + "-_+/="), 64),
    (frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c"), 95),
)


def new_key() -> str:
    """A fresh key of 32 random bytes, base64url: 43 characters that fit any environment variable."""
    return secrets.token_urlsafe(32)


def public_key(purpose: str, name: str) -> str:
    """A fixed key for the demo, the tests or the benchmarks (`purpose`): it passes `check_key`, yet it is public,
    so what it protects is throwaway evidence only; the purpose is in its text so nobody takes it for a real key."""
    digest = hashlib.sha256(f"{purpose}/{name}".encode()).hexdigest()
    return f"{purpose}-only-key-{name}-{digest[:32]}"


def use_public_keys(purpose: str, controllers: Iterable[str]) -> None:
    """Set each controller's pseudonym key and the ledger key to `public_key`s, where the environment sets none."""
    for controller in controllers:
        os.environ.setdefault(f"HYGIENE_KEY_{controller.upper()}", public_key(purpose, controller))
    os.environ.setdefault("HYGIENE_LEDGER_KEY", public_key(purpose, "ledger"))


def check_key(key: SecretStr, what: str) -> None:
    """Refuse a key weaker than 32 random bytes, naming `what` (e.g. the variable) and how to make a good one."""
    secret = key.get_secret_value()
    patterned = len(set(secret)) < MIN_DISTINCT or _spread_bits(secret) < MIN_SPREAD_BITS
    if patterned or _alphabet_bits(secret) < MIN_BITS:
        raise WeakSecretKey(f"{what} is too weak: a key needs 32 random bytes (256 bits); make one with {MAKE_KEY}")


def _alphabet_bits(secret: str) -> float:
    characters = set(secret)
    for alphabet, size in _ALPHABETS:
        if characters <= alphabet:
            return len(secret) * math.log2(size)
    return 8.0 * len(secret.encode("utf-8", "surrogatepass"))


def _spread_bits(secret: str) -> float:
    total = len(secret)
    return -sum(count * math.log2(count / total) for count in Counter(secret).values())
