"""Keyed pseudonyms: how evidence names a person or a record without holding them.

A pseudonym is HMAC-SHA256 under the controller's secret key, so only that controller can link it back:
given an email it recomputes the pseudonym and finds every ledger entry about that person, while the ledger
itself (and anyone who copies it) learns nothing. A plain hash would not do: emails are guessable, so an
unkeyed digest is as good as the address (that is why a Mailchimp member id, the MD5 of the email, must
never reach the evidence).

The kind ("subject", "record", ...) is part of the MAC input and of the result, so the same string used as a
subject and as a record id gives two unrelated pseudonyms and a pseudonym says what it names.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pydantic import SecretStr

SUBJECT = "subject"
RECORD = "record"

_KIND = re.compile(r"[a-z][a-z0-9_-]*")
_PSEUDONYM = re.compile(r"([a-z][a-z0-9_-]*):([0-9a-f]{64})")
_MASK_LENGTH = 6


def pseudonym(key: SecretStr, kind: str, value: str) -> str:
    """`<kind>:<64 hex>` for `value`, stable for one key and unrelated across keys and kinds."""
    if not _KIND.fullmatch(kind):
        raise ValueError(f"pseudonym kind must be lower-case letters, digits, '_' or '-', got {kind!r}")
    secret = key.get_secret_value().encode()
    if not secret:
        raise ValueError("pseudonym key is empty")
    # The kind never contains NUL, so the message splits back into kind and value in exactly one way.
    message = kind.encode() + b"\x00" + normalise(value).encode()
    return f"{kind}:{hmac.new(secret, message, hashlib.sha256).hexdigest()}"


def normalise(value: str) -> str:
    """The canonical form of an identifying value: surrounding blanks dropped, emails lower-cased.

    Mail systems treat addresses case-insensitively, so "Ann@X.se" and "ann@x.se " must name one person.
    Other values (vendor ids, file paths) may be case-sensitive and are kept as they are.
    """
    value = value.strip()
    return value.lower() if "@" in value else value


def is_pseudonym(reference: str) -> bool:
    """Whether `reference` has the shape `pseudonym` produces (it cannot tell which key made it)."""
    return _PSEUDONYM.fullmatch(reference) is not None


def mask(reference: str) -> str:
    """A short handle for human checklists, e.g. "record:…4f2a9c": enough to tick off, too little to link."""
    match = _PSEUDONYM.fullmatch(reference)
    if match is None:
        raise ValueError("mask() takes a pseudonym of the form '<kind>:<64 hex>'")
    kind, digest = match.groups()
    return f"{kind}:…{digest[-_MASK_LENGTH:]}"
