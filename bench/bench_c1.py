"""Clienti C1 at scale: the connectors' path against a naive loop, with the emulators enforcing vendor limits.

    python -m bench.bench_c1                  # 10,000 members and 10,000 contacts, 5% due
    python -m bench.bench_c1 --people 100000  # the issue's full scale (HubSpot alone needs ~500 s)

Both sides run the same official SDKs against one sandbox with `enforce_rate_limits` on (HubSpot: 100 calls per
rolling 10 s, search 5 a second; Mailchimp: 10 simultaneous connections). "ours" is the enforcement path
without Prefect (plan, act in batches, verify, record into a throwaway SQLite ledger): Mailchimp members stream
1000 a page and are erased by one `/batches` run and re-read by another; the CRM records are found by 100-email
searches, erased by one `gdpr-delete` each (no batch form exists) and re-read 100 per `batch/read`. "naive"
reads and deletes each due record by itself: GET + delete-permanent per member, GET by email + gdpr-delete per
contact. Calls come from the sandbox's `/_sandbox/stats`.

The HubSpot bound is what the rolling window allows: after the first window's worth, `limit` calls per
`window` seconds; the goal is wall time within 1.2x that bound and calls within the vendor minimum plus a
small constant. Bench-only: people are written straight into the emulators' in-process stores (seeding 200k
people through the SDKs would take longer than the benchmark), never through any path the product uses.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from hygiene.connector import Connector
from hygiene.enforcement import BatchResult, RunContext, act_on_batch, batches, finish_run, plan_run, start_run
from hygiene.holds import HoldIndex
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from integrations.hubspot import HubSpotConnector
from integrations.mailchimp import MailchimpConnector
from sandbox.hubspot_store import Contact, hs_time
from sandbox.mailchimp_store import Member, subscriber_hash
from sandbox.runner import RunningSandbox, running_sandbox
from sandbox.seed import hubspot_client, mailchimp_client

AS_OF = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
LIMIT, WINDOW = 100, 10.0
ZONE = ZoneInfo("Europe/Copenhagen")


def seed(sb: RunningSandbox, people: int, due_share: float) -> str:
    """One audience and one portal of `people` each; every 1/due_share-th person unsubscribed 2 days ago and
    only a newsletter subscriber in the CRM, so C1 erases them from both."""
    client = mailchimp_client(sb.mailchimp_host)
    list_id = str(
        client.lists.create_list(
            {
                "name": "bench",
                "contact": {"company": "bench"},
                "permission_reminder": "bench",
                "campaign_defaults": {
                    "from_name": "b",
                    "from_email": "b@example.invalid",
                    "subject": "",
                    "language": "da",
                },
                "email_type_option": False,
            }
        )["id"]
    )
    audience = sb.state.stores["mailchimp"].audience(list_id)
    portal = sb.state.stores["hubspot"]
    step = round(1 / due_share)
    for i in range(people):
        email, due = f"person{i}@bench.example", i % step == 0
        when = AS_OF - timedelta(days=2 if due else 400)
        audience.members[subscriber_hash(email)] = Member(
            email, "unsubscribed" if due else "subscribed", {"FNAME": "", "LNAME": ""}, when, 300000 + i
        )
        contact_id = next(portal._ids)
        properties = {
            "email": email,
            "hs_object_id": str(contact_id),
            "createdate": hs_time(when),
            "lastmodifieddate": hs_time(when),
            "lifecyclestage": "subscriber" if due else "customer",
        }
        portal.contacts[contact_id] = Contact(contact_id, properties, when, when)
    return list_id


def ours(sb: RunningSandbox, list_id: str, workdir: Path) -> dict[str, Any]:
    policy = load_policy(policies_dir(), "clienti")
    rule = policy.rule("C1")
    assert rule is not None
    ledger = Ledger(f"sqlite:///{workdir}/bench.db")
    ledger.create_schema()
    newsletter = MailchimpConnector(mailchimp_client(sb.mailchimp_host), list_id)
    connectors: dict[str, Connector] = {
        "hubspot": HubSpotConnector(
            hubspot_client(sb.hubspot_host), tz=ZONE, newsletter=newsletter, rate=(LIMIT, WINDOW)
        ),
        "mailchimp": newsletter,
    }
    deleted = {}
    for system, connector in connectors.items():
        ctx = RunContext(
            policy=policy, rule=rule, system=system, as_of=AS_OF, dry_run=False, key=SecretStr("bench-only-key")
        )
        start_run(ctx, ledger)
        found, acted = plan_run(ctx, connector, ledger, HoldIndex({}, {})), BatchResult()
        for batch in batches(found.actionable, connector.capabilities.batch_size):
            acted += act_on_batch(ctx, connector, ledger, batch)
        finish_run(ctx, ledger, found, acted)
        deleted[system] = acted.deleted
    return deleted


def naive(sb: RunningSandbox, list_id: str) -> dict[str, Any]:
    mc, hs = mailchimp_client(sb.mailchimp_host), hubspot_client(sb.hubspot_host)
    due: list[str] = []
    for offset in itertools.count(0, 1000):
        page = mc.lists.get_list_members_info(
            list_id, status="unsubscribed", count=1000, offset=offset, fields=["members.email_address", "total_items"]
        )
        due += [m["email_address"] for m in page["members"]]
        if offset + 1000 >= page["total_items"]:
            break
    pause = WINDOW / LIMIT
    for email in due:
        mc.lists.get_list_member(list_id, subscriber_hash(email))
        mc.lists.delete_list_member_permanent(list_id, subscriber_hash(email))
        time.sleep(pause)  # a naive loop still has to respect the limit, or it drowns in 429s
        contact = hs.crm.contacts.basic_api.get_by_id(email, id_property="email")
        time.sleep(pause)
        hs.crm.contacts.basic_api.purge({"objectId": contact.id})
    return {"hubspot": len(due), "mailchimp": len(due)}


def measure(name: str, people: int, due_share: float, run: Any) -> dict[str, Any]:
    with running_sandbox() as sb, tempfile.TemporaryDirectory() as workdir:
        sb.state.enforce_rate_limits = False
        list_id = seed(sb, people, due_share)
        sb.state.clock.set(AS_OF)
        sb.state.enforce_rate_limits = True
        sb.state.stats.reset()
        started = time.perf_counter()
        deleted = run(sb, list_id, Path(workdir)) if name == "ours" else run(sb, list_id)
        wall = time.perf_counter() - started
        stats = sb.state.stats.snapshot()
    return {"name": name, "deleted": deleted, "wall": wall, "stats": stats}


def hubspot_bound(limited_calls: int) -> float:
    """Seconds the rolling window needs for `limited_calls`: the first window's worth passes at once."""
    return max(0.0, math.ceil((limited_calls - LIMIT) / LIMIT)) * WINDOW


