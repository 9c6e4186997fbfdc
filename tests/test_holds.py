"""Legal holds: set, listed, released, looked up fast by the planner, and recorded in the ledger."""

from __future__ import annotations

import pytest

from hygiene.errors import UnknownHold
from hygiene.holds import HoldStore
from hygiene.ledger import EntryKind, Ledger
from tests.ledger_fixtures import CONTROLLER, record_of, subject_of

pytest_plugins = ["tests.ledger_fixtures"]

DISPUTE = "dispute, case 2024-17"


@pytest.fixture
def holds(ledger: Ledger) -> HoldStore:
    return HoldStore(ledger)


def test_an_added_hold_is_listed_as_active(holds: HoldStore) -> None:
    hold = holds.add(CONTROLLER, subject=subject_of("ann@example.se"), reason=DISPUTE, set_by="DPO")

    assert holds.list(CONTROLLER) == [hold]
    assert hold.active


def test_a_released_hold_is_no_longer_active_but_still_listed_in_full(holds: HoldStore) -> None:
    hold = holds.add(CONTROLLER, record=record_of("contact-1"), reason=DISPUTE, set_by="DPO")

    released = holds.release(hold.hold_id, released_by="DPO")

    assert holds.list(CONTROLLER) == []
    assert holds.list(CONTROLLER, active_only=False) == [released]
    assert released.released_at is not None


def test_holds_are_kept_per_controller(holds: HoldStore) -> None:
    holds.add("calmo", record=record_of("contact-1"), reason=DISPUTE, set_by="DPO")

    assert holds.list(CONTROLLER) == []


def test_adding_and_releasing_a_hold_writes_hold_entries_to_the_ledger(holds: HoldStore, ledger: Ledger) -> None:
    hold = holds.add(CONTROLLER, record=record_of("contact-1"), reason=DISPUTE, set_by="DPO")
    holds.release(hold.hold_id, released_by="legal counsel")

    entries = list(ledger.entries(kinds=[EntryKind.HOLD]))

    assert [(e.payload["event"], e.payload["by"], e.record) for e in entries] == [
        ("added", "DPO", hold.record),
        ("released", "legal counsel", hold.record),
    ]
    assert ledger.range_of(f"hold-{hold.hold_id}") == (1, 2)
    assert ledger.verify().ok


def test_the_hold_index_gives_the_reason_for_a_held_subject_or_record(holds: HoldStore) -> None:
    holds.add(CONTROLLER, subject=subject_of("ann@example.se"), reason=DISPUTE, set_by="DPO")
    holds.add(CONTROLLER, record=record_of("invoice-9"), reason="bookkeeping, FY2024", set_by="accountant")

    index = holds.active_for(CONTROLLER)

    assert index.reason_for(subject=subject_of("ann@example.se"), record=record_of("contact-1")) == DISPUTE
    assert index.reason_for(record=record_of("invoice-9")) == "bookkeeping, FY2024"
    assert index.reason_for(subject=subject_of("bo@example.se"), record=record_of("contact-2")) is None


def test_the_hold_index_leaves_out_released_holds(holds: HoldStore) -> None:
    hold = holds.add(CONTROLLER, record=record_of("contact-1"), reason=DISPUTE, set_by="DPO")
    holds.release(hold.hold_id)

    assert holds.active_for(CONTROLLER).reason_for(record=record_of("contact-1")) is None


def test_releasing_an_unknown_hold_is_an_error_naming_it(holds: HoldStore) -> None:
    with pytest.raises(UnknownHold, match="hold 999"):
        holds.release(999)


def test_releasing_a_hold_twice_is_an_error(holds: HoldStore) -> None:
    hold = holds.add(CONTROLLER, record=record_of("contact-1"), reason=DISPUTE, set_by="DPO")
    holds.release(hold.hold_id)

    with pytest.raises(UnknownHold):
        holds.release(hold.hold_id)


def test_a_hold_on_a_raw_email_is_refused(holds: HoldStore) -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        holds.add(CONTROLLER, subject="ann@example.se", reason=DISPUTE, set_by="DPO")


def test_a_hold_names_exactly_one_of_subject_or_record(holds: HoldStore) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        holds.add(
            CONTROLLER,
            subject=subject_of("ann@example.se"),
            record=record_of("contact-1"),
            reason=DISPUTE,
            set_by="DPO",
        )
