"""Systems kept by hand, read from a register: Balance's paper archive (seeds/000, rules B2 to B5).

Paper has no export; what tells whose paper must go is the CRM: when a participant's course ended, when a
collaboration ended, whether the person still receives the newsletter, whether a business customer has an
ALL-IN agreement. This connector reads that register as the CRM exports it (CSV or XLSX, one row per contact):

| column            | meaning                                                                      |
|-------------------|------------------------------------------------------------------------------|
| Kontakt-id        | the contact's id in the CRM: the record                                      |
| E-mail            | the contact's email: the subject (pseudonymised like every subject)          |
| Forløb slut       | when the course ended (B2, B3), empty while it runs                          |
| Samarbejde slut   | when the collaboration ended (B4, B5), empty while it runs                   |
| Nyhedsbrev        | "ja" while the person receives the newsletter (B2's exemption)               |
| ALL-IN aftale     | "ja" when an ALL-IN agreement governs the customer's material (B5 selection; |
|                   | B4 marks the item, so its customer material is handled by the agreement)     |

Whether a person receives the newsletter is the newsletter system's to say, not a copy in the CRM: with the
system option `newsletter` (Balance: `mailchimp`) and a rule selecting `newsletter_status: list` (B2), the
connector reads the audience once, by status, and a row whose email is a subscribed member carries the
exemption, while for one who unsubscribed the clock starts when they left the list, if that is later than the
end of the course ("kun så længe du er aktiv i et forløb ... eller så længe du er modtager af vores
nyhedsbrev"). Without them, the register's own "Nyhedsbrev" column is read. A row whose date for the rule's
trigger is empty has not ended, so it is not a record of that rule. Read-only: paper is shredded
by a person, who attests; nothing can re-read a shredder, so the attestation is the evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from hygiene.checklist import AGREEMENT
from hygiene.connector import AbsenceProof, Capabilities, Connector, ConnectorError, Receipt, Record
from integrations.file_errors import DeletionByHand, MalformedFile, cell_position
from integrations.spreadsheet import canonical, is_blank, locate_columns, read_date
from integrations.webnode import table_rows

_YES = frozenset({"ja", "yes", "j", "y", "x", "1", "true"})
#: the selection key by which a rule takes the newsletter status from the newsletter system, not the register
NEWSLETTER_STATUS = "newsletter_status"
_NO = frozenset({"nej", "no", "n", "", "0", "false"})


@dataclass(frozen=True)
class RegisterColumns:
    """The register's labels; triggers and selections name these fields, the labels are what the CRM writes."""

    contact: str = "Kontakt-id"
    email: str = "E-mail"
    course_ended_at: str = "Forløb slut"
    collaboration_ended_at: str = "Samarbejde slut"
    newsletter: str = "Nyhedsbrev"
    all_in_agreement: str = "ALL-IN aftale"

    def labels(self) -> dict[str, tuple[str]]:
        keys = ("contact", "email", "course_ended_at", "collaboration_ended_at", "newsletter", "all_in_agreement")
        return {key: (getattr(self, key),) for key in keys}


@dataclass(frozen=True)
class Audience:
    """Who receives the newsletter now, and when those who unsubscribed left it (emails in memory only)."""

    subscribed: frozenset[str]
    left: dict[str, datetime]


class RegisterConnector:
    """Contacts of a CRM register export as records of a hand-kept system, dated by the rule's trigger."""

    capabilities = Capabilities(system="manual", batch_size=0, permanent_delete=False)

    def __init__(
        self,
        path: Path,
        *,
        system: str,
        columns: RegisterColumns | None = None,
        tz: tzinfo = UTC,
        newsletter: Callable[[], Connector] | None = None,
    ) -> None:
        """`newsletter` opens the newsletter system's connector, only for a rule that reads it (B2, not B3)."""
        self.path = Path(path)
        self.system = system
        self.columns = columns or RegisterColumns()
        self.tz = tz
        self.newsletter = newsletter

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        """Contacts whose `trigger` date is filled in and whose flags match `selection` ("ja"/"nej" fields)."""
        labels = self.columns.labels()
        if trigger not in ("course_ended_at", "collaboration_ended_at"):
            raise MalformedFile(f"{self.path}: the register has no date for trigger '{trigger}'")
        flags = {key: value for key, value in selection.items() if key != NEWSLETTER_STATUS}
        audience = self._audience() if selection.get(NEWSLETTER_STATUS) == "list" else None
        rows = table_rows(self.path)
        header = next(rows, (1, ()))[1]
        found = locate_columns(header, labels, str(self.path), required=("contact", trigger, *flags))
        agreements = "all_in_agreement" in found
        for number, values in rows:
            if is_blank(values):
                continue
            cells = {key: values[index] if index < len(values) else None for key, index in found.items()}
            ended = read_date(cells[trigger], self.tz, str(self.path), number, labels[trigger][0])
            if ended is not None and self._selected(cells, flags, number):
                yield self._record(cells, ended, number, agreements, audience)

    def _audience(self) -> Audience:
        """The newsletter's subscribed members, and when each unsubscribed member left, read once per run."""
        if self.newsletter is None:
            raise ConnectorError(
                f"{self.system}: the rule takes the newsletter status from the list; name the newsletter system "
                "in the system's option `newsletter`"
            )
        newsletter = self.newsletter()
        subscribed = {member.subject for member in newsletter.records({"status": "subscribed"}, "")}
        left = {
            member.subject: member.trigger
            for member in newsletter.records({"status": "unsubscribed"}, "unsubscribed_at")
            if member.trigger is not None
        }
        return Audience(frozenset(subscribed), left)

    def _record(
        self, cells: Mapping[str, object], ended: datetime, number: int, agreements: bool, audience: Audience | None
    ) -> Record:
        contact = canonical(cells["contact"])
        if not contact:
            raise MalformedFile(f"{cell_position(str(self.path), number, self.columns.contact)}: no contact id")
        attributes = {"row": str(number)}
        subject = canonical(cells.get("email")).lower() or contact
        if audience is None:
            receives = self._flag(cells.get("newsletter"), "newsletter", number)
        else:
            receives = subject in audience.subscribed
            ended = max(ended, audience.left.get(subject, ended))
        if receives:
            attributes["exemption"] = "newsletter_recipient"
        if agreements and self._flag(cells.get("all_in_agreement"), "all_in_agreement", number):
            attributes[AGREEMENT] = "all_in"
        return Record(contact, subject, ended, attributes)

    def _selected(self, cells: Mapping[str, object], selection: Mapping[str, str], number: int) -> bool:
        return all(self._flag(cells.get(key), key, number) == (wanted in _YES) for key, wanted in selection.items())

    def _flag(self, value: object, key: str, number: int) -> bool:
        text = canonical(value).casefold()
        if text not in _YES | _NO:
            label = self.columns.labels()[key][0]
            raise MalformedFile(f"{cell_position(str(self.path), number, label)}: expected ja or nej")
        return text in _YES

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        raise DeletionByHand(f"{self.system}: {len(record_ids)} records are on paper; shred them and attest")

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        raise DeletionByHand(f"{self.system}: paper cannot be re-read; the attestation is the evidence")
