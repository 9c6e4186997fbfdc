"""Balance's CRM register as the source of the paper archive's checklist (B2 to B5)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from hygiene.connector import Connector
from integrations.file_errors import DeletionByHand, HeaderChanged, MalformedFile
from integrations.manual import RegisterConnector
from sandbox.seed_files import balance_register

NOW = datetime.fromisoformat("2026-11-01T08:00:00+01:00")


def connector(path: Path) -> RegisterConnector:
    return RegisterConnector(path, system="paper_archive")


def test_the_register_satisfies_the_connector_protocol(tmp_path: Path) -> None:
    assert isinstance(connector(balance_register(tmp_path / "r.csv", seed=1, now=NOW).path), Connector)


def test_only_contacts_whose_course_ended_are_records_and_newsletter_recipients_carry_the_exemption(
    tmp_path: Path,
) -> None:
    manifest = balance_register(tmp_path / "r.csv", seed=1, now=NOW)
    records = list(connector(manifest.path).records({}, "course_ended_at"))
    assert {r.record_id for r in records} == manifest.course_ended_before(NOW.date())
    exempt = {r.record_id for r in records if r.attributes.get("exemption") == "newsletter_recipient"}
    assert exempt == manifest.course_ended_before(NOW.date(), newsletter=True)


def test_the_selection_keeps_customers_without_an_all_in_agreement(tmp_path: Path) -> None:
    manifest = balance_register(tmp_path / "r.csv", seed=1, now=NOW)
    records = connector(manifest.path).records({"all_in_agreement": "no"}, "collaboration_ended_at")
    expected = {c.contact for c in manifest.contacts if c.collaboration_ended is not None and not c.all_in}
    assert {r.record_id for r in records} == expected


def test_a_flag_that_is_not_ja_or_nej_names_row_and_column_only(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("Kontakt-id;E-mail;Forløb slut;Nyhedsbrev\nC-1;a@b.dk;01.10.2026;Jens Hansen\n", "utf-8")
    with pytest.raises(MalformedFile) as caught:
        list(connector(path).records({}, "course_ended_at"))
    assert str(caught.value) == f"{path}: row 2, column 'Nyhedsbrev': expected ja or nej"


def test_a_register_without_the_trigger_column_has_changed_layout(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("Kontakt-id;E-mail\nC-1;a@b.dk\n", "utf-8")
    with pytest.raises(HeaderChanged, match="no column 'Forløb slut'"):
        list(connector(path).records({}, "course_ended_at"))


def test_paper_is_shredded_by_a_person_not_by_the_connector(tmp_path: Path) -> None:
    with pytest.raises(DeletionByHand):
        connector(tmp_path / "r.csv").delete(["C-1"])