def report(result: dict[str, Any], due: int) -> None:
    hubspot = result["stats"].get("hubspot", {})
    mailchimp = result["stats"].get("mailchimp", {})
    limited = sum(n for endpoint, n in hubspot.items() if "search" not in endpoint)
    bound = hubspot_bound(limited)
    print(
        f"{result['name']:>5}: deleted {result['deleted']}; wall {result['wall']:.1f} s "
        f"(HubSpot rate-limit bound {bound:.0f} s, ratio {result['wall'] / bound if bound else 0:.2f})"
    )
    print(
        f"       HubSpot calls {sum(hubspot.values())} (minimum for {due} erasures: {due} gdpr-delete + "
        f"{math.ceil(due / 100)} batch/read + {math.ceil(due / 100)} search): {hubspot}"
    )
    print(f"       Mailchimp calls {sum(mailchimp.values())}: {mailchimp}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--due-share", type=float, default=0.05)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    due = math.ceil(args.people * args.due_share)
    print(f"C1 on {args.people} members and {args.people} contacts, {due} due; HubSpot {LIMIT}/{WINDOW:.0f} s")
    report(measure("ours", args.people, args.due_share, ours), due)
    if not args.skip_naive:
        report(measure("naive", args.people, args.due_share, naive), due)


if __name__ == "__main__":
    main()
