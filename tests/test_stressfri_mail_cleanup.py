"""Stressfri's quarterly mail cleanup (S2, S8) end to end: the Prefect flow, the official Gmail SDK against the
emulator, the offers workbook as the customer register, and the evidence ledger."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from dateutil.relativedelta import relativedelta

from hygiene.connector import ConnectorError
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.planner import Decision, plan
from hygiene.policies import load_policy
from hygiene.pseudonym import is_pseudonym
from hygiene.windows import window_for
from integrations.gmail import FULL_SCOPE, GmailConnector
from integrations.registry import connector_for
from sandbox import credentials
from tests.gmail_fixtures import AS_OF, SeededMailbox, write_offers_workbook
from tests.privacy import database_rows, hits

pytest_plugins = ["tests.gmail_fixtures"]

STRESSFRI = load_policy(policies_dir(), "stressfri")
#: the July run after the April run was missed (the machine was off)
A_QUARTER_LATE = AS_OF + relativedelta(months=3)


def run(rule: str, as_of: datetime | None = AS_OF) -> dict[str, Any]:
    from flows.enforce import enforce_rule

    [result] = enforce_rule("stressfri", rule, as_of=as_of, approved=True, pause_for_approval=False)
    return result


def kinds_of(database_url: str) -> list[EntryKind]:
    return [entry.kind for entry in Ledger(database_url).entries()]


def stopped_before_deleting(database_url: str, because: str) -> bool:
    """The ledger holds the attempt: the run started, stopped with the one-line reason, and intended nothing."""
    entries = list(Ledger(database_url).entries())
    kinds = [e.kind for e in entries]
    return kinds == [EntryKind.RUN_STARTED, EntryKind.RUN_FINISHED] and because in entries[-1].payload["stopped"]


def overdue_at(mailbox: SeededMailbox, as_of: datetime) -> set[str]:
    """The mail whose customer's deadline (ended + 92 days) passed before `as_of`, worked out from the window."""
    rule = STRESSFRI.rule("S2")
    assert rule is not None
    late = set()
    for customer in mailbox.ended:
        assert customer.ended_on is not None
        ended = datetime(customer.ended_on.year, customer.ended_on.month, customer.ended_on.day, tzinfo=AS_OF.tzinfo)
        deadline = window_for(STRESSFRI, rule, ended).deadline
        if deadline is not None and deadline < as_of:
            late |= set(mailbox.manifest.of_customer(customer.ref))
    return late


@pytest.mark.usefixtures("prefect_server")
def test_the_quarterly_run_deletes_exactly_the_ended_customers_mail(mailbox: SeededMailbox, database_url: str) -> None:
    result = run("S2")
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()
    assert result["deleted"] == len(mailbox.due()) and result["failed"] == result["still_present"] == 0
    assert Ledger(database_url).verify().ok


@pytest.mark.usefixtures("prefect_server")
def test_a_rerun_is_a_no_op(mailbox: SeededMailbox, database_url: str) -> None:
    run("S2")
    again = run("S2")
    assert again["deleted"] == 0 and again["counts"]["due"] == again["counts"]["overdue"] == 0
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("as_of", [AS_OF, A_QUARTER_LATE], ids=["on-time", "a-quarter-late"])
def test_a_late_run_reports_the_broken_deadline_as_overdue(
    mailbox: SeededMailbox, database_url: str, as_of: datetime
) -> None:
    result = run("S2", as_of)
    decisions = [e.payload["decision"] for e in Ledger(database_url).entries(kinds=[EntryKind.INTENT])]
    expected = overdue_at(mailbox, as_of)
    assert decisions.count("overdue") == result["overdue"] == len(expected)
    assert decisions.count("due") == len(mailbox.due() - expected)
    if as_of == A_QUARTER_LATE:
        assert decisions and set(decisions) == {"overdue"}, "everything ended before April is overdue in July"
    else:
        assert "due" in decisions, "customers ended in the last quarter are due, not overdue"


@pytest.mark.usefixtures("prefect_server")
def test_s8_deletes_exactly_the_mail_marked_not_relevant(mailbox: SeededMailbox, database_url: str) -> None:
    result = run("S8", None)
    assert mailbox.remaining() == mailbox.all_ids() - set(mailbox.manifest.not_relevant)
    assert result["deleted"] == len(mailbox.manifest.not_relevant) and result["overdue"] == 0


