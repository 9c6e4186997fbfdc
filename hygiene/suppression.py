"""The suppression list: keyed pseudonyms of the people erased from each system, so an erasure stays done.

A person deleted from the CRM can come back by the back door: a spreadsheet re-import, a sync from another
tool. Keeping their email to recognise them would defeat the erasure, so the list keeps only the subject's
pseudonym (HMAC under the controller's key, as in the ledger), per controller and system. Every permanent
deletion of a subject adds one; the next run that streams the system flags a record whose subject is on the
list, unless the record says it came back through a signup form (the person's own new consent, which the
vendors themselves allow: Mailchimp refuses an API re-import of a permanently deleted address and accepts
only a form signup; HubSpot lets a form re-create a contact).

The table lives in the ledger's database, beside the holds, and is not part of the hash chain: it is a
working list, while the evidence of each erasure is the ledger's outcome entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hygiene.connector import AbsenceProof, Capabilities, Connector, Receipt, Record
from hygiene.ledger_schema import DEFAULT_PREFIX, utc_now_text
from hygiene.pseudonym import is_pseudonym
from hygiene.store import connection, engine_for, write_transaction

#: a record attribute saying how the record can have come back; this value means the person signed up again
REENTRY = "reentry"
SIGNUP_FORM = "signup_form"


def suppression_table(metadata: MetaData, prefix: str = DEFAULT_PREFIX) -> Table:
    return Table(
        f"{prefix}suppression",
        metadata,
        Column("controller", String, primary_key=True),
        Column("system", String, primary_key=True),
        Column("subject", String(80), primary_key=True),
        Column("rule_ref", String),
        Column("erased_at", String, nullable=False),
    )


class SuppressionList:
    """Erased subjects by pseudonym, in the ledger's database (`engine_for` shares its pool)."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.engine = engine_for(url)
        metadata = MetaData()
        self.table = suppression_table(metadata, prefix)
        metadata.create_all(self.engine, checkfirst=True)

    def add(self, controller: str, system: str, subjects: Iterable[str], rule_ref: str | None = None) -> int:
        """Remember erased subjects; one already on the list keeps its first erasure time. Returns rows added."""
        unique = list(dict.fromkeys(subjects))
        if not all(is_pseudonym(subject) for subject in unique):
            raise ValueError("the suppression list takes subject pseudonyms only, never the value itself")
        if not unique:
            return 0
        erased_at = utc_now_text()
        rows = [
            {
                "controller": controller,
                "system": system,
                "subject": subject,
                "rule_ref": rule_ref,
                "erased_at": erased_at,
            }
            for subject in unique
        ]
        with write_transaction(self.engine) as conn:
            dialect = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
            result = conn.execute(dialect(self.table).on_conflict_do_nothing(), rows)
            return max(result.rowcount, 0)

    def subjects(self, controller: str, system: str) -> frozenset[str]:
        query = select(self.table.c.subject).where(self.table.c.controller == controller, self.table.c.system == system)
        with connection(self.engine) as conn:
            return frozenset(conn.execute(query).scalars())


@dataclass
class ReappearanceWatch:
    """Notes, as records stream past, those whose subject was erased from this system before.

    A record that came back through a signup form (attribute `reentry=signup_form`) is the person's own new
    consent and is not noted.
    """

    suppressed: frozenset[str]
    subject_pseudonym: Callable[[Record], str]
    reappeared: list[Record] = field(default_factory=list)

    def watch(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            if (
                self.suppressed
                and record.attributes.get(REENTRY) != SIGNUP_FORM
                and self.subject_pseudonym(record) in self.suppressed
            ):
                self.reappeared.append(record)
            yield record


class WatchedConnector:
    """A connector whose stream passes a `ReappearanceWatch`; deletion and proof go straight through."""

    def __init__(self, inner: Connector, watch: ReappearanceWatch) -> None:
        self.inner = inner
        self.watch = watch
        self.capabilities: Capabilities = inner.capabilities

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        return self.watch.watch(self.inner.records(selection, trigger))

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        return self.inner.delete(record_ids)

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        return self.inner.verify_absent(record_ids)
