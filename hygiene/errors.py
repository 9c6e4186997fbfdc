"""Errors a user can act on.

Each one carries a single line that says what is wrong and what to do about it, so the CLI and the Prefect
logs can print `str(error)` instead of a traceback.
"""

from __future__ import annotations


class HygieneError(Exception):
    """The base of every error this product raises on purpose."""


class MissingSecretKey(HygieneError):
    """A controller has no pseudonym key configured, so no evidence can be written for it."""


class DatabaseUnreachable(HygieneError):
    """The evidence database cannot be opened; the message names the URL with its password masked."""


class UnknownHold(HygieneError):
    """A legal hold was named that does not exist or was already released."""


class WeakSecretKey(HygieneError):
    """A configured key is too short or too patterned to keep pseudonyms or the chain unforgeable."""


class BadSetting(HygieneError):
    """An environment variable holds a value of the wrong shape; the message names it, never its value."""


class LedgerTampered(HygieneError):
    """The ledger cannot be trusted as it stands: written by an unkeyed release, or cut short of a known head."""