@pytest.mark.usefixtures("prefect_server")
def test_the_evidence_names_no_message_label_or_customer(mailbox: SeededMailbox, database_url: str) -> None:
    run("S2")
    run("S8", None)
    people = [v for c in mailbox.customers for v in (c.label_name, c.email, c.label_name.split("/", 1)[1])]
    needles = [*mailbox.all_ids(), *people, "Ikke relevant", mailbox.manifest.owner]
    assert hits(database_rows(database_url), needles) == []
    assert Ledger(database_url).verify().ok


@pytest.mark.usefixtures("prefect_server")
def test_a_register_entry_without_an_end_date_deletes_nothing(mailbox: SeededMailbox, database_url: str) -> None:
    write_offers_workbook(mailbox.workbook, mailbox.customers, no_end_date=mailbox.ended[0].ref)
    with pytest.raises(ConnectorError, match="no end date"):
        run("S2")
    assert mailbox.remaining() == mailbox.all_ids()
    assert stopped_before_deleting(database_url, "no end date")


@pytest.mark.usefixtures("prefect_server")
def test_a_customer_without_a_label_deletes_nothing(mailbox: SeededMailbox, database_url: str) -> None:
    renamed = [
        c if c is not mailbox.ended[0] else type(c)(c.ref, c.label_name + " AS", c.email, c.ended_on)
        for c in mailbox.customers
    ]
    write_offers_workbook(mailbox.workbook, renamed)
    with pytest.raises(ConnectorError, match="have no Gmail label") as caught:
        run("S2")
    assert mailbox.ended[0].label_name not in str(caught.value)
    assert mailbox.remaining() == mailbox.all_ids()
    assert stopped_before_deleting(database_url, "have no Gmail label")


@pytest.mark.usefixtures("prefect_server")
def test_revoked_credentials_delete_nothing(mailbox: SeededMailbox, database_url: str) -> None:
    httpx.post(
        f"{mailbox.sandbox.gmail_endpoint}_sandbox/tokens/revoke", json={"token": credentials.GMAIL_ACCESS_TOKEN}
    ).raise_for_status()
    with pytest.raises(ConnectorError, match="credentials revoked or expired"):
        run("S2")
    assert stopped_before_deleting(database_url, "credentials revoked or expired")


