"""What an erasure may and may not take from one system, and what the request's answer says about it.

GDPR Art. 17(3) names the exceptions a controller can hold against an erasure request; two apply here:
(b) a legal obligation, which for these controllers is the bookkeeping law of their country (Clienti C4,
Calmo K1, Balance B6, Stressfri S5), and (e) legal claims, which the policies enforce as legal holds
(Clienti C5). A record kept under (b) stays until its rule's `not_before` (the retention date computed from
the rule's window, as the planner would); a record kept under (e) stays while the hold does, and the answer
gives only the kind of reason, because a hold's text is written for the controller, not the requester.

Which rule is a bookkeeping rule is read from the policy: its `not_before` is the `bookkeeping` period of the
country, or its quote or reading names the country's bookkeeping law (Clienti C4 keeps correspondence
"af hensyn til overholdelse af bogføringslovens opbevaringskrav" for 5 years from the end of the customer
relationship). A retention period the controller chose itself (Calmo K2's year, Stressfri S4's 5 years) is
not a legal obligation and does not hold against an erasure.

Everything here is counts, dates and kinds: the summaries go into the ledger and the reply letter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from hygiene.connector import Record
from hygiene.legal import Country
from hygiene.policy import Exemption, Policy, Rule, bound_parts, is_bookkeeping
from hygiene.windows import window_for

#: the bookkeeping law of each country, as the letters name it
BOOKKEEPING_LAW = {Country.DK: "bogføringsloven", Country.NO: "bokføringsloven", Country.SE: "bokföringslagen"}
#: the word stems that show a rule enforces that law ("bogføringslovens opbevaringskrav")
_LAW_STEMS = {Country.DK: "bogføringslov", Country.NO: "bokføringslov", Country.SE: "bokföringslag"}


class Disposition(StrEnum):
    ERASE = "erase"
    KEEP_BOOKKEEPING = "bookkeeping_duty"
    KEEP_HOLD = "legal_hold"


class SystemStatus(StrEnum):
    """How a system was handled: searched by its connector, or left to a person, or not reachable."""

    SEARCHED = "searched"
    BY_HAND = "by_hand"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class Verdict:
    disposition: Disposition
    until: date | None = None
    rule_ref: str | None = None


@dataclass
class Kept:
    """Records of one system kept for one reason, until one date (None: while the hold lasts)."""

    reason: Disposition
    count: int
    until: date | None
    rule_ref: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason.value,
            "count": self.count,
            "until": None if self.until is None else self.until.isoformat(),
            "rule": self.rule_ref,
        }


@dataclass
class SystemAnswer:
    """One system's part of a request's answer: what was found, deleted, kept, or left to a person.

    `probable` holds the masked references of records that name the person but hold none of their identifiers
    (hygiene.matching): neither deleted nor exported, each one counts in `by_hand`, for a person to check.
    """

    system: str
    status: SystemStatus
    found: int = 0
    deleted: int = 0
    failed: int = 0
    by_hand: int = 0
    kept: list[Kept] = field(default_factory=list)
    note: str | None = None
    probable: list[str] = field(default_factory=list)

    def keep(self, verdict: Verdict) -> None:
        for group in self.kept:
            if (group.reason, group.until, group.rule_ref) == (verdict.disposition, verdict.until, verdict.rule_ref):
                group.count += 1
                return
        self.kept.append(Kept(verdict.disposition, 1, verdict.until, verdict.rule_ref))

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "status": self.status.value,
            "found": self.found,
            "deleted": self.deleted,
            "failed": self.failed,
            "by_hand": self.by_hand,
            "kept": [group.as_dict() for group in self.kept],
            "note": self.note,
            "probable": list(self.probable),
        }


def answer_from_dict(data: Mapping[str, Any]) -> SystemAnswer:
    """The inverse of `SystemAnswer.as_dict`, to write a letter again from the ledger's closing entry."""
    kept = [Kept(Disposition(k["reason"]), int(k["count"]), _day(k["until"]), k["rule"]) for k in data.get("kept", [])]
    return SystemAnswer(
        system=str(data["system"]),
        status=SystemStatus(data["status"]),
        found=int(data["found"]),
        deleted=int(data["deleted"]),
        failed=int(data["failed"]),
        by_hand=int(data["by_hand"]),
        kept=kept,
        note=data.get("note"),
        probable=[str(reference) for reference in data.get("probable", [])],
    )


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def is_bookkeeping_rule(policy: Policy, rule: Rule) -> bool:
    """A rule whose minimum is the country's bookkeeping law: by its bound, or by naming the law."""
    bound = rule.window.not_before
    if bound is None or rule.trigger is None:
        return False
    if any(is_bookkeeping(part) for part in bound_parts(bound)):
        return True
    stem = _LAW_STEMS[policy.country]
    return stem in rule.quote.text.lower() or stem in (rule.reading or "").lower()


def bookkeeping_rules(policy: Policy, system: str) -> list[Rule]:
    return [rule for rule in policy.rules if system in rule.covers.systems and is_bookkeeping_rule(policy, rule)]


HoldReason = Callable[[Record], str | None]


def verdict_for(policy: Policy, system: str, record: Record, as_of: datetime, hold_reason: HoldReason) -> Verdict:
    """Erase, or keep under Art. 17(3)(e) (a hold) or 17(3)(b) (bookkeeping, until its retention date)."""
    if hold_reason(record) is not None:
        return Verdict(Disposition.KEEP_HOLD)
    latest: Verdict | None = None
    for rule in bookkeeping_rules(policy, system):
        if record.trigger is None:
            continue
        not_before = window_for(policy, rule, record.trigger).not_before
        later = latest is None or latest.until is None or (not_before is not None and not_before.date() > latest.until)
        if not_before is not None and not_before > as_of and later:
            latest = Verdict(Disposition.KEEP_BOOKKEEPING, not_before.date(), rule.ref)
    if latest is None and record.attributes.get("exemption") == Exemption.BOOKKEEPING_DUTY.value:
        # the connector knows the record is bookkeeping material (a CRM customer) but not from when
        return Verdict(Disposition.KEEP_BOOKKEEPING)
    return latest or Verdict(Disposition.ERASE)


def totals(answers: Iterable[SystemAnswer]) -> dict[str, int]:
    """The counts a closing REQUEST entry and `hygiene requests` show."""
    listed = list(answers)
    return {
        "found": sum(a.found for a in listed),
        "deleted": sum(a.deleted for a in listed),
        "kept": sum(k.count for a in listed for k in a.kept),
        "failed": sum(a.failed for a in listed),
        "by_hand": sum(1 for a in listed if a.status is SystemStatus.BY_HAND or a.by_hand),
        "unreachable": sum(1 for a in listed if a.status is SystemStatus.UNREACHABLE),
    }
