"""Detectors: what a detect-and-flag rule looks for in each record, reported without the value.

A rule's `covers.selection` says which detector it runs (the keys are the detector's, not the system's):

- `allowed_merge_fields: FNAME,LNAME` (Balance B1, data minimisation): any other merge field of a list member
  that holds data is flagged by its tag; a list that defines such fields is flagged once, by their tags.
- `detect: cpr`, `detect: personnummer` or `detect: payment`, or several joined by commas, with
  `properties: notes,...` (Clienti C7, Balansekonomi E3): a property holding a Danish CPR number, a Swedish
  personnummer or payment details (card number, IBAN, bankgiro, plusgiro) is flagged by the property's name,
  once per kind found. With `mail: subject,body` the rule's mailbox is searched too: each message's subject and
  text body, read through the mailbox's connector, flagged by the part's name (Clienti C7: "send os ikke ...
  cpr. nr. ... via e-mail").

A finding names the record (by pseudonym, in the ledger) and the field; never the value, which is what the
rule wants gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hygiene.connector import Record
from hygiene.errors import HygieneError
from hygiene.identifiers import contains_cpr, contains_payment_data, contains_personnummer

#: how the Mailchimp connector names a member's merge field among a record's attributes
MERGE_PREFIX = "merge:"
IDENTIFIERS: dict[str, Callable[[str], bool]] = {
    "cpr": contains_cpr,
    "personnummer": contains_personnummer,
    "payment": contains_payment_data,
}

Finding = dict[str, object]


class DetectorError(HygieneError):
    pass


@runtime_checkable
class DefinesFields(Protocol):
    """A system whose records share a defined set of fields (a Mailchimp list's merge fields)."""

    def merge_field_tags(self) -> list[str]: ...


@dataclass(frozen=True)
class Detector:
    """What to ask the connector for, and which findings each record yields."""

    selection: dict[str, str]
    findings: Callable[[Record], list[Finding]]
    #: for list-level checks: the fields a system defines that the rule does not allow
    disallowed: Callable[[list[str]], list[str]]
    #: what a mailbox is asked for instead (`content`: the message parts to read), when the rule reads mail
    mail_selection: dict[str, str] | None = None

    def selection_for(self, kind: str) -> dict[str, str]:
        """A mailbox is asked for message content; every other system for the rule's own selection."""
        if kind == "gmail":
            if self.mail_selection is None:
                raise DetectorError("the rule covers a mailbox but names no message parts to read (mail: subject,body)")
            return self.mail_selection
        return self.selection


def detector_for(rule_ref: str, selection: Mapping[str, str]) -> Detector:
    if "allowed_merge_fields" in selection:
        allowed = frozenset(_names(selection["allowed_merge_fields"]))
        rest = {k: v for k, v in selection.items() if k != "allowed_merge_fields"}
        return Detector(
            {**rest, "merge_fields": "yes"},
            lambda record: merge_field_findings(record, allowed),
            lambda tags: sorted(tag for tag in tags if tag not in allowed),
        )
    kinds = _names(selection.get("detect", ""))
    if kinds and all(kind in IDENTIFIERS for kind in kinds):
        properties = _names(selection.get("properties", ""))
        parts = _names(selection.get("mail", ""))
        if not properties:
            raise DetectorError(f"rule {rule_ref}: detect {', '.join(kinds)} needs `properties` to look in")
        rest = {k: v for k, v in selection.items() if k not in ("detect", "mail")}
        fields = [*properties, *parts]
        return Detector(
            rest,
            lambda record: [finding for kind in kinds for finding in identifier_findings(record, fields, kind)],
            lambda _tags: [],
            {"content": ",".join(parts)} if parts else None,
        )
    raise DetectorError(
        f"rule {rule_ref}: the selection names no detector; use allowed_merge_fields, "
        f"or detect: {', '.join(IDENTIFIERS)} (one or more, comma-separated) with properties"
    )


def merge_field_findings(record: Record, allowed: frozenset[str]) -> list[Finding]:
    return [
        {"finding": "merge_field_holds_data", "field": name.removeprefix(MERGE_PREFIX)}
        for name in sorted(record.attributes)
        if name.startswith(MERGE_PREFIX) and name.removeprefix(MERGE_PREFIX) not in allowed
    ]


def identifier_findings(record: Record, properties: list[str], kind: str) -> list[Finding]:
    found = IDENTIFIERS[kind]
    return [
        {"finding": f"{kind}_in_property", "field": name, "flag": "delete the value"}
        for name in properties
        if found(record.attributes.get(name, ""))
    ]


def scan(records: Iterable[Record], detector: Detector) -> Iterator[tuple[Record, Finding]]:
    for record in records:
        for finding in detector.findings(record):
            yield record, finding


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]