@pytest.mark.usefixtures("prefect_server")
def test_a_token_without_the_full_scope_deletes_nothing_and_the_rerun_finishes(
    mailbox: SeededMailbox, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYGIENE_GMAIL_TOKEN", credentials.GMAIL_READONLY_ACCESS_TOKEN)
    with pytest.raises(ConnectorError, match=re.escape(FULL_SCOPE)):
        run("S2")
    assert mailbox.remaining() == mailbox.all_ids()
    assert EntryKind.INTENT in kinds_of(database_url), "the attempt is in the evidence, its intents open"
    monkeypatch.setenv("HYGIENE_GMAIL_TOKEN", credentials.GMAIL_ACCESS_TOKEN)
    result = run("S2")
    assert result["recovered"] == len(mailbox.due()) and result["deleted"] == len(mailbox.due())
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due()
    assert Ledger(database_url).verify().ok


def test_s4_keeps_the_old_rows_the_customer_register_still_needs(mailbox: SeededMailbox) -> None:
    """S4 deletes rows older than five years, but the sheet is S2's customer register: an active customer's row,
    and an ended customer's row whose mail is still in Gmail, stay; an ended customer whose mail is gone goes."""
    s4 = STRESSFRI.rule("S4")
    assert s4 is not None
    active = next(c for c in mailbox.customers if c.ended_on is None)
    mailed, emptied = mailbox.ended[0], mailbox.ended[1]
    ids = mailbox.manifest.of_customer(emptied.ref)
    mailbox.service().users().messages().batchDelete(userId="me", body={"ids": ids}).execute()
    write_offers_workbook(
        mailbox.workbook, [active, mailed, emptied], offered_on=(AS_OF - relativedelta(years=6)).date()
    )
    offers = connector_for(STRESSFRI, "offers")
    planned = {p.record.subject: p for p in plan(offers.records({}, "date"), STRESSFRI, s4, AS_OF)}
    kept = {Decision.HELD: "customer_register"}
    assert {planned[active.email.lower()].decision: planned[active.email.lower()].reason} == kept
    assert {planned[mailed.email.lower()].decision: planned[mailed.email.lower()].reason} == kept
    assert planned[emptied.email.lower()].decision in (Decision.DUE, Decision.OVERDUE)


def insert(mailbox: SeededMailbox, sender: str, recipient: str, labels: list[str]) -> str:
    """One mail written through the SDK, as a mail client files it."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, recipient, "Kontrakt"
    mail.set_content("Hei, her er kontrakten.")
    body = {"raw": base64.urlsafe_b64encode(mail.as_bytes()).decode(), "labelIds": labels}
    return str(mailbox.service().users().messages().insert(userId="me", body=body).execute()["id"])


@pytest.mark.usefixtures("prefect_server")
def test_s2_also_deletes_an_ended_customers_mail_that_lacks_the_label(mailbox: SeededMailbox) -> None:
    """A reply in Sent and a mail in Trash without the customer's label go too, found by the address and matched
    exactly; a mail from a longer address that contains it, and one under a running customer's folder, stay."""
    ended = mailbox.ended[0]
    running = next(c for c in mailbox.customers if c.ended_on is None)
    owner, address = mailbox.manifest.owner, ended.email.lower()
    unlabelled = {insert(mailbox, owner, ended.email, ["SENT"]), insert(mailbox, ended.email, owner, ["TRASH"])}
    lookalike = insert(mailbox, f"x{address}", owner, ["INBOX"])
    shared = insert(mailbox, ended.email, owner, ["INBOX", mailbox.manifest.customer_label_ids[running.ref]])
    result = run("S2")
    assert unlabelled.isdisjoint(mailbox.remaining())
    assert {lookalike, shared} <= mailbox.remaining()
    assert mailbox.remaining() == mailbox.all_ids() - mailbox.due() | {lookalike, shared}
    assert result["deleted"] == len(mailbox.due()) + len(unlabelled) and result["still_present"] == 0


@pytest.mark.usefixtures("prefect_server")
def test_the_daily_label_scan_dates_each_mail_once_and_reads_no_message(
    mailbox: SeededMailbox, database_url: str
) -> None:
    from flows.stamp import scan_labels

    marked = set(mailbox.manifest.not_relevant)
    [first] = scan_labels("stressfri", "S8")
    [again] = scan_labels("stressfri", "S8")
    assert (first["listed"], first["new"], again["listed"], again["new"]) == (len(marked), len(marked), len(marked), 0)
    stamps = list(Ledger(database_url).entries(kinds={EntryKind.REGISTER}))
    assert len(stamps) == len(marked) and all(e.subject is None and is_pseudonym(e.record or "") for e in stamps)
    endpoints = set(mailbox.stats()) - {"quota_units"}
    assert endpoints == {"GET /gmail/v1/users/{userId}/labels", "GET /gmail/v1/users/{userId}/messages"}
    assert mailbox.remaining() == mailbox.all_ids()


def test_s8_counts_from_the_day_the_scan_first_saw_the_label(mailbox: SeededMailbox, database_url: str) -> None:
    """A mail first seen under the label 100 days before a quarterly run that came late is overdue there: the
    evidence shows the broken deadline instead of a clock that starts on the day of deletion."""
    s8 = STRESSFRI.rule("S8")
    assert s8 is not None and s8.trigger is not None
    seen_on = AS_OF - timedelta(days=100)
    scan = connector_for(STRESSFRI, "gmail")
    assert isinstance(scan, GmailConnector)
    scan.clock = lambda: seen_on
    scan.stamp_label(s8.covers.selection["label"])
    late = connector_for(STRESSFRI, "gmail")
    planned = list(plan(late.records(s8.covers.selection, s8.trigger.event), STRESSFRI, s8, AS_OF))
    assert {p.record.record_id for p in planned} == set(mailbox.manifest.not_relevant)
    assert {p.decision for p in planned} == {Decision.OVERDUE}
    assert {p.record.trigger for p in planned} == {datetime.combine(seen_on.date(), time(), STRESSFRI.zone)}


def test_a_folder_an_active_row_also_names_is_kept(mailbox: SeededMailbox) -> None:
    """An ended customer whose "Kunde" cell is also written on a running customer's row (a namesake, or the same
    customer under another address): the folder is a running customer's, and S2 lists none of its mail."""
    s2 = STRESSFRI.rule("S2")
    assert s2 is not None and s2.trigger is not None
    ended = mailbox.ended[0]
    running = next(c for c in mailbox.customers if c.ended_on is None)
    namesake = replace(running, label_name=ended.label_name)
    write_offers_workbook(mailbox.workbook, [*mailbox.customers, namesake])
    listed = {r.record_id for r in connector_for(STRESSFRI, "gmail").records(s2.covers.selection, s2.trigger.event)}
    assert listed.isdisjoint(mailbox.manifest.of_customer(ended.ref))
    assert listed == mailbox.due() - set(mailbox.manifest.of_customer(ended.ref))
