"""Gmail search syntax (`q` of messages.list), the subset a retention connector relies on.

Supported: `label:`, `in:`, `is:`, `category:`, `has:userlabels|nouserlabels`, `from:`, `to:`, `cc:`, `bcc:`,
`subject:`, `rfc822msgid:`, `before:`/`after:`/`older:`/`newer:` (YYYY/MM/DD, YYYY-MM-DD, MM/DD/YYYY or epoch
seconds), `older_than:`/`newer_than:` (Nd, Nm, Ny), bare words and "quoted phrases", all ANDed, each negatable with
a leading `-`. Real Gmail never refuses a query (it searches unknown syntax as text); this emulator answers 400
for syntax it does not emulate (OR, braces, parentheses, other operators), so a connector cannot silently depend
on behaviour nobody checked.

Dates follow Gmail's documented rule: a calendar date means midnight of that date in Pacific time (Google says
"PST"; we use America/Los_Angeles, so summer dates are PDT), while epoch seconds are exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from sandbox.gmail_errors import ApiError, bad_request
from sandbox.gmail_store import SPAM_AND_TRASH, Label, StoredMessage

PACIFIC = ZoneInfo("America/Los_Angeles")
_TOKEN = re.compile(r'\s*(-)?(?:([a-zA-Z_0-9]+):)?(?:"([^"]*)"|(\S+))')
_IN_ALIASES = {"drafts": "draft", "chats": "chat"}
_CATEGORIES = {
    "primary": "CATEGORY_PERSONAL",
    "social": "CATEGORY_SOCIAL",
    "promotions": "CATEGORY_PROMOTIONS",
    "updates": "CATEGORY_UPDATES",
    "forums": "CATEGORY_FORUMS",
}
_IS_LABELS = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}
_RELATIVE_UNITS = {"d": "days", "m": "months", "y": "years"}

Predicate = Callable[[StoredMessage, Mapping[str, Label]], bool]


@dataclass(frozen=True)
class QueryContext:
    """What a query is evaluated against besides the message: the clock (older_than) and the owner (from:me)."""

    now: datetime
    address: str


@dataclass(frozen=True)
class Term:
    negated: bool
    predicate: Predicate
    lifts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def explicit_spam_trash(self) -> frozenset[str]:
        """SPAM/TRASH asked for positively (in:trash, label:spam, in:anywhere): Gmail then searches them too."""
        return frozenset().union(*(t.lifts for t in self.terms if not t.negated))

    def matches(self, message: StoredMessage, labels: Mapping[str, Label]) -> bool:
        return all(t.predicate(message, labels) != t.negated for t in self.terms)


def unsupported(token: str) -> ApiError:
    return bad_request(f"Gmail search syntax {token!r} is not emulated by the sandbox")


def parse_query(q: str, context: QueryContext) -> Query:
    terms: list[Term] = []
    for match in _TOKEN.finditer(q):
        negation, operator, quoted, plain = match.groups()
        value = quoted if quoted is not None else plain
        if operator is None and value in ("AND", ""):
            continue
        if operator is None and (value == "OR" or value[0] in "({" or value[-1] in ")}"):
            raise unsupported(value)
        predicate, lifts = _term(operator, value, context, match.group(0).strip())
        terms.append(Term(negated=bool(negation), predicate=predicate, lifts=lifts))
    return Query(tuple(terms))


def _term(operator: str | None, value: str, context: QueryContext, token: str) -> tuple[Predicate, frozenset[str]]:
    if operator is None:
        if ":" in value:
            raise unsupported(token)
        return _text(value), frozenset()
    operator = operator.lower()
    if operator in ("label", "in"):
        return _label_or_folder(value)
    builder = _BUILDERS.get(operator)
    if builder is None:
        raise unsupported(token)
    return builder(value, context, token), frozenset()


def normalise_label_name(name: str) -> str:
    """Gmail searches labels by name, case-insensitively, with spaces and slashes written as hyphens."""
    return re.sub(r"[\s/]+", "-", name.strip().lower())


def _label_or_folder(value: str) -> tuple[Predicate, frozenset[str]]:
    wanted = normalise_label_name(_IN_ALIASES.get(value.lower(), value))
    if wanted == "anywhere":
        return (lambda _m, _labels: True), SPAM_AND_TRASH

    def has_label(message: StoredMessage, labels: Mapping[str, Label]) -> bool:
        return any(normalise_label_name(labels[i].name) == wanted for i in message.label_ids if i in labels)

    return has_label, frozenset({wanted.upper()}) & SPAM_AND_TRASH


def _has_system_label(label_id: str) -> Predicate:
    return lambda message, _labels: label_id in message.label_ids


def _is(value: str, _context: QueryContext, token: str) -> Predicate:
    if value.lower() == "read":
        return lambda message, _labels: "UNREAD" not in message.label_ids
    if value.lower() not in _IS_LABELS:
        raise unsupported(token)
    return _has_system_label(_IS_LABELS[value.lower()])


def _category(value: str, _context: QueryContext, token: str) -> Predicate:
    if value.lower() not in _CATEGORIES:
        raise unsupported(token)
    return _has_system_label(_CATEGORIES[value.lower()])


def _has(value: str, _context: QueryContext, token: str) -> Predicate:
    if value.lower() not in ("userlabels", "nouserlabels"):
        raise unsupported(token)
    wanted = value.lower() == "userlabels"

    def has_user_label(message: StoredMessage, labels: Mapping[str, Label]) -> bool:
        return any(labels[i].type == "user" for i in message.label_ids if i in labels) == wanted

    return has_user_label


def _header(name: str) -> Callable[[str, QueryContext, str], Predicate]:
    """from:, to:, cc:, bcc:, subject: match a part of the header, case-insensitively; `me` is the owner."""

    def build(value: str, context: QueryContext, _token: str) -> Predicate:
        needle = context.address if value.lower() == "me" and name != "Subject" else value
        needle = needle.lower()
        return lambda message, _labels: needle in message.header(name).lower()

    return build


def _rfc822msgid(value: str, _context: QueryContext, _token: str) -> Predicate:
    wanted = value.strip("<>").lower()
    return lambda message, _labels: message.header("Message-ID").strip().strip("<>").lower() == wanted


def _text(value: str) -> Predicate:
    """A bare word or phrase: Gmail matches whole words in the headers and the body."""
    pattern = re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)", re.IGNORECASE)

    def contains(message: StoredMessage, _labels: Mapping[str, Label]) -> bool:
        haystack = " ".join((message.header("Subject"), message.header("From"), message.header("To"), message.text()))
        return pattern.search(haystack) is not None

    return contains


def parse_moment(value: str) -> datetime:
    """A date of before:/after: as Gmail reads it: epoch seconds exactly, a calendar date as Pacific midnight."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    iso = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", value)
    us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
    try:
        if iso:
            return datetime(int(iso[1]), int(iso[2]), int(iso[3]), tzinfo=PACIFIC)
        if us:
            return datetime(int(us[3]), int(us[1]), int(us[2]), tzinfo=PACIFIC)
    except ValueError:
        pass
    raise unsupported(value)


