"""The checklist core without Prefect: items, attestations, refusals, verification against a later export."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from hygiene.checklist import (
    Answer,
    AttestationRefused,
    Checklist,
    SameExport,
    attestation_drafts,
    attested_unverified,
    checklist_items,
    instruction,
    safe_note,
    settled_records,
    sweep_item,
    verify_attested,
)
from hygiene.connector import Record
from hygiene.enforcement import RunContext
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.planner import plan
from hygiene.policies import load_policy
from sandbox.seed_files import balance_register

STRESSFRI = load_policy(policies_dir(), "stressfri")
AS_OF = datetime.fromisoformat("2026-11-01T08:00:00+01:00")
KEY = SecretStr("test-only-key-stressfri-7f3a9c")


def context() -> RunContext:
    rule = STRESSFRI.rule("S1")
    assert rule is not None
    return RunContext(policy=STRESSFRI, rule=rule, system="webnode", as_of=AS_OF, dry_run=False, key=KEY)


def submissions(count: int) -> list[Record]:
    return [Record(f"webnode:{n:032x}", f"person{n}@example.no", AS_OF - timedelta(days=n + 1)) for n in range(count)]


def checklist(ctx: RunContext, count: int = 3, digest: str = "a" * 64) -> Checklist:
    items, _ = checklist_items(ctx, plan(submissions(count), STRESSFRI, ctx.rule, AS_OF), set(), to_the_minute=True)
    return Checklist("stressfri", "S1", "webnode", ctx.run_id, AS_OF, tuple(items), source_digest=digest)


def answer(done: Checklist, **changes: object) -> Answer:
    values: dict[str, object] = {
        "ticked": frozenset(i.field for i in done.items),
        "unknown": frozenset(),
        "attester_name": "Kari Nordmann",
        "role": "owner",
        **changes,
    }
    return Answer(**values)  # type: ignore[arg-type]


def test_an_item_shows_the_minute_a_masked_reference_and_the_kind_only() -> None:
    ctx = context()
    [item] = checklist(ctx, 1).items
    assert item.dated == (AS_OF - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    assert item.field == "item_" + item.masked[-6:]
    assert "@" not in repr(item) and item.kind == ctx.rule.covers.records


def test_a_second_answer_to_the_same_checklist_is_refused(database_url: str) -> None:
    ledger, ctx = Ledger(database_url), context()
    done = checklist(ctx)
    ledger.append(attestation_drafts(ctx, done, answer(done), ledger))
    with pytest.raises(AttestationRefused, match=r"was already answered .* this second answer is refused"):
        attestation_drafts(ctx, done, answer(done), ledger)


def test_an_answer_with_unknown_items_or_without_a_name_records_nothing(database_url: str) -> None:
    ledger, ctx = Ledger(database_url), context()
    done = checklist(ctx)
    with pytest.raises(AttestationRefused, match="names 1 item"):
        attestation_drafts(ctx, done, answer(done, unknown=frozenset({"item_000000"})), ledger)
    with pytest.raises(AttestationRefused, match="attester's name is required"):
        attestation_drafts(ctx, done, answer(done, attester_name="  "), ledger)


def test_the_ledger_keeps_the_attester_as_a_pseudonym_and_drops_a_note_with_an_email(database_url: str) -> None:
    ledger, ctx = Ledger(database_url), context()
    done = checklist(ctx)
    drafts = attestation_drafts(ctx, done, answer(done, note="asked kari@example.no"), ledger)
    assert all(d.payload["attester"].startswith("attester:") and "note" not in d.payload for d in drafts)
    assert safe_note("ring 912 34 567") is None and safe_note(" shredded,  returned the binder ") == (
        "shredded, returned the binder"
    )


def test_attested_items_leave_later_checklists_until_an_export_shows_them(database_url: str) -> None:
    ledger, ctx = Ledger(database_url), context()
    done = checklist(ctx)
    ledger.append(attestation_drafts(ctx, done, answer(done), ledger))
    assert settled_records(ledger, "stressfri", "S1") == {item.record for item in done.items}
    later = context()
    pending = attested_unverified(ledger, "stressfri", "S1", "webnode")
    result = verify_attested(later, pending, {done.items[0].record}, "b" * 64)
    ledger.append(result.drafts)
    assert (result.verified, result.still_present) == (2, [done.items[0].record])
    assert settled_records(ledger, "stressfri", "S1") == {item.record for item in done.items[1:]}
    assert attested_unverified(ledger, "stressfri", "S1", "webnode") == {}


def test_the_export_a_checklist_came_from_cannot_verify_it(database_url: str) -> None:
    ledger, ctx = Ledger(database_url), context()
    done = checklist(ctx)
    ledger.append(attestation_drafts(ctx, done, answer(done), ledger))
    with pytest.raises(SameExport):
        verify_attested(context(), attested_unverified(ledger, "stressfri", "S1", "webnode"), set(), "a" * 64)


@pytest.mark.parametrize(
    ("run", "deadline"),
    [
        ("2026-11-01T08:00:00+01:00", "2026-11-08T23:59:59+01:00"),
        ("2027-03-01T08:00:00+01:00", "2027-03-08T23:59:59+01:00"),
    ],
)
def test_the_monthly_phone_sweep_is_due_a_week_after_its_run_not_a_month(run: str, deadline: str) -> None:
    """S3 "slettet hver mnd.": the sweep's deadline is the run day plus its week of grace."""
    rule = STRESSFRI.rule("S3")
    assert rule is not None
    ctx = RunContext(
        policy=STRESSFRI, rule=rule, system="phone", as_of=datetime.fromisoformat(run), dry_run=False, key=KEY
    )
    item = sweep_item(ctx)
    assert item.deadline is not None and item.deadline.isoformat() == deadline


