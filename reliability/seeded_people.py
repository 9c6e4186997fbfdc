"""Every person the demo seeds, as the needles the privacy scan looks for.

The ground truth is regenerated, not read from the demo's systems after its run (by then the tool has deleted
some of the people, which is its job): each controller's scene is set up again with the demo's own functions,
seeds and clock, in a throwaway workspace and throwaway sandboxes, and every Mailchimp member, HubSpot contact,
Gmail label and message header, workbook and export row and drive file is read back from there. So the scan
looks for what the demo seeds, even after the seeding changes.

A needle that ordinary text contains makes the scan noisy, and dropping too many makes it meaningless. The rule:
- a name counts with at least two words (split at spaces and hyphens): a first name alone, like the greeting
  in every seeded mail, is a common word;
- a phone number counts as written and, with at least `PHONE_DIGITS` digits, as its digits alone (shorter
  digit runs are in every timestamp);
- a national id counts with and without its dash, an email as written and lower-cased, and anything with
  letters beyond ASCII also as JSON escapes it;
- a line of a form message counts when no other message has it (the rest is the form's own text);
- `tests.privacy.hits` drops needles under 4 characters and finds a needle that starts or ends with a digit
  only as a whole number, never inside a timestamp, a hash or a longer number.
The mailbox's owner is the controller, not a person it keeps data on, so its address is no needle.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses
from enum import StrEnum
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from pydantic import SecretStr

from cli.demo import scene
from hygiene.locations import policies_dir
from hygiene.policies import load_all
from integrations.gmail import gmail_service
from sandbox import credentials
from sandbox.runner import RunningSandbox
from sandbox.seed_gmail import CUSTOMER_LABEL_PREFIX

PHONE_DIGITS = 8
_NATIONAL_ID = re.compile(r"\b\d{6}[-+]\d{4}\b")
_WORD_BREAK = re.compile(r"[\s-]+")
_CLIENT_REF = re.compile(r"K\d{4}")
_NAME_LINE = re.compile(r"^(?:Faktura \d+|# Klientlogbog(?: \S+)?)\n+(.+)$", re.MULTILINE)
#: the person's column in Stressfri's offers workbook and in its Webnode export; both have "E-post", "Telefon"
_NAME_COLUMNS = ("Kunde", "Navn")
_MESSAGE_COLUMN = "Melding"


class Kind(StrEnum):
    EMAIL = "emails"
    NAME = "names"
    PHONE = "phone numbers"
    NATIONAL_ID = "national ids"
    LABEL = "Gmail labels"
    MESSAGE = "form messages"
    FILE = "drive files"


@dataclass
class SeededPeople:
    """The needles by kind, so a test can tell that no kind went missing."""

    found: dict[Kind, set[str]] = field(default_factory=lambda: {kind: set() for kind in Kind})

    def needles(self) -> set[str]:
        """Every needle, and as JSON writes it when it has letters beyond ASCII (`B\\u00f8je`): the ledger and
        Prefect keep JSON, and a name escaped there is as much a leak as one written out."""
        plain: set[str] = set().union(*self.found.values())
        return plain | {json.dumps(needle)[1:-1] for needle in plain}

    def add_email(self, email: str) -> None:
        self.found[Kind.EMAIL] |= {email, email.lower()}

    def add_name(self, name: str, kind: Kind = Kind.NAME) -> None:
        if len(_WORD_BREAK.split(name.strip())) >= 2:
            self.found[kind].add(name.strip())

    def add_phone(self, phone: str) -> None:
        if not phone:
            return
        self.found[Kind.PHONE].add(phone)
        digits = re.sub(r"\D", "", phone)
        if len(digits) >= PHONE_DIGITS:
            self.found[Kind.PHONE].add(digits)

    def add_national_ids(self, text: str) -> None:
        for national_id in _NATIONAL_ID.findall(text):
            self.found[Kind.NATIONAL_ID] |= {national_id, re.sub(r"\D", "", national_id)}

    def add_label(self, label: str) -> None:
        self.found[Kind.LABEL].add(label)
        self.add_name(label.removeprefix(CUSTOMER_LABEL_PREFIX), Kind.LABEL)

    def add_messages(self, messages: Iterable[str]) -> None:
        lines = Counter(line.strip() for message in messages for line in set(message.splitlines()))
        self.found[Kind.MESSAGE] |= {line for line, uses in lines.items() if uses == 1 and line}

    def add_drive(self, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):  # dot files (the .hygiene-root marker) are no client's
                self.found[Kind.FILE] |= _file_needles(root, path)
                self.add_name(_name_inside(path))


def _file_needles(root: Path, path: Path) -> set[str]:
    """A file's path and name, and the client reference in it: people name files after their clients."""
    return {path.relative_to(root).as_posix(), path.name, *_CLIENT_REF.findall(path.name)}


