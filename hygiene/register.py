"""A customer register that outlives the system it is read from: the end dates, kept by pseudonym in the ledger.

Clienti's C4 keeps agreements and correspondence "i 5 år efter kundeophøret", while its C3 erases the customer's
CRM contact 24 months after the same end: read only from the CRM, the register would have forgotten every
customer three years before C4 needs their end date, and their mail would be kept for ever without a word. So
whenever the register is read, each ended customer's end date is written to the ledger as a `register` entry:
the subject's keyed pseudonym (the same one every entry about the person carries), the end date and the system
it was read from. Nothing else: no name, no address, no label. The entry is written when a customer is first
seen ended and again only when the date changes, and the newest entry wins, so a corrected end date replaces
the earlier one. A later read finds a customer the CRM no longer holds by computing the pseudonym of a folder's
customer (the Gmail label names the customer's address) and looking it up here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from pydantic import SecretStr

from hygiene.ledger import EntryDraft, EntryKind, Ledger
from hygiene.pseudonym import SUBJECT, pseudonym


class RegisterMemory:
    """The end dates one controller's register has shown, by subject pseudonym, as the ledger holds them."""

    def __init__(self, ledger: Ledger, controller: str, key: SecretStr, source: str) -> None:
        self.ledger = ledger
        self.controller = controller
        self.key = key
        self.source = source

    def pseudonym(self, subject: str) -> str:
        return pseudonym(self.key, SUBJECT, subject)

    def recall(self) -> dict[str, datetime]:
        """The newest end date recorded for each subject pseudonym read from this source."""
        ended: dict[str, datetime] = {}
        for entry in self.ledger.entries(controller=self.controller, kinds={EntryKind.REGISTER}):
            if entry.subject is not None and entry.payload.get("source") == self.source:
                ended[entry.subject] = datetime.fromisoformat(str(entry.payload["ended_at"]))
        return ended

    def remember(self, ended: Mapping[str, datetime]) -> int:
        """Record the end dates (by raw subject) the ledger does not hold yet, in one transaction; how many."""
        known = self.recall()
        run_id = uuid.uuid4().hex
        drafts = [
            EntryDraft(
                controller=self.controller,
                run_id=run_id,
                kind=EntryKind.REGISTER,
                subject=self.pseudonym(subject),
                payload={"source": self.source, "ended_at": moment.isoformat()},
            )
            for subject, moment in sorted(ended.items())
            if known.get(self.pseudonym(subject)) != moment
        ]
        self.ledger.append(drafts)
        return len(drafts)
