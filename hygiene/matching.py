"""How a person is recognised in text and in fields: by a whole identifier, never by a piece of one.

An erasure deletes what it matches, so a match must mean "this person". A raw substring does not:
`ann@example.dk` is inside `joann@example.dk` and inside `ann@example.dk.other.org`, and `@` is inside every
address. So an identifier is first checked to be one (an email by `email-validator`, syntax only: no DNS, the
request may come from a domain that no longer resolves), and then found only where the characters around it
cannot continue it:

- an email, case-folded (ASCII), not preceded by a character of an address's local part (`jo|ann@…`, `x.|ann@…`)
  and not followed by one of a domain (`…dk|x`, `…dk|.other.org`); a sentence's full stop after it is no label.
- a phone number, digits only compared (spaces, dashes, dots and brackets between them ignored), in its national
  form or with the country code as `+CC` or `00CC`, not preceded or followed by another digit.
- a CPR number or personnummer, the same digits with or without the separator (and, for a personnummer, with or
  without its century), not inside a longer number.

Content is matched as bytes in chunks, so a file of any size is searched with flat memory; a match that runs
across a chunk's edge is found, and one whose end is not yet decided waits for the next chunk. Non-ASCII letters
of an address are compared as written (lower-cased once); bytes above 0x7f count as letters of an address, so a
longer international address is never read as the shorter one.

Equality of whole fields (a CRM's email property, a sheet's email column) is `same_address`.

A name is different: names are not unique, so a name in free text is only a *probable* match (`name_needle`). It
is never a reason to delete or export; a file that names the person without their identifier goes to a person's
checklist. Names are compared as people read them: NFKC-normalised (a decomposed `Å` is the composed one),
case-folded, diacritics as written (`Åse` finds `åse`, not `Ase`), every word whole and in sequence with any
blank between them, so `Ann Hansen` is found in `ann  hansen` but not in `Joann Hansen` or `Ann Hansenius`.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from hygiene.errors import HygieneError

#: characters that may stand in an address's local part (RFC 5322 atext and the dot), or any non-ASCII byte
_LOCAL = rb"A-Za-z0-9!#$%&'*+/=?^_`{|}~.\x80-\xff-"
#: characters that continue a domain label
_LABEL = rb"A-Za-z0-9_\x80-\xff-"
#: separators people write between a phone number's digits
_PHONE_SEPARATOR = rb"[ .\-()/]?"
#: national prefixes dropped when the country code is written (Sweden's trunk 0: 070… is +46 70…)
_TRUNK = {"46": "0"}
#: the Nordic country codes a number written with `+`/`00` is read against, longest first
_COUNTRY_CODES = ("358", "354", "45", "46", "47")


class NotAnIdentifier(HygieneError):
    """A value given as a person's identifier that is not one (an "email" without a local part, ...)."""


def email_address(text: str, where: str) -> str:
    """`text` as the address it is, stripped and lower-cased as pseudonyms are, or one line naming `where`.

    The value itself is left out of the error: what a user typed as an address may still be one, nearly.
    """
    value = text.strip()
    try:
        validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as error:
        raise NotAnIdentifier(f"{where}: not an email address ({_reason(error)})") from None
    return value.lower()


def _reason(error: EmailNotValidError) -> str:
    text = str(error).rstrip(".")
    return text[0].lower() + text[1:] if text else "invalid"


def same_address(field: object, address: str) -> bool:
    """Whether a field holding one address is this address (case and surrounding blanks ignored)."""
    return isinstance(field, str) and field.strip().lower() == address.strip().lower()


@dataclass(frozen=True)
class Needle:
    """One person's identifier as a pattern with its boundaries.

    `reach` is the most bytes a match and the context deciding it can span (one byte before, two after): the
    overlap kept between chunks.
    """

    pattern: re.Pattern[bytes]
    reach: int

    def found_in(self, chunks: Iterable[bytes]) -> bool:
        """Whether the identifier stands whole in the concatenated chunks."""
        window = b""
        dropped = 0
        for block in chunks:
            window += block
            if self._decided_match(window, 1 if dropped else 0, final=False):
                return True
            keep = min(len(window), self.reach)
            dropped += len(window) - keep
            window = window[len(window) - keep :]
        return self._decided_match(window, 1 if dropped else 0, final=True)

    def in_text(self, text: str) -> bool:
        return self.found_in([text.encode()])

    def _decided_match(self, window: bytes, start: int, *, final: bool) -> bool:
        # a match this close to the window's end may still be continued by the next chunk (…dk|.other.org)
        return any(final or match.end() + 2 <= len(window) for match in self.pattern.finditer(window, start))


def address_needle(address: str) -> Needle:
    """The needle of a valid, lower-cased address (see `email_address`)."""
    raw = address.encode()
    pattern = re.compile(
        rb"(?<![" + _LOCAL + rb"])" + re.escape(raw) + rb"(?![" + _LABEL + rb"]|\.[" + _LABEL + rb"])",
        re.IGNORECASE,
    )
    return Needle(pattern, len(raw) + 3)


