"""The chain head as it is printed outside the database, and read back to prove the ledger still extends it.

A head is an entry number and that entry's MAC, written `N:MAC` (e.g. `1742:3fa9…`, 64 hex digits). Anyone who
can write the database can roll the whole ledger back to an older copy, head row included, and the ledger
alone cannot tell. A head printed somewhere else (an evidence report handed to an auditor, a run's page in
Prefect) can: `hygiene ledger verify --head N:MAC` proves that entry N is still there with that MAC, and so
that every entry up to it is unchanged, because each MAC covers the one before.

Evidence reports are written into the reports folder with their head in a line `recorded_heads` finds again,
so a plain `hygiene ledger verify` also refuses a ledger cut short of, or rewritten under, any report it wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hygiene.errors import HygieneError

GENESIS_MAC = "0" * 64
_HEAD = re.compile(r"(\d{1,18}):([0-9a-f]{64})")
#: how a report's Markdown carries its head; `recorded_heads` reads exactly this back
_RECORDED = re.compile(r"hygiene ledger verify --head (\d{1,18}:[0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Entry `seq` of the chain and its MAC; `source` says where the head was read, for error messages."""

    seq: int
    mac: str
    source: str = field(default="the head given", compare=False)

    def __str__(self) -> str:
        return f"{self.seq}:{self.mac}"

    @classmethod
    def parse(cls, text: str, source: str = "the head given") -> ChainHead:
        """`N:MAC` as printed; anything else is a one-line error that does not echo the input."""
        match = _HEAD.fullmatch(text.strip().lower())
        if match is None:
            raise HygieneError(
                f"{source}: a ledger head is ENTRY:MAC, an entry number and 64 hex digits, as an evidence report "
                "or a run's page prints it (e.g. 17:3fa9…)"
            )
        return cls(int(match.group(1)), match.group(2), source)

    def verify_command(self) -> str:
        """The command that proves, later, that the ledger still extends this head."""
        return f"hygiene ledger verify --head {self}"

    def line(self) -> str:
        """One line for a run's page or a report: the head, and how to check it later."""
        return f"Ledger head: entry {self.seq}, MAC {self.mac}; check later with: {self.verify_command()}"


def recorded_heads(reports_root: Path) -> Iterator[ChainHead]:
    """Every head the evidence reports under `reports_root` (`<controller>/<quarter>/report.md`) recorded."""
    for path in sorted(reports_root.glob("*/*/report.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HygieneError(f"{path}: cannot read the ledger head this report recorded ({exc})") from None
        for match in _RECORDED.finditer(text):
            yield ChainHead.parse(match.group(1), f"the report {path}")
