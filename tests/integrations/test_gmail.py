"""The Gmail connector through google-api-python-client against the emulator: S2's and S8's listing, deletion,
proof of absence, quota and the failures a user must act on."""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime

import httpx
import pytest

from hygiene.connector import ConnectorError
from integrations.gmail import (
    FULL_SCOPE,
    TIMEOUT_SECONDS,
    EndedCustomer,
    GmailConnector,
    OffersRegister,
)
from integrations.malformed import MalformedAnswer
from integrations.pacing import Backoff
from integrations.spreadsheet import SpreadsheetConnector
from sandbox import credentials
from sandbox.seed_gmail import CUSTOMER_LABEL_PREFIX, OSLO
from sandbox.state import Fault
from tests.gmail_fixtures import SeededMailbox, write_offers_workbook

pytest_plugins = ["tests.gmail_fixtures"]

CUSTOMERS = {"label_prefix": CUSTOMER_LABEL_PREFIX}
ENDED = "customer_relationship_ended_at"
FAST = Backoff(attempts=12, first_wait=0.01, max_wait=0.05)


class ListedRegister:
    """A register given as a list, whatever folders the mailbox holds."""

    def __init__(self, entries: list[EndedCustomer]) -> None:
        self.entries = entries

    def ended_customers(self, folders: Collection[str]) -> list[EndedCustomer]:
        return self.entries


def connector(
    mailbox: SeededMailbox, token: str = credentials.GMAIL_ACCESS_TOKEN, timeout: float = TIMEOUT_SECONDS
) -> GmailConnector:
    register = OffersRegister(SpreadsheetConnector(mailbox.workbook, tz=OSLO))
    return GmailConnector(mailbox.service(token, timeout), register=register, tz=OSLO, backoff=FAST)


def cleanup(gmail: GmailConnector) -> None:
    """What the enforcement path does with a connector: list, delete in batches, verify."""
    ids = [r.record_id for r in gmail.records(CUSTOMERS, ENDED)]
    for start in range(0, len(ids), gmail.capabilities.batch_size):
        batch = ids[start : start + gmail.capabilities.batch_size]
        gmail.delete(batch)
        assert all(proof.absent for proof in gmail.verify_absent(batch))


def test_lists_every_mail_of_ended_customers_in_inbox_sent_and_trash(mailbox: SeededMailbox) -> None:
    listed = {r.record_id for r in connector(mailbox).records(CUSTOMERS, ENDED)}
    assert listed == mailbox.due()
    folders = {f for c in mailbox.ended for f, ids in mailbox.manifest.customer_messages[c.ref].items() if ids}
    assert {"inbox", "sent", "trash"} <= folders, "the seed covers every folder"


def test_a_record_carries_the_customer_ref_and_end_date_not_the_mail(mailbox: SeededMailbox) -> None:
    ended = {c.email.lower(): c.ended_on for c in mailbox.ended}
    for record in connector(mailbox).records(CUSTOMERS, ENDED):
        assert record.trigger is not None and record.trigger.tzinfo is not None
        assert record.trigger.date() == ended[record.subject]
        assert dict(record.attributes) == {}


def test_a_cleanup_deletes_exactly_the_due_mail_and_never_reads_one(mailbox: SeededMailbox) -> None:
    cleanup(connector(mailbox))
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()
    endpoints = set(mailbox.stats()) - {"quota_units"}
    assert endpoints == {
        "GET /gmail/v1/users/{userId}/labels",
        "GET /gmail/v1/users/{userId}/messages",
        "POST /gmail/v1/users/{userId}/messages/batchDelete",
    }


def test_deletion_is_chunked_by_1000_and_receipted_per_message(mailbox: SeededMailbox) -> None:
    gmail = connector(mailbox)
    ids = [r.record_id for r in gmail.records(CUSTOMERS, ENDED)]
    padded = ids + [f"{0x19000000_00000000 + n:016x}" for n in range(2100 - len(ids))]
    receipts = gmail.delete(padded)
    assert [r.record_id for r in receipts] == padded and all(r.ok for r in receipts)
    assert mailbox.stats()["POST /gmail/v1/users/{userId}/messages/batchDelete"] == 3