def _before(value: str, _context: QueryContext, _token: str) -> Predicate:
    bound_ms = int(parse_moment(value).timestamp() * 1000)
    return lambda message, _labels: message.internal_date_ms < bound_ms


def _after(value: str, _context: QueryContext, _token: str) -> Predicate:
    bound_ms = int(parse_moment(value).timestamp() * 1000)
    return lambda message, _labels: message.internal_date_ms >= bound_ms


def _relative_bound(value: str, context: QueryContext, token: str) -> int:
    match = re.fullmatch(r"(\d+)([dmy])", value.lower())
    if not match:
        raise unsupported(token)
    delta = relativedelta(**{_RELATIVE_UNITS[match[2]]: int(match[1])})  # type: ignore[arg-type]
    return int((context.now - delta).timestamp() * 1000)


def _older_than(value: str, context: QueryContext, token: str) -> Predicate:
    bound_ms = _relative_bound(value, context, token)
    return lambda message, _labels: message.internal_date_ms < bound_ms


def _newer_than(value: str, context: QueryContext, token: str) -> Predicate:
    bound_ms = _relative_bound(value, context, token)
    return lambda message, _labels: message.internal_date_ms >= bound_ms


_BUILDERS: dict[str, Callable[[str, QueryContext, str], Predicate]] = {
    "is": _is,
    "category": _category,
    "has": _has,
    "from": _header("From"),
    "to": _header("To"),
    "cc": _header("Cc"),
    "bcc": _header("Bcc"),
    "subject": _header("Subject"),
    "rfc822msgid": _rfc822msgid,
    "before": _before,
    "older": _before,
    "after": _after,
    "newer": _after,
    "older_than": _older_than,
    "newer_than": _newer_than,
}
