"""Balance's B1 (names and email only in the list) and Balansekonomi's E2 (withdrawals listed) and E3
(personnummer flagged), through the Prefect flows against the emulators."""

from __future__ import annotations

import pytest

from hygiene.ledger import EntryKind, Ledger
from tests.vendor_fixtures import AS_OF, BALANCE, BALANSEKONOMI, aim_at, seeded_sandbox


@pytest.mark.usefixtures("prefect_server")
def test_b1_flags_every_filled_merge_field_beyond_names_by_tag_never_value(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from flows.detect import detect_rule

    with seeded_sandbox(BALANCE, n=12) as seeded:
        aim_at(monkeypatch, seeded, "balance")
        [result] = detect_rule("balance", "B1")
    entries = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.FINDING]
    per_member = [e for e in entries if e.record is not None]
    [list_level] = [e for e in entries if e.record is None]
    assert {e.payload["field"] for e in per_member} == {"PHONE", "BIRTHDAY", "CUSTNO"}
    assert len(per_member) == 3 * len(seeded.mailchimp.members)
    assert list_level.payload["fields"] == ["ADDRESS", "BIRTHDAY", "CUSTNO", "PHONE"]


@pytest.mark.usefixtures("prefect_server")
def test_e2_lists_every_unsubscribed_member_and_deletes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.review import review_rule

    with seeded_sandbox(BALANSEKONOMI, n=12) as seeded:
        aim_at(monkeypatch, seeded, "balansekonomi")
        [result] = review_rule("balansekonomi", "E2", as_of=AS_OF)
        assert result["review"] == len(seeded.mailchimp.unsubscribed()) and result["deleted"] == 0
        assert len(seeded.member_emails()) == len(seeded.mailchimp.members)


@pytest.mark.usefixtures("prefect_server")
def test_e3_flags_contacts_with_a_personnummer_in_their_notes(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from flows.detect import detect_rule

    with seeded_sandbox(BALANSEKONOMI, n=12) as seeded:
        aim_at(monkeypatch, seeded, "balansekonomi")
        [result] = detect_rule("balansekonomi", "E3")
    assert result["findings"] == sum(1 for c in seeded.hubspot.contacts if c.national_id) > 0
    findings = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.FINDING]
    assert all(
        e.payload
        == {"system": "crm", "finding": "personnummer_in_property", "field": "notes", "flag": "delete the value"}
        for e in findings
    )