def _name_inside(path: Path) -> str:
    match = _NAME_LINE.search(path.read_text(encoding="utf-8", errors="replace"))
    return match.group(1) if match else ""


def seeded_people(workspace: Path, now: datetime) -> SeededPeople:
    """Set up every controller's scene as the demo does at `now`, in `workspace`, and read back who is in it."""
    people = SeededPeople()
    with _environment_restored():
        for policy in load_all(policies_dir()):
            with scene(policy, workspace, now) as sandbox:
                if sandbox is not None:
                    _read_sandbox(people, sandbox)
        _read_files(people, os.environ)
    return people


@contextmanager
def _environment_restored() -> Iterator[None]:
    """The scenes aim the connectors at their systems through the environment, as a user would; undo that."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _read_sandbox(people: SeededPeople, sandbox: RunningSandbox) -> None:
    for audience in sandbox.state.stores["mailchimp"].audiences():
        for member in audience.members.values():
            _read_person(people, member.email, member.merge_fields, ("FNAME", "LNAME"), "PHONE")
    for contact in sandbox.state.stores["hubspot"].contacts.values():
        _read_person(people, contact.properties["email"], contact.properties, ("firstname", "lastname"), "phone")
        people.add_national_ids(contact.properties.get("notes", ""))
    _read_mailbox(people, gmail_service(sandbox.gmail_endpoint, SecretStr(credentials.GMAIL_ACCESS_TOKEN)))


def _read_person(
    people: SeededPeople, email: str, fields: Mapping[str, Any], name: tuple[str, str], phone: str
) -> None:
    people.add_email(email)
    people.add_name(" ".join(str(fields.get(part, "")) for part in name))
    people.add_phone(str(fields.get(phone, "")))


def _read_mailbox(people: SeededPeople, service: Any) -> None:
    """Customer labels, and every correspondent in every message's From and To, Trash included."""
    users = service.users()
    owner = users.getProfile(userId="me").execute()["emailAddress"]
    for label in users.labels().list(userId="me").execute()["labels"]:
        if label["name"].startswith(CUSTOMER_LABEL_PREFIX):
            people.add_label(label["name"])
    for message_id in _message_ids(users.messages()):
        headers = (
            users.messages()
            .get(userId="me", id=message_id, format="metadata", metadataHeaders=["From", "To"])
            .execute()["payload"]["headers"]
        )
        for _, address in getaddresses([header["value"] for header in headers]):
            if address and address != owner:
                people.add_email(address)


def _message_ids(messages: Any) -> Iterator[str]:
    token = None
    while True:
        page = messages.list(userId="me", includeSpamTrash=True, maxResults=500, pageToken=token).execute()
        yield from (message["id"] for message in page.get("messages", []))
        token = page.get("nextPageToken")
        if not token:
            return


def _read_files(people: SeededPeople, environment: Mapping[str, str]) -> None:
    """The files the scenes aimed the connectors at: Calmo's drive, Stressfri's workbook and Webnode export."""
    drive = os.path.commonpath([environment["HYGIENE_CALMO_INVOICES"], environment["HYGIENE_CALMO_LOGBOOKS"]])
    people.add_drive(Path(drive))
    for row in _workbook_rows(Path(environment["HYGIENE_STRESSFRI_OFFERS"])):
        _read_row(people, row)
    export = _export_rows(Path(environment["HYGIENE_STRESSFRI_WEBNODE_EXPORT"]))
    for row in export:
        _read_row(people, row)
    people.add_messages(row[_MESSAGE_COLUMN] for row in export)


def _read_row(people: SeededPeople, row: Mapping[str, str]) -> None:
    people.add_name(next(row[column] for column in _NAME_COLUMNS if column in row))
    people.add_email(row["E-post"])
    people.add_phone(row["Telefon"])


def _workbook_rows(path: Path) -> list[dict[str, str]]:
    workbook = load_workbook(path, read_only=True)
    try:
        cells = [[str(cell) if cell is not None else "" for cell in row] for row in workbook.worksheets[0].values]
    finally:
        workbook.close()
    header, *rows = cells
    return [dict(zip(header, row, strict=True)) for row in rows]


def _export_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream, delimiter=";"))
