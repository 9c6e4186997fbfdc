"""The seeded tenants the vendor campaigns run on: Clienti's newsletter and CRM, Stressfri's mailbox.

A tenant is one controller's systems on a sandbox of its own, seeded the same way for the same seed, with the
environment aimed at it as a user would aim it at the real vendors. The fault campaign and the bad-input
corpus see every tenant alike: where faults are staged, which rule steps a run makes, what the systems hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from integrations.registry import connector_for
from reliability.steps import enforce
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed_gmail import CUSTOMER_LABEL_PREFIX
from sandbox.state import FaultPlan
from tests.gmail_fixtures import aim_at_mailbox, seed_mailbox
from tests.vendor_fixtures import AS_OF, CLIENTI, Seeded, aim_at, seeded_sandbox

_MEMBERS = 24
_CUSTOMERS = 12
#: attempts a Gmail call gets in the campaigns: few, so a storm can outlast them within a short test
GMAIL_RETRIES = 4
#: seconds a Gmail call may go unanswered in the campaigns before the connector abandons it
GMAIL_TIMEOUT = 1.0
#: mail is deleted this many at a time on Stressfri's tenant, so one run makes several batchDelete calls
_GMAIL_BATCH = 10


@dataclass(frozen=True)
class Tenant:
    """One controller's seeded systems on a running sandbox."""

    controller: str
    #: (rule ref, system) in the order a run enforces them (the flow puts the CRM before the newsletter)
    steps: tuple[tuple[str, str], ...]
    #: the moment the rules are enforced at; None for the moment each step starts, as a scheduled run does
    as_of: datetime | None
    batch_size: int
    sandbox: RunningSandbox
    #: the seeded emails, names and national ids: none may reach the ledger
    needles: frozenset[str]
    #: what the systems hold now, read in process so that no staged fault is spent on reading it
    held: Callable[[], frozenset[str]]

    @property
    def faults(self) -> FaultPlan:
        return self.sandbox.state.faults

    def run(self, ledger: Ledger) -> bool:
        """Each step once, through the registry's real connector; True when every deletion was proven."""
        policy = load_policy(policies_dir(), self.controller)
        proven = True
        for ref, system in self.steps:
            as_of = self.as_of or datetime.now(policy.zone)
            report = enforce(policy, ref, system, connector_for(policy, system), ledger, as_of, self.batch_size)
            proven = proven and not (report.failed or report.still_present)
        return proven


TenantFactory = Callable[[int, Path], AbstractContextManager[Tenant]]


@contextmanager
def clienti(seed: int, scratch: Path) -> Iterator[Tenant]:
    """Clienti's C1: the same people in Mailchimp and HubSpot, a third of them newsletter-only."""
    with seeded_sandbox(CLIENTI, n=_MEMBERS, rng_seed=seed) as seeded, pytest.MonkeyPatch.context() as patch:
        aim_at(patch, seeded, "clienti")
        steps = (("C1", "hubspot"), ("C1", "mailchimp"))
        needles = frozenset(seeded.needles)
        yield Tenant("clienti", steps, AS_OF, 2000, seeded.sandbox, needles, lambda: _crm_held(seeded))


def _crm_held(seeded: Seeded) -> frozenset[str]:
    stores = seeded.sandbox.state.stores
    members = stores["mailchimp"].audience(seeded.list_id).members.values()
    contacts = stores["hubspot"].live()
    return frozenset(
        {f"mailchimp:{member.email}:{member.status}" for member in members}
        | {f"hubspot:{contact.properties.get('email')}" for contact in contacts}
    )


@contextmanager
def stressfri(seed: int, scratch: Path) -> Iterator[Tenant]:
    """Stressfri's S2 and S8: customers' mail under their labels, the offers workbook as customer register."""
    with running_sandbox() as sandbox, pytest.MonkeyPatch.context() as patch:
        sandbox.state.enforce_rate_limits = False
        mailbox = seed_mailbox(sandbox, scratch / f"offers-{seed}.xlsx", count=_CUSTOMERS, rng_seed=seed)
        aim_at_mailbox(patch, mailbox)
        patch.setenv("HYGIENE_GMAIL_RETRY_ATTEMPTS", str(GMAIL_RETRIES))
        patch.setenv("HYGIENE_GMAIL_RETRY_FIRST_WAIT", "0.01")
        patch.setenv("HYGIENE_GMAIL_TIMEOUT", str(GMAIL_TIMEOUT))
        needles = {c.email for c in mailbox.customers} | {
            c.label_name.removeprefix(CUSTOMER_LABEL_PREFIX) for c in mailbox.customers
        }
        steps = (("S2", "gmail"), ("S8", "gmail"))
        yield Tenant("stressfri", steps, None, _GMAIL_BATCH, sandbox, frozenset(needles), lambda: _mail_held(sandbox))


def _mail_held(sandbox: RunningSandbox) -> frozenset[str]:
    """Every message with its labels, Trash and Spam included: a mail moved is not a mail deleted."""
    messages = sandbox.state.stores["gmail"].mailbox.search(lambda message, labels: True)
    return frozenset(f"gmail:{message.id}:{','.join(sorted(message.label_ids))}" for message in messages)
