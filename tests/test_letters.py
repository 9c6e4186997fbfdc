"""Reply letters and breach notices speak the controller's language and name its country's law and authority."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from hygiene.letters import BreachFacts, ReplyFacts, authority_notice, reply_letter
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.rights import Disposition, Kept, SystemAnswer, SystemStatus


def facts(system: str, by_hand: str) -> ReplyFacts:
    answers = [
        SystemAnswer(
            system,
            SystemStatus.SEARCHED,
            found=3,
            deleted=2,
            kept=[Kept(Disposition.KEEP_BOOKKEEPING, 1, date(2031, 12, 31), "E1")],
        ),
        SystemAnswer(by_hand, SystemStatus.BY_HAND),
    ]
    return ReplyFacts("r1", "erasure", date(2026, 11, 2), date(2026, 11, 20), date(2026, 12, 2), answers)


@pytest.mark.parametrize(
    ("controller", "system", "by_hand", "expected"),
    [
        (
            "balansekonomi",
            "crm",
            "apsis",
            (
                "Svar på din begäran om radering",
                "bokföringslagen",
                "artikel 17.3 b",
                "Integritetsskyddsmyndigheten (IMY)",
                "2031-12-31",
            ),
        ),
        (
            "stressfri",
            "offers",
            "hano",
            (
                "Svar på din forespørsel om sletting",
                "bokføringsloven",
                "bokstav b",
                "Datatilsynet",
                "hano (manuelt system)",
            ),
        ),
        (
            "balance",
            "crm",
            "paper_archive",
            ("Svar på din anmodning om sletning", "bogføringsloven", "litra b", "Datatilsynet", "2 oplysning(er)"),
        ),
    ],
)
def test_a_reply_letter_is_in_the_controllers_language_and_names_its_law(
    controller: str, system: str, by_hand: str, expected: tuple[str, ...]
) -> None:
    letter = reply_letter(load_policy(policies_dir(), controller), facts(system, by_hand))
    assert all(phrase in letter for phrase in expected), letter


def test_the_authority_notice_states_the_72_hour_deadline_in_local_time() -> None:
    policy = load_policy(policies_dir(), "balansekonomi")
    discovered = datetime(2026, 3, 27, 13, 30, tzinfo=UTC)  # the clock crosses the change to summer time
    notice = authority_notice(policy, BreachFacts("b1", discovered, discovered + timedelta(hours=72), ["crm"], 4, ""))
    assert "2026-03-27 14:30 CET" in notice and "2026-03-30 15:30 CEST" in notice and "IMY" in notice


@pytest.mark.parametrize(
    ("controller", "system", "by_hand", "searched", "deleting"),
    [
        ("balance", "crm", "paper_archive", "gennemgås manuelt", "slettes manuelt"),
        ("stressfri", "offers", "hano", "gjennomgås manuelt", "slettes manuelt"),
        ("balansekonomi", "crm", "apsis", "gås igenom manuellt", "rensas manuellt"),
    ],
)
def test_an_access_letter_says_the_by_hand_places_are_searched_not_deleted(
    controller: str, system: str, by_hand: str, searched: str, deleting: str
) -> None:
    policy = load_policy(policies_dir(), controller)
    letter = reply_letter(policy, replace(facts(system, by_hand), kind="access"))
    erasure = reply_letter(policy, facts(system, by_hand))
    assert searched in letter and deleting not in letter, letter
    assert deleting in erasure, erasure
