"""A fleet of synthetic controllers for the scale-out benchmark: Calmo's policy copied as calmo01..calmoNN.

Each copy keeps Calmo's folder rules over a folder tree of its own and gains one CRM rule, H1, over a HubSpot
portal all of them share (the sandbox emulates one account): so the account's rate limit is contended by every
controller's run at once, the case a Prefect global limit must hold across workers. A contact belongs to a
controller by the custom property `controller`, which H1 selects on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from hubspot import HubSpot
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.properties import PropertyCreate

from hygiene.keys import public_key
from hygiene.settings import LEDGER_KEY_VARIABLE, key_variable
from sandbox import credentials
from sandbox.runner import RunningSandbox
from sandbox.seed import SeededContact, Tenant, hubspot_client, seed_hubspot
from sandbox.seed_files import FolderManifest, calmo_folder

CALMO = Path(__file__).resolve().parents[1] / "policies" / "calmo.yaml"
#: the one HubSpot account every controller of the fleet shares, as its policies name it
ACCOUNT = "sandbox-portal"
#: contacts whose relationship ended at least this long ago are due under H1
H1_MONTHS = 24
H1: dict[str, Any] = {
    "ref": "H1",
    "id": "crm-contacts-24-months",
    "title": "Delete a former client's CRM contact 24 months after the course ended",
    "quote": {
        "section": "Hvordan og hvor lang tid bliver mine data opbevaret?",
        "text": "Jeg opbevarer dine personoplysninger i en række systemer, men også med forskellig levetid",
    },
    "covers": {"systems": ["crm"], "records": "former clients' CRM contacts", "selection": {}},
    "trigger": {"event": "customer_relationship_ended_at"},
    "window": {"not_before": f"{H1_MONTHS} months", "deadline": f"{H1_MONTHS} months + 1 month"},
    "cadence": {"cron": "0 7 1 * *"},
    "action": "delete",
    "exemptions": ["legal_hold"],
    # the benchmark deletes a large share on purpose; a real policy keeps the default safety limit
    "safety_limit": {"max_share": 1.0, "max_count": 100000},
    "reading": "A synthetic rule of the scale-out benchmark, not Calmo's.",
}


@dataclass(frozen=True)
class Member:
    """One controller of the fleet: its name, its seeded folder tree and its seeded CRM contacts."""

    controller: str
    folders: FolderManifest
    contacts: tuple[SeededContact, ...]


@dataclass(frozen=True)
class Fleet:
    policies: Path
    members: tuple[Member, ...]
    #: what a worker needs in its environment: policies, keys, folder roots, the HubSpot account
    env: Mapping[str, str]

    @property
    def controllers(self) -> list[str]:
        return [member.controller for member in self.members]


def controller_names(count: int) -> list[str]:
    return [f"calmo{number:02d}" for number in range(1, count + 1)]


def policy_for(controller: str) -> dict[str, Any]:
    """Calmo's policy under another name, its folder variables renamed, with the shared CRM and rule H1."""
    text = CALMO.read_text(encoding="utf-8").replace("HYGIENE_CALMO_", f"HYGIENE_{controller.upper()}_")
    policy: dict[str, Any] = yaml.safe_load(text)
    policy["controller"] = controller
    policy["name"] = controller.capitalize()
    policy["notice"]["file"] = f"{controller}.notice.txt"
    policy["systems"]["crm"] = {
        "kind": "hubspot",
        "description": "the CRM the fleet's controllers share (one emulated HubSpot account)",
        "options": {"account": ACCOUNT},
    }
    rule = {**H1, "covers": {**H1["covers"], "selection": {"controller": controller}}}
    policy["rules"].append(rule)
    return policy


def write_policies(directory: Path, controllers: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    notice = CALMO.with_name("calmo.notice.txt").read_bytes()
    for controller in controllers:
        (directory / f"{controller}.notice.txt").write_bytes(notice)
        (directory / f"{controller}.yaml").write_text(
            yaml.safe_dump(policy_for(controller), allow_unicode=True, sort_keys=False), encoding="utf-8"
        )


def seed_crm(
    sandbox: RunningSandbox, controllers: list[str], contacts: int, now: datetime
) -> dict[str, tuple[SeededContact, ...]]:
    """`contacts` contacts per controller in the shared portal, each tagged with its controller."""
    client = hubspot_client(sandbox.hubspot_host)
    tenants = tuple(Tenant(controller.capitalize(), "da_DK") for controller in controllers)
    manifest = seed_hubspot(client, sandbox.state.clock, n=contacts, clock_now=now, rng_seed=9, tenants=tenants)
    _define_controller_property(client)
    by_controller = {
        controller: tuple(c for c in manifest.contacts if c.tenant == controller.capitalize())
        for controller in controllers
    }
    for controller, seeded in by_controller.items():
        for chunk in _chunks(seeded, 100):
            inputs = [{"id": c.id, "properties": {"controller": controller}} for c in chunk]
            client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    sandbox.state.clock.set(now)
    return by_controller


def _define_controller_property(client: HubSpot) -> None:
    client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="controller", label="Controller", type="string", field_type="text", group_name="contactinformation"
        ),
    )


def _chunks(items: tuple[SeededContact, ...], size: int) -> Iterator[tuple[SeededContact, ...]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def build_fleet(root: Path, count: int, sandbox: RunningSandbox, now: datetime, contacts: int = 30) -> Fleet:
    """Policies, folder trees and CRM contacts of `count` controllers, and the environment that aims at them."""
    controllers = controller_names(count)
    write_policies(root / "policies", controllers)
    crm = seed_crm(sandbox, controllers, contacts, now)
    env = {
        "HYGIENE_POLICIES_DIR": str(root / "policies"),
        "HYGIENE_HUBSPOT_TOKEN": credentials.HUBSPOT_ACCESS_TOKEN,
        "HYGIENE_HUBSPOT_HOST": sandbox.hubspot_host,
        LEDGER_KEY_VARIABLE: public_key("bench", "ledger"),
    }
    members = []
    for number, controller in enumerate(controllers):
        folders = calmo_folder(root / controller, seed=100 + number, now=now, controller=controller)
        env[key_variable(controller)] = public_key("bench", controller)
        env[f"HYGIENE_{controller.upper()}_INVOICES"] = str(root / controller / "fakturaer")
        env[f"HYGIENE_{controller.upper()}_LOGBOOKS"] = str(root / controller / "klientlogboeger")
        members.append(Member(controller, folders, crm[controller]))
    return Fleet(root / "policies", tuple(members), env)


def due_contacts(member: Member, now: datetime) -> set[str]:
    """Ids of the member's contacts H1 deletes: relationship ended at least 24 months before `now`."""
    limit = now.date().replace(year=now.year - H1_MONTHS // 12)
    return {c.id for c in member.contacts if c.relationship_ended is not None and c.relationship_ended <= limit}


@contextmanager
def aim(env: Mapping[str, str]) -> Iterator[None]:
    """Set the fleet's environment in this process too (the ledger checks read policies and keys)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
