"""Telling a vendor's page from a malformed answer.

A proxy, a captive portal or a broken vendor release can answer 200 with an HTML page, a truncated or empty
body, or JSON of another shape. Read as a page, such an answer is worse than an error: an empty listing looks
like "no records", and an empty relist like proof that deleted records are gone. So each connector refuses it
in one line that names the vendor and the call, and plans, deletes and proves nothing on its strength. The
line says what was wrong with the answer, never what it held: a vendor's page can hold personal data.
"""

from __future__ import annotations

import json
from typing import Any

from hygiene.connector import ConnectorError


class MalformedAnswer(ConnectorError):
    """A vendor answered a call with something other than the page its API documents."""

    def __init__(self, vendor: str, call: str, problem: str) -> None:
        super().__init__(f"{vendor}: {call}: malformed answer ({problem}); nothing was done on its strength")
        self.problem = problem


class UnreadableBody(Exception):
    """Raised where an SDK reads a body and the call is not known; the connector names the call."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def json_object(content_type: str | None, body: bytes | str) -> dict[str, Any]:
    """The body as a JSON object; UnreadableBody when it is empty, labelled otherwise, not JSON, or not an object.

    The Content-Type is checked too: an answer labelled as HTML or text is not the API's, even when it parses.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not body:
        raise UnreadableBody("an empty body")
    if media_type != "application/json":
        raise UnreadableBody(f"Content-Type {media_type[:40] or 'missing'}, not application/json")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise UnreadableBody("not JSON, or JSON cut short") from None
    if not isinstance(parsed, dict):
        raise UnreadableBody(not_an_object(parsed))
    return parsed


def not_an_object(value: Any) -> str:
    """What a parsed JSON value is instead of an object, e.g. "a JSON array, not an object"."""
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return f"a JSON {kinds.get(type(value), 'number')}, not an object"