def phone_needle(number: str) -> Needle:
    """A number written `+CC …` or `00CC …` (a Nordic country code), found in its international or national form."""
    digits = re.sub(r"\D", "", number)
    international = number.strip().startswith(("+", "00"))
    if international:
        digits = digits.removeprefix("00") if number.strip().startswith("00") else digits
        code = next((c for c in _COUNTRY_CODES if digits.startswith(c)), None)
        if code is None or len(digits) - len(code) < 6:
            raise NotAnIdentifier("phone number: not a Nordic number with its country code (+45, +46, +47, …)")
        national = digits[len(code) :].removeprefix(_TRUNK.get(code, "\x00"))
        prefix = rb"(?:(?:\+|00)" + code.encode() + _PHONE_SEPARATOR + rb"|" + _TRUNK.get(code, "").encode() + rb")"
    else:
        if len(digits) < 6:
            raise NotAnIdentifier("phone number: too few digits")
        national, prefix = digits, b""
    body = _PHONE_SEPARATOR.join(re.escape(d.encode()) for d in national)
    pattern = re.compile(rb"(?<![\d+])" + prefix + body + rb"(?!\d)")
    return Needle(pattern, 2 * len(national) + len(prefix) + 3)


def national_id_needle(number: str) -> Needle:
    """A CPR number (DDMMYY-SSSS) or personnummer (YYMMDD-NNNC, YYYYMMDDNNNC), with or without separator."""
    digits = re.sub(r"\D", "", number)
    if len(digits) == 12 and digits[:2] in ("18", "19", "20"):
        century, digits = digits[:2].encode(), digits[2:]
    elif len(digits) == 10:
        century = rb"(?:18|19|20)"
    else:
        raise NotAnIdentifier("national id: a CPR number or personnummer has 10 digits (12 with the century)")
    head, tail = digits[:6].encode(), digits[6:].encode()
    pattern = re.compile(rb"(?<!\d)(?:" + century + rb")?" + head + rb"[-+ ]?" + tail + rb"(?!\d)")
    return Needle(pattern, 16)


_PHONE_SHAPE = re.compile(r"(?:\+|00)[\d .\-()/]{6,}")
_NATIONAL_ID_SHAPE = re.compile(r"(?:\d{2})?\d{6}[-+]?\d{4}")


def needle_for(subject: str) -> Needle | None:
    """The needle of an identifier that can be found in free text (email, phone, national id), else None.

    Other subjects (a client reference, a vendor id) are matched only as whole fields, never in content.
    """
    value = subject.strip()
    if "@" in value:
        return address_needle(email_address(value, "subject"))
    if _NATIONAL_ID_SHAPE.fullmatch(value):
        return national_id_needle(value)
    if _PHONE_SHAPE.fullmatch(value):
        return phone_needle(value)
    return None


def person_name(text: str, where: str) -> str:
    """`text` as a full name (at least two words, each with a letter), NFKC-normalised, or one line naming `where`.

    One word (`Ann`) would find every Ann; the value itself is left out of the error, as an address's is.
    """
    words = unicodedata.normalize("NFKC", text).split()
    if len(words) < 2 or not all(any(char.isalpha() for char in word) for word in words):
        raise NotAnIdentifier(f"{where}: not a full name (give at least a first and a last name)")
    return " ".join(words)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class NameNeedle:
    """A full name as a pattern on folded text, for a probable match only (see the module docstring).

    `reach` is the most characters of raw text a match and its deciding context can span: the overlap kept
    between chunks (generous, as blanks between the words and decomposed letters make the raw text longer).
    """

    pattern: re.Pattern[str]
    reach: int

    def found_in(self, chunks: Iterable[bytes]) -> bool:
        """Whether the name stands whole in the concatenated chunks, read as UTF-8 (bad bytes as U+FFFD)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        window, dropped = "", False
        for block in chunks:
            window += decoder.decode(block)
            if self._decided_match(window, dropped, final=False):
                return True
            if len(window) > self.reach:
                window, dropped = window[-self.reach :], True
        return self._decided_match(window + decoder.decode(b"", final=True), dropped, final=True)

    def in_text(self, text: str) -> bool:
        return self.found_in([text.encode()])

    def _decided_match(self, window: str, dropped: bool, *, final: bool) -> bool:
        folded = _folded(window)
        # the first character of a kept window is context only; a match at the end may go on in the next chunk
        start = 1 if dropped else 0
        return any(final or match.end() < len(folded) for match in self.pattern.finditer(folded, start))


def name_needle(name: str) -> NameNeedle:
    """The needle of a full name (see `person_name`): its folded words whole, in sequence, blanks between."""
    words = [re.escape(_folded(word)) for word in person_name(name, "name").split()]
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")
    return NameNeedle(pattern, 4 * len(name) + 64)