def test_a_rerun_finds_nothing(mailbox: SeededMailbox) -> None:
    cleanup(connector(mailbox))
    assert list(connector(mailbox).records(CUSTOMERS, ENDED)) == []


def test_s8_lists_the_marked_mail_as_seen_today(mailbox: SeededMailbox) -> None:
    today = datetime(2026, 4, 1, 14, 30, tzinfo=OSLO)
    gmail = GmailConnector(mailbox.service(), tz=OSLO, clock=lambda: today)
    records = list(gmail.records({"label": "Ikke relevant"}, "labelled_at"))
    assert {r.record_id for r in records} == set(mailbox.manifest.not_relevant)
    assert {r.trigger for r in records} == {datetime(2026, 4, 1, tzinfo=OSLO)}


def test_a_quota_storm_ends_in_the_same_state_as_a_calm_run(mailbox: SeededMailbox) -> None:
    faults = mailbox.sandbox.state.faults
    faults.stage("gmail", Fault(status=429, remaining=4, path_contains="/messages"))
    faults.stage("gmail", Fault(status=403, remaining=4, path_contains="/messages"))
    faults.stage("gmail", Fault(status=429, remaining=3, path_contains="batchDelete"))
    cleanup(connector(mailbox))
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()
    assert not faults.faults.get("gmail"), "every staged fault was met"


def test_a_dropped_connection_is_retried_like_a_5xx(mailbox: SeededMailbox) -> None:
    faults = mailbox.sandbox.state.faults
    faults.stage("gmail", Fault(drop=True, remaining=2, path_contains="/labels"))
    faults.stage("gmail", Fault(drop=True, remaining=1, path_contains="batchDelete"))
    cleanup(connector(mailbox))
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()
    assert not faults.faults.get("gmail"), "every staged fault was met"


def test_a_batch_delete_answered_past_the_timeout_is_sent_again(mailbox: SeededMailbox) -> None:
    """Gmail still carries out the call the client gave up on, so the mail may be gone before or after the retry."""
    mailbox.sandbox.state.faults.stage("gmail", Fault(delay_seconds=1.0, remaining=1, path_contains="batchDelete"))
    cleanup(connector(mailbox, timeout=0.5))
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()
    time.sleep(1.0)  # the abandoned call is counted when the emulator has served it
    assert mailbox.stats()["POST /gmail/v1/users/{userId}/messages/batchDelete"] == 2


def test_an_empty_relist_proves_no_deletion(mailbox: SeededMailbox) -> None:
    gmail = connector(mailbox)
    ids = [r.record_id for r in gmail.records(CUSTOMERS, ENDED)]
    mailbox.sandbox.state.faults.stage("gmail", Fault(remaining=1, body=b"", path_contains="/messages"))
    with pytest.raises(MalformedAnswer, match=r"^gmail: messages.list: malformed answer \(an empty body\)"):
        gmail.verify_absent(ids)


def test_a_batch_delete_that_keeps_failing_is_a_failed_receipt_and_the_rerun_finishes(mailbox: SeededMailbox) -> None:
    httpx.post(
        f"{mailbox.sandbox.base_url}/_sandbox/faults/gmail",
        json={"status": 503, "count": FAST.attempts, "path_contains": "batchDelete"},
    ).raise_for_status()
    gmail = connector(mailbox)
    ids = [r.record_id for r in gmail.records(CUSTOMERS, ENDED)]
    receipts = gmail.delete(ids)
    assert not any(r.ok for r in receipts) and "HTTP 503" in receipts[0].detail
    assert not any(p.absent for p in gmail.verify_absent(ids))
    cleanup(connector(mailbox))
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()


def test_revoked_credentials_are_one_line(mailbox: SeededMailbox) -> None:
    httpx.post(
        f"{mailbox.sandbox.gmail_endpoint}_sandbox/tokens/revoke", json={"token": credentials.GMAIL_ACCESS_TOKEN}
    ).raise_for_status()
    with pytest.raises(ConnectorError, match="credentials revoked or expired") as caught:
        list(connector(mailbox).records(CUSTOMERS, ENDED))
    assert "\n" not in str(caught.value)


