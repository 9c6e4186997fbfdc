"""The request store: deadlines from each controller's promise, extensions, the sealed identity, the list."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import SecretStr

from hygiene.errors import HygieneError
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.requests import IdentityCipher, RequestKind, RequestRefused, RequestStore
from hygiene.settings import Settings
from tests.cli_runner import run_cli
from tests.privacy import database_rows, hits

EMAIL = "Sigrid.Holm@example.no"


def opened(database_url: str, controller: str, received: date, kind: RequestKind = RequestKind.ERASURE) -> RequestStore:
    store = RequestStore(Ledger(database_url))
    policy = load_policy(policies_dir(), controller)
    store.open(policy, kind, EMAIL, received, Settings().key_for(controller))
    return store


@pytest.mark.parametrize(
    ("controller", "received", "deadline", "source"),
    [
        ("clienti", date(2026, 10, 29), date(2026, 11, 30), "30 days (rule C6)"),
        ("stressfri", date(2026, 4, 30), date(2026, 6, 1), "1 month (rule S7)"),
        ("calmo", date(2026, 1, 31), date(2026, 3, 2), "1 month (GDPR Art. 12(3))"),
        ("balansekonomi", date(2026, 5, 6), date(2026, 6, 8), "1 month (rule E1)"),
    ],
)
def test_the_deadline_follows_the_controllers_promise_and_rolls_off_weekends(
    database_url: str, controller: str, received: date, deadline: date, source: str
) -> None:
    [request] = opened(database_url, controller, received).list_open()
    assert request.deadline == deadline and request.source == source


def test_an_extension_is_two_more_months_once_with_its_reason_in_the_evidence(database_url: str) -> None:
    store = opened(database_url, "calmo", date(2026, 1, 31))
    policy = load_policy(policies_dir(), "calmo")
    [request] = store.list_open()
    extended = store.extend(request.request_id, "many archives to search", policy, date(2026, 2, 10))
    assert extended.due == date(2026, 4, 30) and extended.deadline == date(2026, 3, 2)
    [entry] = [e for e in Ledger(database_url).entries(run_id=request.request_id) if e.payload["event"] == "extended"]
    assert entry.kind is EntryKind.REQUEST and entry.payload["reason"] == "many archives to search"
    with pytest.raises(RequestRefused, match="already extended"):
        store.extend(request.request_id, "again", policy, date(2026, 2, 11))


def test_an_extension_after_the_deadline_is_refused(database_url: str) -> None:
    store = opened(database_url, "calmo", date(2026, 1, 31))
    [request] = store.list_open()
    with pytest.raises(RequestRefused, match="has passed"):
        store.extend(request.request_id, "late", load_policy(policies_dir(), "calmo"), date(2026, 3, 3))


def test_the_identity_is_sealed_bound_to_its_request_and_deleted_at_close(database_url: str) -> None:
    store = opened(database_url, "stressfri", date(2026, 11, 2))
    [request] = store.list_open()
    key = Settings().key_for("stressfri")
    assert store.identity(request, key) == EMAIL
    assert hits(database_rows(database_url), {EMAIL}) == []
    with pytest.raises(HygieneError, match="does not decrypt"):
        IdentityCipher("stressfri", SecretStr("another key")).open(request.request_id, request.sealed_identity or "")
    with pytest.raises(HygieneError, match="does not decrypt"):
        IdentityCipher("stressfri", key).open("another-request", request.sealed_identity or "")
    closed = store.close(request.request_id, "erased", {"totals": {"found": 0}})
    assert closed.sealed_identity is None and not closed.is_open
    assert request.sealed_identity is not None
    assert request.sealed_identity not in str(request) and request.sealed_identity not in "\n".join(
        database_rows(database_url)
    )


def test_request_ids_are_random_not_derived_from_the_email(database_url: str) -> None:
    store = opened(database_url, "clienti", date(2026, 11, 2))
    policy = load_policy(policies_dir(), "clienti")
    store.open(policy, RequestKind.ACCESS, EMAIL, date(2026, 11, 2), Settings().key_for("clienti"))
    first, second = store.list_open()
    assert first.request_id != second.request_id and first.subject == second.subject


def test_the_list_shows_days_left_and_never_the_email(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    today = date.today()
    opened(database_url, "clienti", today - timedelta(days=10))
    result = run_cli(capsys, monkeypatch, "requests", "--json")
    [row] = result.json()
    assert result.code == 0 and row["kind"] == "erasure" and 18 <= row["days_left"] <= 22
    assert EMAIL.lower() not in result.out.lower()


@pytest.mark.usefixtures("prefect_server")
def test_the_deadline_watch_warns_and_marks_overdue_requests_once(database_url: str) -> None:
    from flows.rights import watch_deadlines

    today = date.today()
    store = opened(database_url, "clienti", today - timedelta(days=27))
    opened(database_url, "calmo", today - timedelta(days=70))
    soon, late = sorted(store.list_open(), key=lambda r: r.controller == "calmo")
    watch_deadlines()
    result = watch_deadlines()
    assert result == {"warned": [soon.request_id], "overdue": [late.request_id]}
    findings = [e for e in Ledger(database_url).entries(kinds={EntryKind.FINDING})]
    assert [f.payload["finding"] for f in findings] == ["request_overdue"]
