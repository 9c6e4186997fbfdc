"""The date pattern of a folder system: a regex that reads a file's date from its name and cannot stall a run.

Python's `re` backtracks, so a pattern such as `(\\d+)+x` takes exponential time on a name of digits, and a run
that matches it against every file name never finishes: the retention duty silently stops. Patterns are
therefore restricted, when the policy loads, to a subset whose matching time is bounded by a small power of
the name's length (a file name has at most 255 bytes):

- a repetition longer than 16 (`+`, `*`, `{2,}`, `{1,40}`) repeats one character or one character class;
- a shorter repetition (`?`, `{4}`, `{1,2}`) repeats something without a repetition inside;
- at most two long repetitions in the whole pattern;
- no backreferences, conditionals or lookarounds, and at most 200 characters.

Every Calmo pattern, and every pattern a strftime format gives, is inside the subset. A pattern must also
have a named group `date`: without it the date would be the whole match, or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import _constants as sre_constants  # type: ignore[attr-defined]  # the parser's opcodes, no stub
from re import _parser as sre_parser  # type: ignore[attr-defined]  # re's own parser, to walk the pattern
from typing import Any

from hygiene.errors import HygieneError

MAX_LENGTH = 200
#: a repetition that may run longer than this is "long": it may only repeat one character
SHORT_REPEAT = 16
MAX_LONG_REPEATS = 2

_FORMAT_FIELDS = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%y": r"\d{2}"}
_ONE_CHARACTER = {sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.ANY, sre_constants.IN}
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}
_REFUSED = {
    sre_constants.GROUPREF: "a backreference",
    sre_constants.GROUPREF_EXISTS: "a conditional group",
    sre_constants.ASSERT: "a lookahead or lookbehind",
    sre_constants.ASSERT_NOT: "a lookahead or lookbehind",
}


class UnsafePattern(HygieneError):
    """A date pattern that is not a regex, has no `date` group, or could take unbounded time to match."""


@dataclass(frozen=True)
class DatePattern:
    """The compiled pattern and the strptime format its `date` group is parsed with."""

    regex: re.Pattern[str]
    date_format: str


def date_pattern(text: str) -> DatePattern:
    """`text` as a regex with a `date` group, or as a strftime format such as `%Y-%m-%d`; refused if unsafe."""
    is_format = "(?P<date>" not in text and "%" in text
    pattern = _format_regex(text) if is_format else text
    if len(pattern) > MAX_LENGTH:
        raise UnsafePattern(f"date pattern is {len(pattern)} characters long; at most {MAX_LENGTH} are accepted")
    try:
        regex = re.compile(pattern)
        parsed = sre_parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        raise UnsafePattern(f"date pattern {text!r} is not a regex: {error}") from None
    if "date" not in regex.groupindex:
        raise UnsafePattern(f"date pattern {text!r} has no named group 'date'")
    problem = _unsafe(parsed, inside_repeat=False, long_repeats=[0])
    if problem is not None:
        raise UnsafePattern(f"date pattern {text!r} could take unbounded time to match: {problem}")
    return DatePattern(regex, text if is_format else "%Y-%m-%d")


def _format_regex(date_format: str) -> str:
    """`%Y-%m-%d` as `(?P<date>\\d{4}-\\d{2}-\\d{2})`; other directives are not dates in file names."""
    pieces = re.split(r"(%[Ymdy])", date_format)
    return "(?P<date>" + "".join(_FORMAT_FIELDS.get(piece, re.escape(piece)) for piece in pieces) + ")"


def _unsafe(items: Any, *, inside_repeat: bool, long_repeats: list[int]) -> str | None:
    """Why the parsed pattern is outside the safe subset, or None; `long_repeats` counts across the pattern."""
    for op, value in items:
        if op in _REFUSED:
            return f"{_REFUSED[op]} is not allowed"
        if op is sre_constants.SUBPATTERN:
            problem = _unsafe(value[-1], inside_repeat=inside_repeat, long_repeats=long_repeats)
        elif op is sre_constants.ATOMIC_GROUP:
            problem = _unsafe(value, inside_repeat=inside_repeat, long_repeats=long_repeats)
        elif op is sre_constants.BRANCH:
            problem = next(
                (
                    found
                    for branch in value[1]
                    if (found := _unsafe(branch, inside_repeat=inside_repeat, long_repeats=long_repeats))
                ),
                None,
            )
        elif op in _REPEATS:
            problem = _repeat_problem(value, inside_repeat=inside_repeat, long_repeats=long_repeats)
        else:
            problem = None
        if problem is not None:
            return problem
    return None


def _repeat_problem(value: Any, *, inside_repeat: bool, long_repeats: list[int]) -> str | None:
    _, most, item = value
    if most <= 1:
        return _unsafe(item, inside_repeat=inside_repeat, long_repeats=long_repeats)
    if inside_repeat:
        return "a repetition inside a repetition"
    if most > SHORT_REPEAT:
        if len(item) != 1 or item[0][0] not in _ONE_CHARACTER:
            return "a long repetition (+, *, {n,}) of more than one character"
        long_repeats[0] += 1
        if long_repeats[0] > MAX_LONG_REPEATS:
            return f"more than {MAX_LONG_REPEATS} long repetitions (+, *, {{n,}})"
        return None
    return _unsafe(item, inside_repeat=True, long_repeats=long_repeats)
