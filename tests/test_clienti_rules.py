"""Clienti's C1, C2, C3 and C7 on Mailchimp and HubSpot through the Prefect flows, against the emulators."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from hygiene.connector import ConnectorError
from hygiene.holds import HoldStore
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.pseudonym import SUBJECT, pseudonym
from hygiene.settings import Settings
from hygiene.windows import window_for
from sandbox.seed import hubspot_client
from sandbox.state import Fault
from tests.privacy import database_rows, hits
from tests.vendor_fixtures import AS_OF, CLIENTI, Seeded, aim_at, seeded_sandbox

CLIENTI_POLICY = load_policy(policies_dir(), "clienti")
RUN = {"approved": True, "pause_for_approval": False}


@pytest.fixture
def clienti(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Seeded]:
    with seeded_sandbox(CLIENTI) as seeded:
        aim_at(monkeypatch, seeded, "clienti")
        yield seeded


def c1_truth(seeded: Seeded) -> tuple[set[str], set[str]]:
    """(members C1 must erase, contacts C1 must erase): every unsubscribe is past `as_of`, so every unsubscribed
    member goes; the CRM record goes too unless the person is a customer (bookkeeping duty)."""
    gone = {m.email for m in seeded.mailchimp.unsubscribed() if m.unsubscribed_at and m.unsubscribed_at < AS_OF}
    contacts = {c.id for c in seeded.hubspot.contacts if c.email in gone and c.id in seeded.newsletter_only}
    return gone, contacts


def subject(email: str) -> str:
    return pseudonym(Settings().key_for("clienti"), SUBJECT, email)


@pytest.mark.usefixtures("prefect_server")
def test_c1_erases_exactly_the_unsubscribed_from_the_list_and_their_crm_records(
    clienti: Seeded, database_url: str
) -> None:
    from flows.enforce import enforce_rule

    members, contacts = c1_truth(clienti)
    assert members and contacts and len(contacts) < len(members), "the seed has customers and subscribers"
    before = clienti.live_contact_ids()
    results = enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    assert [r["system"] for r in results] == ["hubspot", "mailchimp"], "the CRM first: the list holds its trigger"
    assert clienti.member_emails() == {m.email for m in clienti.mailchimp.members} - members
    assert clienti.live_contact_ids() == before - contacts
    assert {r["system"]: r["deleted"] for r in results} == {"hubspot": len(contacts), "mailchimp": len(members)}
    held = {r["system"]: r["counts"]["held"] for r in results}
    assert held["hubspot"] == len(members) - len(contacts), "customers keep their CRM record (bookkeeping duty)"
    assert Ledger(database_url).verify().ok


@pytest.mark.usefixtures("prefect_server")
def test_c1_erases_a_crm_record_opted_out_in_hubspot_itself_and_keeps_a_customers(clienti: Seeded) -> None:
    """An unsubscribe recorded in HubSpot (`hs_email_optout`) is one too; the list never saw it."""
    from hubspot.communication_preferences import PublicUpdateSubscriptionStatusRequest

    from flows.enforce import enforce_rule

    members, contacts = c1_truth(clienti)
    still_listed = [c for c in clienti.hubspot.contacts if c.email not in members]
    subscriber = next(c for c in still_listed if c.id in clienti.newsletter_only)
    customer = next(c for c in still_listed if c.id not in clienti.newsletter_only)
    crm = hubspot_client(clienti.sandbox.hubspot_host)
    clienti.sandbox.state.clock.set(AS_OF - timedelta(days=10))
    for person in (subscriber, customer):
        crm.communication_preferences.status_api.unsubscribe(
            public_update_subscription_status_request=PublicUpdateSubscriptionStatusRequest(
                email_address=person.email, subscription_id="1"
            )
        )
    clienti.sandbox.state.clock.set(AS_OF)
    before = clienti.live_contact_ids()
    [crm_run, _list_run] = enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    assert clienti.live_contact_ids() == before - contacts - {subscriber.id}, "the customer and every decoy stay"
    assert crm_run["deleted"] == len(contacts) + 1 and crm_run["counts"]["held"] == len(members) - len(contacts) + 1


@pytest.mark.usefixtures("prefect_server")
def test_c1_rerun_is_a_no_op(clienti: Seeded) -> None:
    from flows.enforce import enforce_rule

    enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    again = enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    assert all(r["deleted"] == 0 and r["counts"]["due"] == r["counts"]["overdue"] == 0 for r in again)


@pytest.mark.usefixtures("prefect_server")
def test_c1_legal_hold_keeps_the_crm_record_but_empties_the_list(clienti: Seeded, database_url: str) -> None:
    from flows.enforce import enforce_rule

    _members, contacts = c1_truth(clienti)
    held_contact = next(c for c in clienti.hubspot.contacts if c.id in contacts)
    HoldStore(Ledger(database_url)).add(
        "clienti", subject=subject(held_contact.email), reason="dispute, case 2026-3", set_by="DPO"
    )
    enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    assert held_contact.email not in clienti.member_emails(), "the list entry goes despite the hold"
    assert held_contact.id in clienti.live_contact_ids(), "the CRM record stays under the hold"
    decisions = [e for e in Ledger(database_url).entries() if e.kind is EntryKind.DECISION]
    assert [
        e.payload["reason"]
        for e in decisions
        if e.subject == subject(held_contact.email) and e.payload["system"] == "hubspot"
    ] == ["legal_hold"]


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("status", [429, 503])
def test_c1_through_a_storm_of_transient_errors_ends_in_the_same_state(clienti: Seeded, status: int) -> None:
    from flows.enforce import enforce_rule

    members, contacts = c1_truth(clienti)
    before = clienti.live_contact_ids()
    for vendor, where in (("hubspot", "gdpr-delete"), ("hubspot", "search"), ("mailchimp", "members")):
        clienti.sandbox.state.faults.stage(vendor, Fault(status=status, remaining=3, path_contains=where))
    enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    assert clienti.live_contact_ids() == before - contacts
    assert clienti.member_emails() == {m.email for m in clienti.mailchimp.members} - members


@pytest.mark.usefixtures("prefect_server")
def test_c1_a_vendor_down_for_a_while_stops_with_one_line_and_deletes_nothing_unproven(
    clienti: Seeded, database_url: str
) -> None:
    from flows.enforce import enforce_rule

    clienti.sandbox.state.faults.stage("hubspot", Fault(status=500, remaining=50, path_contains="search"))
    before = clienti.live_contact_ids()
    with pytest.raises(ConnectorError) as caught:
        enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    assert "\n" not in str(caught.value) and "500" in str(caught.value)
    assert clienti.live_contact_ids() == before
    finished = [e for e in Ledger(database_url).entries() if e.kind is EntryKind.RUN_FINISHED]
    assert finished[-1].payload["stopped"] == str(caught.value)


@pytest.mark.usefixtures("prefect_server")
def test_c1_a_wrong_token_is_one_clear_line(clienti: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.enforce import enforce_rule

    monkeypatch.setenv("HYGIENE_HUBSPOT_TOKEN", "not-the-token")
    with pytest.raises(ConnectorError, match=r"^hubspot: the access token was refused \(401\)"):
        enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)


@pytest.mark.usefixtures("prefect_server")
def test_no_email_or_name_reaches_logs_artifacts_prefect_or_the_ledger(
    clienti: Seeded,
    database_url: str,
    prefect_server: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from flows.detect import detect_rule
    from flows.enforce import enforce_rule

    caplog.set_level(logging.DEBUG)
    enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    detect_rule("clienti", "C7")
    out, err = capfd.readouterr()
    places = [*database_rows(database_url), *database_rows(prefect_server), caplog.text, out, err]
    assert hits(places, clienti.needles) == []


def c3_truth(seeded: Seeded) -> set[str]:
    rule = CLIENTI_POLICY.rule("C3")
    assert rule is not None
    due = set()
    for contact in seeded.hubspot.contacts:
        if contact.relationship_ended is None or contact.id in seeded.newsletter_only:
            continue
        ended = datetime(
            contact.relationship_ended.year,
            contact.relationship_ended.month,
            contact.relationship_ended.day,
            tzinfo=CLIENTI_POLICY.zone,
        )
        window = window_for(CLIENTI_POLICY, rule, ended)
        if window.not_before is not None and window.not_before < AS_OF:
            due.add(contact.id)
    return due


@pytest.mark.usefixtures("prefect_server")
def test_c3_deletes_customers_24_months_after_the_relationship_ended_and_counts_those_without_an_end(
    clienti: Seeded, database_url: str
) -> None:
    from flows.enforce import enforce_rule

    due = c3_truth(clienti)
    before = clienti.live_contact_ids()
    assert due and before - due
    [result] = enforce_rule("clienti", "C3", as_of=AS_OF, **RUN)
    assert clienti.live_contact_ids() == before - due
    assert result["deleted"] == len(due)
    # customers with no end date cannot start their 24 months: counted in the evidence, not skipped in silence
    undated = [
        c for c in clienti.hubspot.contacts if c.relationship_ended is None and c.id not in clienti.newsletter_only
    ]
    [finding] = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.FINDING]
    assert undated and finding.payload == {
        "system": "hubspot",
        "finding": "trigger_missing",
        "field": "customer_relationship_ended_at",
        "count": len(undated),
    }
    assert finding.subject is None and finding.record is None


@pytest.mark.usefixtures("prefect_server")
def test_c2_lists_stale_contacts_for_review_and_deletes_those_marked_not_relevant(clienti: Seeded) -> None:
    from flows.review import review_rule

    marked = {c.id for c in clienti.hubspot.contacts if c.not_relevant}
    rule = CLIENTI_POLICY.rule("C2")
    assert rule is not None and marked
    opens = {c.id: window_for(CLIENTI_POLICY, rule, c.last_modified).not_before for c in clienti.hubspot.contacts}
    stale = {c for c, opened in opens.items() if c not in marked and opened is not None and opened < AS_OF}
    before = clienti.live_contact_ids()
    [result] = review_rule("clienti", "C2", as_of=AS_OF)
    assert clienti.live_contact_ids() == before - marked
    assert result["review"] == len(stale) > 0


@pytest.mark.usefixtures("prefect_server")
def test_c7_flags_every_contact_with_a_cpr_number_by_property(clienti: Seeded, database_url: str) -> None:
    from flows.detect import detect_rule

    with_cpr = [c for c in clienti.hubspot.contacts if c.national_id]
    result, mailbox = detect_rule("clienti", "C7")
    assert (result["system"], mailbox["system"], mailbox["findings"]) == ("hubspot", "gmail", 0), "an empty mailbox"
    assert result["findings"] == len(with_cpr) > 0
    findings = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.FINDING]
    assert {e.payload["field"] for e in findings} == {"notes"}
    assert {e.subject for e in findings} == {subject(c.email) for c in with_cpr}


@pytest.mark.usefixtures("prefect_server")
def test_an_erased_person_reimported_into_the_crm_is_flagged_but_a_form_signup_is_not(
    clienti: Seeded, database_url: str
) -> None:
    from flows.enforce import enforce_rule
    from flows.review import review_rule

    _members, contacts = c1_truth(clienti)
    enforce_rule("clienti", "C1", as_of=AS_OF, **RUN)
    reimported, signed_up = [c for c in clienti.hubspot.contacts if c.id in contacts][:2]
    crm = hubspot_client(clienti.sandbox.hubspot_host)
    crm.crm.properties.core_api.create(
        "contacts",
        {
            "name": "hs_object_source",
            "label": "Record source",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
    )
    for contact, source in ((reimported, "IMPORT"), (signed_up, "FORM")):
        crm.crm.contacts.basic_api.create(
            {"properties": {"email": contact.email, "lifecyclestage": "customer", "hs_object_source": source}}
        )
    [result] = review_rule("clienti", "C2", as_of=AS_OF)
    flagged = [e for e in Ledger(database_url).entries(run_id=result["run_id"]) if e.kind is EntryKind.FINDING]
    assert [e.subject for e in flagged] == [subject(reimported.email)]
    assert flagged[0].payload["finding"] == "reappeared_after_erasure"
