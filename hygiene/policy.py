"""A controller's promises as rules: the model of a `policies/<controller>.yaml` file.

A rule reads like the sentence it enforces: the quote stands beside it, and where the sentence is ambiguous the
`reading` says which interpretation we chose. The file is validated here; loading it (with the checks that need
the notice or the cadence arithmetic) is in `hygiene.policies`.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hygiene.cadence import Cadence, CronCadence, LatestOfCadence, RRuleCadence
from hygiene.legal import BOOKKEEPING_PERIOD, Country
from hygiene.periods import Period, PeriodError

#: a window bound that is not a fixed period but the bookkeeping law of the controller's country
BOOKKEEPING = "bookkeeping"
#: how a bound that is the later of several is written: "5 years or bookkeeping, whichever is later"
WHICHEVER_IS_LATER = ", whichever is later"


def bound_parts(text: str) -> list[str]:
    """The bounds a window bound is the later of; a plain bound is the later of itself alone."""
    if not text.endswith(WHICHEVER_IS_LATER):
        return [text]
    return [part.strip() for part in text.removesuffix(WHICHEVER_IS_LATER).split(" or ")]


def is_bookkeeping(part: str) -> bool:
    """Whether one bound is the country's bookkeeping law (plain or with a margin), counted from a year's end."""
    return part == BOOKKEEPING or part.startswith(f"{BOOKKEEPING} + ")


class Action(StrEnum):
    DELETE = "delete"
    FLAG_FOR_REVIEW = "flag_for_review"
    ATTEST = "attest"
    DETECT_AND_FLAG = "detect_and_flag"
    ANSWER_REQUEST = "answer_request"
    VERIFY_IDENTITY = "verify_identity"
    NOTIFY = "notify"
    NONE = "none"


class Exemption(StrEnum):
    """Why a due record may be kept: GDPR Art. 17(3)(b) legal obligations and 17(3)(e) legal claims."""

    LEGAL_HOLD = "legal_hold"
    BOOKKEEPING_DUTY = "bookkeeping_duty"
    NEWSLETTER_RECIPIENT = "newsletter_recipient"
    #: a row of a register another rule still reads (Stressfri's offers sheet lists S2's ended customers)
    CUSTOMER_REGISTER = "customer_register"


class Finding(StrEnum):
    """A gap in the notice itself, shown in the schedule and the report rather than left silent."""

    #: the notice says what a system holds but not for how long (GDPR Art. 13(2)(a) asks for the period)
    NO_PERIOD_PROMISED = "no_period_promised"


class Anchor(StrEnum):
    """Which date the clock runs from: the event itself, or the end of the financial year it falls in."""

    EVENT = "event"
    FINANCIAL_YEAR_END = "financial_year_end"


class SystemKind(StrEnum):
    MAILCHIMP = "mailchimp"
    HUBSPOT = "hubspot"
    GMAIL = "gmail"
    WEBNODE = "webnode"
    SPREADSHEET = "spreadsheet"
    FOLDER = "folder"
    MANUAL = "manual"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Notice(_Strict):
    """The published privacy notice the rules quote; its SHA-256 pins the version they were written against."""

    file: str
    source: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    language: str


class System(_Strict):
    kind: SystemKind
    description: str
    options: dict[str, str] = Field(default_factory=dict)


class Quote(_Strict):
    text: str = Field(min_length=10)
    section: str


class Coverage(_Strict):
    """What a rule reaches; `exception` is what a person must keep or return instead of deleting it (B4), which
    the checklist carries so the one who shreds sees it."""

    systems: tuple[str, ...] = Field(min_length=1)
    records: str
    selection: dict[str, str] = Field(default_factory=dict)
    exception: str | None = None


class Trigger(_Strict):
    event: str
    anchor: Anchor = Anchor.EVENT


class Window(_Strict):
    """`not_before`: the record is kept until this period has run; `deadline`: the promise to be done by."""

    not_before: str | None = None
    deadline: str | None = None

    @field_validator("not_before", "deadline")
    @classmethod
    def _valid_bound(cls, value: str | None) -> str | None:
        if value is None:
            return value
        for part in bound_parts(value):
            if is_bookkeeping(part):
                continue
            try:
                Period.parse(part)
            except PeriodError as exc:
                raise ValueError(str(exc)) from exc
        return value


class SafetyLimit(_Strict):
    """Above this share or number of the records seen, a run pauses for a person's approval."""

    max_share: float = Field(default=0.25, gt=0, le=1)
    max_count: int = Field(default=1000, gt=0)


class Rule(_Strict):
    ref: str = Field(pattern=r"^[A-Z][0-9]+$")
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str
    quote: Quote
    covers: Coverage
    trigger: Trigger | None = None
    window: Window = Field(default_factory=Window)
    cadence: CronCadence | RRuleCadence | LatestOfCadence | None = None
    #: a label rule's own small scan (ids only) that dates when mail first carries the label (Stressfri S8)
    label_scan: CronCadence | None = None
    action: Action
    exemptions: tuple[Exemption, ...] = ()
    reading: str | None = None
    reason: str | None = None
    finding: Finding | None = None
    safety_limit: SafetyLimit = Field(default_factory=SafetyLimit)

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if self.action is Action.NONE and not self.reason:
            raise ValueError("action 'none' needs a 'reason' saying why nothing is enforced")
        if self.finding is not None and self.action is not Action.NONE:
            raise ValueError("a 'finding' marks a gap in the notice, so nothing is enforced: use action 'none'")
        has_window = self.window.not_before is not None or self.window.deadline is not None
        if has_window and self.trigger is None:
            raise ValueError("a window needs a trigger: which date starts the clock")
        if self.label_scan is not None and "label" not in self.covers.selection:
            raise ValueError("label_scan dates a label's mail, so the selection must name a label")
        return self

    @property
    def scheduled(self) -> bool:
        return self.cadence is not None


class Policy(_Strict):
    controller: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    country: Country
    timezone: str
    language: str
    financial_year_end: str = Field(default="12-31", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    notice: Notice
    systems: dict[str, System]
    rules: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{value}'") from exc
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.ref in seen:
                raise ValueError(f"rule {rule.ref}: the ref is used twice")
            seen.add(rule.ref)
            unknown = [s for s in rule.covers.systems if s not in self.systems]
            if unknown:
                raise ValueError(f"rule {rule.ref}: covers.systems: unknown system '{unknown[0]}'")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def year_end(self) -> tuple[int, int]:
        month, day = self.financial_year_end.split("-")
        return int(month), int(day)

    def rule(self, ref: str) -> Rule | None:
        wanted = ref.upper()
        return next((r for r in self.rules if r.ref == wanted or r.id == ref), None)

    def bound(self, text: str) -> Period:
        """A window bound as a period; `bookkeeping` is the law of the controller's country."""
        if text == BOOKKEEPING:
            return BOOKKEEPING_PERIOD[self.country]
        if text.startswith(f"{BOOKKEEPING} + "):
            extra = Period.parse(text.removeprefix(f"{BOOKKEEPING} + "))
            base = BOOKKEEPING_PERIOD[self.country]
            return Period(base.years + extra.years, base.months + extra.months, base.days + extra.days)
        return Period.parse(text)


__all__ = [
    "BOOKKEEPING",
    "WHICHEVER_IS_LATER",
    "Action",
    "Anchor",
    "Cadence",
    "Coverage",
    "Exemption",
    "Finding",
    "Notice",
    "Policy",
    "Quote",
    "Rule",
    "SafetyLimit",
    "System",
    "SystemKind",
    "Trigger",
    "Window",
    "bound_parts",
    "is_bookkeeping",
]