def test_a_token_without_the_full_scope_deletes_nothing_and_names_the_scope(mailbox: SeededMailbox) -> None:
    gmail = connector(mailbox, credentials.GMAIL_READONLY_ACCESS_TOKEN)
    ids = [r.record_id for r in gmail.records(CUSTOMERS, ENDED)]
    with pytest.raises(ConnectorError, match=FULL_SCOPE):
        gmail.delete(ids)
    assert mailbox.remaining() == mailbox.all_ids()


def test_an_entry_without_end_date_stops_before_any_mail_is_listed(mailbox: SeededMailbox) -> None:
    victim = mailbox.ended[0]
    write_offers_workbook(mailbox.workbook, mailbox.customers, no_end_date=victim.ref)
    with pytest.raises(ConnectorError, match="no end date") as caught:
        list(connector(mailbox).records(CUSTOMERS, ENDED))
    assert victim.email not in str(caught.value) and victim.label_name not in str(caught.value)
    assert "GET /gmail/v1/users/{userId}/messages" not in mailbox.stats()


def test_a_protocol_entry_without_end_date_is_one_line(mailbox: SeededMailbox) -> None:
    register = ListedRegister([EndedCustomer("Kari Nordmann", "K-1", None)])
    gmail = GmailConnector(mailbox.service(), register=register, tz=OSLO)
    with pytest.raises(ConnectorError, match="register entry #1 has no end date"):
        list(gmail.records(CUSTOMERS, ENDED))


def test_a_customer_without_a_label_stops_the_run_without_naming_them(mailbox: SeededMailbox) -> None:
    ended = datetime(2026, 2, 1, tzinfo=OSLO)
    register = ListedRegister([EndedCustomer("Kari Nordmann", "K-1", ended)])
    gmail = GmailConnector(mailbox.service(), register=register, tz=OSLO)
    with pytest.raises(ConnectorError, match="1 ended customer") as caught:
        list(gmail.records(CUSTOMERS, ENDED))
    assert "Kari" not in str(caught.value) and "2026-02-01" in str(caught.value)


def test_a_missing_s8_label_is_one_line(mailbox: SeededMailbox) -> None:
    gmail = GmailConnector(mailbox.service(), tz=OSLO)
    with pytest.raises(ConnectorError, match="does not exist"):
        list(gmail.records({"label": "Ikke aktuelt lenger"}, "labelled_at"))


def test_register_names_match_labels_whatever_the_case_and_spacing(mailbox: SeededMailbox) -> None:
    customer = mailbox.ended[0]
    name = "  " + customer.label_name.removeprefix(CUSTOMER_LABEL_PREFIX).upper().replace(" ", "   ")
    register = ListedRegister([EndedCustomer(name, "K-1", datetime(2026, 2, 1, tzinfo=OSLO))])
    gmail = GmailConnector(mailbox.service(), register=register, tz=OSLO)
    listed = {r.record_id for r in gmail.records(CUSTOMERS, ENDED)}
    assert listed == set(mailbox.manifest.of_customer(customer.ref))


def test_a_folder_two_entries_name_is_due_only_when_the_later_one_ended(mailbox: SeededMailbox) -> None:
    customer = mailbox.ended[0]
    name = customer.label_name.removeprefix(CUSTOMER_LABEL_PREFIX)
    early, late = datetime(2025, 1, 1, tzinfo=OSLO), datetime(2026, 3, 1, tzinfo=OSLO)
    register = ListedRegister([EndedCustomer(name, "old", early), EndedCustomer(name, "new", late)])
    gmail = GmailConnector(mailbox.service(), register=register, tz=OSLO)
    assert {(r.subject, r.trigger) for r in gmail.records(CUSTOMERS, ENDED)} == {("new", late)}


def test_an_unknown_selection_is_refused(mailbox: SeededMailbox) -> None:
    with pytest.raises(ConnectorError, match="exactly one of label_prefix"):
        list(connector(mailbox).records({"folders": "inbox"}, ENDED))
