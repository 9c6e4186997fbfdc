"""HubSpot CRM search (`POST /crm/v3/objects/contacts/search`): validating and evaluating a search request.

HubSpot's rules (search guide and the August 2024 changelog): at most 5 filter groups, 10 filters a group and
25 filters in all; filters inside a group are ANDed, groups ORed; `limit` at most 200; `after` is an offset and
no query pages past 10,000 results (400). A filter on a property the account does not define is a 400.
Values compare by the property's type: numbers numerically, dates and datetimes as instants (epoch
milliseconds or ISO 8601), strings case-insensitively. Archived contacts are never searched.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sandbox.hubspot_store import Contact, HubSpotStore, PropertyDef, parse_moment, validation_error

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000
#: properties the free-text `query` looks in (HubSpot's default searchable contact properties)
QUERY_PROPERTIES = ("email", "firstname", "lastname", "phone", "hs_object_id")
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)

Comparable = float | datetime | str


@dataclass(frozen=True)
class SearchPage:
    results: list[Contact]
    total: int
    next_after: str | None


def search(store: HubSpotStore, body: dict[str, Any]) -> SearchPage:
    groups = _valid_groups(store, body.get("filterGroups") or [])
    limit, offset = _valid_window(body)
    query = str(body.get("query") or "").strip().lower()
    matches = [c for c in store.live() if _matches_query(c, query) and _matches_groups(store, c, groups)]
    matches.sort(key=lambda c: c.id)
    for prop, descending in reversed(_sorts(store, body.get("sorts") or [])):
        matches.sort(key=partial(_sort_key, store, prop=prop), reverse=descending)
    page = matches[offset : offset + limit]
    following = offset + limit
    more = following < len(matches) and following < MAX_RESULTS
    return SearchPage(page, len(matches), str(following) if more else None)


def _valid_window(body: dict[str, Any]) -> tuple[int, int]:
    try:
        limit = int(body.get("limit") or DEFAULT_LIMIT)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise validation_error("limit and after must be integers") from exc
    if not 0 < limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0 or offset >= MAX_RESULTS:
        raise validation_error(
            f"The search paging limit of {MAX_RESULTS} results was exceeded; narrow the query "
            "(e.g. hs_object_id GT the last id) instead of paging further."
        )
    return limit, offset


def _valid_groups(store: HubSpotStore, groups: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: at most {MAX_GROUPS} are allowed.")
    filters_by_group = [g.get("filters") or [] if isinstance(g, dict) else [] for g in groups]
    if any(len(f) > MAX_FILTERS_PER_GROUP for f in filters_by_group):
        raise validation_error(f"Too many filters in a group: at most {MAX_FILTERS_PER_GROUP} are allowed.")
    if sum(len(f) for f in filters_by_group) > MAX_FILTERS:
        raise validation_error(f"Too many filters: at most {MAX_FILTERS} are allowed in all groups.")
    for filters in filters_by_group:
        for search_filter in filters:
            _check_filter(store, search_filter)
    return filters_by_group


def _check_filter(store: HubSpotStore, search_filter: Any) -> None:
    if not isinstance(search_filter, dict):
        raise validation_error("A filter must be an object.")
    name = search_filter.get("propertyName")
    if store.property_def(str(name)) is None:
        raise validation_error(
            f"There was a problem with the request: property '{name}' does not exist.",
            [{"message": f'Property "{name}" does not exist', "code": "PROPERTY_DOESNT_EXIST"}],
        )
    if search_filter.get("operator") not in OPERATORS:
        raise validation_error(f"Unknown filter operator '{search_filter.get('operator')}'.")


def _sorts(store: HubSpotStore, sorts: Any) -> list[tuple[str, bool]]:
    """`sorts` as objects `{propertyName, direction}` or strings (`-name` descending), as the SDK allows."""
    parsed: list[tuple[str, bool]] = []
    for sort in sorts if isinstance(sorts, list) else []:
        if isinstance(sort, dict):
            name, descending = str(sort.get("propertyName")), sort.get("direction") == "DESCENDING"
        else:
            name, descending = str(sort).lstrip("-"), str(sort).startswith("-")
        if store.property_def(name) is None:
            raise validation_error(f"Cannot sort by unknown property '{name}'.")
        parsed.append((name, descending))
    return parsed


def _matches_query(contact: Contact, query: str) -> bool:
    if not query:
        return True
    return any(
        v.lower().startswith(query) or query in _tokens(v) for p in QUERY_PROPERTIES if (v := contact.properties.get(p))
    )


def _matches_groups(store: HubSpotStore, contact: Contact, groups: list[list[dict[str, Any]]]) -> bool:
    if not groups:
        return True
    return any(all(_matches(store, contact, f) for f in group) for group in groups)


def _matches(store: HubSpotStore, contact: Contact, search_filter: dict[str, Any]) -> bool:
    name = str(search_filter["propertyName"])
    operator = str(search_filter["operator"])
    stored = contact.properties.get(name)
    if operator == "HAS_PROPERTY":
        return stored is not None
    if operator == "NOT_HAS_PROPERTY":
        return stored is None
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        found = stored is not None and _contains_token(stored, str(search_filter.get("value", "")))
        return found == (operator == "CONTAINS_TOKEN")
    definition = store.property_def(name)
    assert definition is not None
    convert = _converter(definition)
    if operator in ("IN", "NOT_IN"):
        values = {convert(str(v)) for v in search_filter.get("values") or []}
        inside = stored is not None and convert(stored) in values
        return inside == (operator == "IN")
    if stored is None:
        return operator == "NEQ"
    return _compare(operator, convert(stored), search_filter, convert)


def _compare(
    operator: str, have: Comparable, search_filter: dict[str, Any], convert: Callable[[str], Comparable]
) -> bool:
    want = convert(str(search_filter.get("value", "")))
    try:
        if operator == "BETWEEN":
            return bool(want <= have <= convert(str(search_filter.get("highValue", ""))))  # type: ignore[operator]
        return {
            "EQ": have == want,
            "NEQ": have != want,
            "LT": have < want,  # type: ignore[operator]
            "LTE": have <= want,  # type: ignore[operator]
            "GT": have > want,  # type: ignore[operator]
            "GTE": have >= want,  # type: ignore[operator]
        }[operator]
    except TypeError:  # a value of the wrong type for the property never matches
        return False


def _converter(definition: PropertyDef) -> Callable[[str], Comparable]:
    if definition.type == "number":
        return _number
    if definition.type in ("date", "datetime"):
        return lambda text: parse_moment(text) or text
    return lambda text: text.strip().lower()


def _number(text: str) -> Comparable:
    try:
        return float(text)
    except ValueError:
        return text


def _tokens(value: str) -> set[str]:
    return {t for t in re.split(r"[\s,;]+", value.lower()) if t}


def _contains_token(value: str, pattern: str) -> bool:
    """HubSpot's token match: a whole word of the value, with `*` as a wildcard."""
    wanted = pattern.strip().lower()
    return fnmatch.fnmatchcase(value.lower(), wanted) or any(fnmatch.fnmatchcase(t, wanted) for t in _tokens(value))


def _sort_key(store: HubSpotStore, contact: Contact, *, prop: str) -> tuple[int, Any]:
    definition = store.property_def(prop)
    stored = contact.properties.get(prop)
    if stored is None or definition is None:
        return (1, "")
    converted = _converter(definition)(stored)
    return (0, converted.timestamp() if isinstance(converted, datetime) else converted)
