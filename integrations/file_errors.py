"""Errors of the file-based connectors (folder, Webnode export, offers workbook), and how they name things.

A file connector reads data a person typed: file names after a client, a customer's name in a cell, a message
in a form. Errors end up in logs and in Prefect's UI, so they name a file by the path the controller configured,
a row by its number and a column by its header, and never quote a cell, a message or a file name below the
configured root. Every error is one line: a user acts on it, nobody reads a traceback.
"""

from __future__ import annotations

from hygiene.connector import ConnectorError


class FileConnectorError(ConnectorError):
    """Base of the file connectors' errors; collapses any whitespace so the message stays one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class SourceUnreadable(FileConnectorError):
    """The configured folder or file is missing or cannot be opened."""


class UndatedFiles(FileConnectorError):
    """Files in a folder whose date the configured date source cannot read."""


class MalformedFile(FileConnectorError):
    """The file is not what it claims to be: truncated, not UTF-8, not an xlsx, a value that is not a date."""


class HeaderChanged(FileConnectorError):
    """A required column is missing from the header row: the export or sheet layout changed."""


class WrongPassword(FileConnectorError):
    """The workbook is encrypted and the configured password is missing or does not open it."""


class MissingEndDate(FileConnectorError):
    """A customer marked as ended has no end date, so no retention period can start."""


class UnsafeToWrite(FileConnectorError):
    """Writing the file back would lose something the user keeps in it, or clash with someone editing it."""


class DeletionByHand(FileConnectorError):
    """The system has no deletion interface; a person deletes and the flow records the attestation."""


def masked_tail(name: str, keep: int = 4) -> str:
    """The last `keep` characters of a name behind an ellipsis: usually the extension, never a person's name."""
    return "…" + name[-keep:] if len(name) > keep else "…"


def cell_position(source: str, row: int, column: str | None = None) -> str:
    """`<file>: row 12, column 'Dato'`: where a user finds a bad value without the value being repeated."""
    where = f"{source}: row {row}"
    return f"{where}, column '{column}'" if column is not None else where
