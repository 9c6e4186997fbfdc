"""Dates a system forgets or never keeps, remembered by pseudonym in the ledger (`register` entries).

Two clocks need a date the system itself will not give later:
- Clienti's C4 keeps agreements and correspondence "i 5 år efter kundeophøret", while its C3 erases the customer's
  CRM contact 24 months after the same end: read only from the CRM, the register would have forgotten every
  customer three years before C4 needs their end date, and their mail would be kept for ever without a word.
  So whenever the register is read, each ended customer's end date is recorded by the subject's keyed
  pseudonym (the one every entry about the person carries), written when first seen and again only when the
  date changes; the newest entry wins, so a corrected end date replaces the earlier one.
- Stressfri's S8 counts from the day a mail was marked no longer relevant, and Gmail keeps no date for a label
  change. So the day a scan first lists a mail under the label is recorded by the message's record pseudonym,
  once; a daily scan makes it exact to within a day.
An entry holds the pseudonym, the date and the source (the system, or the rule and label it was scanned for),
never a name, an address or a label name.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from pydantic import SecretStr

from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.pseudonym import SUBJECT, pseudonym


class RegisterMemory:
    """The dates one source has shown, by pseudonym (of a subject, or of a record of `system`), as the ledger
    holds them. `first_only`: a date, once recorded, is never replaced (the first day a label was seen)."""

    def __init__(
        self,
        ledger: Ledger,
        controller: str,
        key: SecretStr,
        source: str,
        *,
        kind: str = SUBJECT,
        system: str | None = None,
        first_only: bool = False,
    ) -> None:
        self.ledger = ledger
        self.controller = controller
        self.key = key
        self.source = source
        self.kind = kind
        self.system = system
        self.first_only = first_only

    def pseudonym(self, value: str) -> str:
        """As the evidence names it: a subject as is, a record with its system in front (`gmail:<id>`)."""
        return pseudonym(self.key, self.kind, value if self.system is None else f"{self.system}:{value}")

    def recall(self) -> dict[str, datetime]:
        """The date recorded for each pseudonym from this source: the first or the newest, as configured."""
        dates: dict[str, datetime] = {}
        for entry in self.ledger.entries(controller=self.controller, kinds={EntryKind.REGISTER}):
            named = entry.record if self.kind != SUBJECT else entry.subject
            if named is None or entry.payload.get("source") != self.source:
                continue
            if not (self.first_only and named in dates):
                dates[named] = datetime.fromisoformat(str(entry.payload["at"]))
        return dates

    def remember(self, dates: Mapping[str, datetime], *, known: Mapping[str, datetime] | None = None) -> int:
        """Record, in one transaction, the dates (by raw value) the ledger does not hold yet; how many.

        `known` is a `recall()` the caller already made, so a run reads these entries once.
        """
        known = self.recall() if known is None else known
        run_id = uuid.uuid4().hex
        drafts = []
        for value, moment in sorted(dates.items()):
            named = self.pseudonym(value)
            if named in known and (self.first_only or known[named] == moment):
                continue
            drafts.append(
                EntryDraft(
                    controller=self.controller,
                    run_id=run_id,
                    kind=EntryKind.REGISTER,
                    subject=named if self.kind == SUBJECT else None,
                    record=None if self.kind == SUBJECT else named,
                    payload={"source": self.source, "at": moment.isoformat()},
                )
            )
        self.ledger.append(drafts)
        return len(drafts)
