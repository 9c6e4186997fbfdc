"""Balance's B1 (names and email only in the list) and Balansekonomi's E2 (withdrawals listed) and E3
(personnummer and payment details flagged), through the Prefect flows against the emulators."""

from __future__ import annotations

import pytest
from hubspot.crm.contacts import SimplePublicObjectInput

from hygiene.ledger import EntryKind, Ledger
from sandbox.seed import hubspot_client
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


#: payment details written into notes of contacts without a personnummer, and decoys that must not be flagged
PAYMENT_NOTES = (
    "Betalar med kort 4111 1111 1111 1111.",
    "Återbetalning till SE45 5000 0000 0583 9825 7466.",
    "Faktura via bankgiro 5050-1055.",
)
DECOY_NOTES = ("Ring 070-123 45 67.", "Kund 2019-2021, order 4711-2023.", "Kort 4111 1111 1111 1112 spärrat.")


@pytest.mark.usefixtures("prefect_server")
def test_e3_flags_personnummer_and_payment_details_in_notes_and_leaves_other_numbers_alone(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    from flows.detect import detect_rule

    with seeded_sandbox(BALANSEKONOMI, n=12) as seeded:
        aim_at(monkeypatch, seeded, "balansekonomi")
        plain = [c for c in seeded.hubspot.contacts if not c.national_id]
        paying, decoys = plain[: len(PAYMENT_NOTES)], plain[len(PAYMENT_NOTES) : len(PAYMENT_NOTES) + len(DECOY_NOTES)]
        crm = hubspot_client(seeded.sandbox.hubspot_host)
        for contact, note in (*zip(paying, PAYMENT_NOTES, strict=True), *zip(decoys, DECOY_NOTES, strict=True)):
            crm.crm.contacts.basic_api.update(contact.id, SimplePublicObjectInput(properties={"notes": note}))
        [result] = detect_rule("balansekonomi", "E3")
    with_id = [c for c in seeded.hubspot.contacts if c.national_id]
    findings = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.FINDING]
    by_kind = {
        kind: {e.subject for e in findings if e.payload["finding"] == kind}
        for kind in ("personnummer_in_property", "payment_in_property")
    }
    assert len(by_kind["personnummer_in_property"]) == len(with_id) > 0
    assert len(by_kind["payment_in_property"]) == len(paying) and result["findings"] == len(with_id) + len(paying)
    assert all(e.payload["field"] == "notes" and e.payload["flag"] == "delete the value" for e in findings)
