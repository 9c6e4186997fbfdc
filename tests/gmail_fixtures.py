"""Stressfri's mailbox on the Gmail emulator and the offers workbook that says which customers ended.

Test modules load this with `pytest_plugins = ["tests.gmail_fixtures"]`. The sandbox is served once per module;
each test gets an empty mailbox seeded afresh (ids repeat on a fresh mailbox) and a workbook of the same
customers, so the seed manifest is the ground truth a run is compared with.
PYTEST_DONT_REWRITE: there are no asserts here, and the test modules import it before pytest could.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from pydantic import SecretStr

from integrations.gmail import TIMEOUT_SECONDS, gmail_service
from sandbox import credentials
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed_files import OFFER_HEADER
from sandbox.seed_gmail import (
    CUSTOMER_LABEL_PREFIX,
    OSLO,
    MailboxManifest,
    SeedCustomer,
    default_customers,
    seed_stressfri_mailbox,
)
from sandbox.state import SandboxState

#: the quarterly run of 1 April 2026, at the hour S2's cadence names
AS_OF = datetime(2026, 4, 1, 6, 0, tzinfo=OSLO)


@dataclass
class SeededMailbox:
    sandbox: RunningSandbox
    customers: list[SeedCustomer]
    manifest: MailboxManifest
    workbook: Path

    @property
    def ended(self) -> list[SeedCustomer]:
        return [c for c in self.customers if c.ended_on is not None]

    def due(self) -> set[str]:
        """Every mail of an ended customer, in any folder: what S2 deletes at AS_OF."""
        return {i for c in self.ended for i in self.manifest.of_customer(c.ref)}

    def all_ids(self) -> set[str]:
        return set(self.manifest.unrelated) | {i for c in self.customers for i in self.manifest.of_customer(c.ref)}

    def service(self, token: str = credentials.GMAIL_ACCESS_TOKEN, timeout: float = TIMEOUT_SECONDS) -> Any:
        return gmail_service(self.sandbox.gmail_endpoint, SecretStr(token), timeout)

    def remaining(self) -> set[str]:
        """What the mailbox holds now, Trash and Spam included, listed through the SDK."""
        messages, found, token = self.service().users().messages(), set(), None
        while True:
            page = messages.list(userId="me", includeSpamTrash=True, maxResults=500, pageToken=token).execute()
            found |= {m["id"] for m in page.get("messages", [])}
            token = page.get("nextPageToken")
            if not token:
                return found

    def stats(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.sandbox.base_url}/_sandbox/stats").json().get("gmail", {}))


def write_offers_workbook(
    path: Path, customers: Sequence[SeedCustomer], *, no_end_date: str = "", offered_on: date | None = None
) -> Path:
    """The offers sheet for these customers: the "Kunde" cell is the folder name below `Kunder/`.

    `no_end_date` names a customer ref whose row says "avsluttet" but leaves the end date empty; `offered_on`
    dates every row (by default 200 days before the customer ended).
    """
    workbook = Workbook()
    sheet = workbook.worksheets[0]
    sheet.title = "Tilbud"
    sheet.append(OFFER_HEADER)
    for customer in customers:
        ended = customer.ended_on
        offered = offered_on or (ended or AS_OF.date()) - timedelta(days=200)
        status = "aktiv" if ended is None else "avsluttet"
        end_cell = (
            None if ended is None or customer.ref == no_end_date else datetime(ended.year, ended.month, ended.day)
        )
        name = customer.label_name.removeprefix(CUSTOMER_LABEL_PREFIX)
        row = (datetime(offered.year, offered.month, offered.day), name, customer.email, "+47 900 00 000")
        sheet.append((*row, "salg", 5000, status, end_cell, "=F2*1.25"))
    workbook.save(path)
    return path


@pytest.fixture(scope="module")
def gmail_sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(SandboxState()) as served:
        yield served


def seed_mailbox(sandbox: RunningSandbox, workbook: Path, *, count: int = 18, rng_seed: int = 6) -> SeededMailbox:
    """`count` customers' mail in the sandbox's (empty) mailbox and the same customers in the workbook."""
    customers = default_customers(count, now=AS_OF, rng_seed=rng_seed)
    service = gmail_service(sandbox.gmail_endpoint, SecretStr(credentials.GMAIL_ACCESS_TOKEN))
    manifest = seed_stressfri_mailbox(service, AS_OF, customers, rng_seed=rng_seed)
    return SeededMailbox(sandbox, customers, manifest, write_offers_workbook(workbook, customers))


def aim_at_mailbox(monkeypatch: pytest.MonkeyPatch, mailbox: SeededMailbox) -> None:
    """The environment the registry reads for Stressfri's Gmail: endpoint, token and the workbook's path."""
    monkeypatch.setenv("HYGIENE_GMAIL_API_ENDPOINT", mailbox.sandbox.gmail_endpoint)
    monkeypatch.setenv("HYGIENE_GMAIL_TOKEN", credentials.GMAIL_ACCESS_TOKEN)
    monkeypatch.setenv("HYGIENE_STRESSFRI_OFFERS", str(mailbox.workbook))
    monkeypatch.delenv("HYGIENE_SPREADSHEET_PASSWORD", raising=False)


@pytest.fixture
def mailbox(gmail_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SeededMailbox:
    """A fresh Stressfri mailbox, its workbook, and the environment the registry reads (endpoint, token, path)."""
    httpx.post(f"{gmail_sandbox.gmail_endpoint}_sandbox/reset").raise_for_status()
    gmail_sandbox.state.faults.clear()
    gmail_sandbox.state.enforce_rate_limits = True
    seeded = seed_mailbox(gmail_sandbox, tmp_path / "tilbud.xlsx")
    gmail_sandbox.state.stats.reset()
    aim_at_mailbox(monkeypatch, seeded)
    return seeded