def test_b4s_checklist_says_what_is_returned_not_shredded_and_marks_all_in_customers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """ "Alle papirarkiver" except customer material handed over (returned) and ALL-IN customers' material."""
    from tasks.attestation import build_checklist

    manifest = balance_register(tmp_path / "crm-kontakter.csv", seed=5, now=AS_OF)
    monkeypatch.setenv("HYGIENE_BALANCE_PAPER_REGISTER", str(manifest.path))
    balance = load_policy(policies_dir(), "balance")
    rule = balance.rule("B4")
    assert rule is not None
    ctx = RunContext(policy=balance, rule=rule, system="paper_archive", as_of=AS_OF, dry_run=False, key=KEY)
    assert "returned to it, not shredded" in instruction(ctx) and "ALL-IN agreement" in instruction(ctx)
    items = build_checklist.fn(ctx, Ledger(database_url)).items
    ended = [c for c in manifest.contacts if c.collaboration_ended is not None and c.collaboration_ended < AS_OF.date()]
    marked = [
        item for item in items if item.kind.endswith("(ALL-IN agreement: its terms govern the customer material)")
    ]
    assert len(items) == len(ended) and len(marked) == sum(c.all_in for c in ended) > 0


def test_b2_takes_the_newsletter_status_from_mailchimp_and_starts_the_clock_when_a_member_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """ "Så længe du er modtager af vores nyhedsbrev" is MailChimp's to say; the CRM's flag is ignored."""
    from tasks.attestation import build_checklist
    from tests.vendor_fixtures import AS_OF as VENDOR_NOW
    from tests.vendor_fixtures import BALANCE, aim_at, seeded_sandbox

    balance = load_policy(policies_dir(), "balance")
    rule = balance.rule("B2")
    assert rule is not None
    with seeded_sandbox(BALANCE, n=12) as seeded:
        aim_at(monkeypatch, seeded, "balance")
        subscribed = next(m for m in seeded.mailchimp.members if m.status == "subscribed")
        left = next(m for m in seeded.mailchimp.unsubscribed() if m.unsubscribed_at is not None)
        assert left.unsubscribed_at is not None
        long_ago = (VENDOR_NOW - timedelta(days=60)).strftime("%d.%m.%Y")
        before_leaving = (left.unsubscribed_at - timedelta(days=20)).astimezone(balance.zone).strftime("%d.%m.%Y")
        rows = [
            ("C-1", subscribed.email, long_ago, "nej"),  # on the list, whatever the CRM says: held
            ("C-2", left.email, before_leaving, "ja"),  # left the list 20 days after the course: due from then
            ("C-3", "ikke.paa.listen@example.dk", long_ago, "ja"),  # never on the list: due from the course's end
        ]
        register = tmp_path / "crm-kontakter.csv"
        register.write_text(
            "Kontakt-id;E-mail;Forløb slut;Nyhedsbrev\n" + "".join(f"{';'.join(row)}\n" for row in rows), "utf-8"
        )
        monkeypatch.setenv("HYGIENE_BALANCE_PAPER_REGISTER", str(register))
        ctx = RunContext(policy=balance, rule=rule, system="paper_archive", as_of=VENDOR_NOW, dry_run=False, key=KEY)
        items = build_checklist.fn(ctx, Ledger(database_url)).items
    assert sorted(item.dated for item in items) == sorted(
        [
            left.unsubscribed_at.astimezone(balance.zone).date().isoformat(),
            (VENDOR_NOW - timedelta(days=60)).date().isoformat(),
        ]
    )
