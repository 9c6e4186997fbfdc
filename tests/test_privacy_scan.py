"""The demo's privacy scan looks for every kind of personal data the demo seeds, and looks in every place.

A scan with no needles, or one that skipped a place, would report zero hits as convincingly as a clean run.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from cli.demo import WORKSPACE
from reliability.privacy import PrivacyScan, controller_systems, demo_places, scan
from reliability.seeded_people import Kind, seeded_people

PERSON = "Ole.Hansen.3@Clienti-Kunde.example"


def test_the_needles_hold_every_kind_of_personal_data_the_demo_seeds(tmp_path: Path) -> None:
    people = seeded_people(tmp_path, datetime.now().astimezone())
    assert [kind for kind, needles in people.found.items() if not needles] == []
    emails, phones, ids = (people.found[kind] for kind in (Kind.EMAIL, Kind.PHONE, Kind.NATIONAL_ID))
    assert {email.lower() for email in emails} <= emails
    assert any(email != email.lower() for email in emails), "the forms' mixed-case emails, as typed"
    assert {re.sub(r"\D", "", phone) for phone in phones if len(re.sub(r"\D", "", phone)) >= 8} <= phones
    assert {national_id.replace("-", "") for national_id in ids} <= ids
    assert any("-" in national_id for national_id in ids)
    assert all(len(re.split(r"[\s-]+", name)) >= 2 for name in people.found[Kind.NAME]), "no first name alone"
    assert any(label.startswith("Kunder/") for label in people.found[Kind.LABEL])
    assert any("\\u00" in needle for needle in people.needles()), "names with æøå also as JSON escapes them"


def test_each_place_is_a_row_and_only_the_persons_export_and_the_controllers_systems_are_spared(
    tmp_path: Path,
) -> None:
    work, home, truth = tmp_path / "cwd", tmp_path / "prefect", tmp_path / "truth"
    _write(truth / "stressfri" / "webnode-export.csv", PERSON)
    run = work / WORKSPACE
    for spared in ("stressfri/webnode-export.csv", "exports/r1/export.json", "exports/r1/export.html"):
        _write(run / spared, PERSON)
    for kept in ("stressfri/webnode-export-copy.csv", "exports/r1/letter.txt", "letters/r2.txt"):
        _write(run / kept, PERSON.lower())
    with sqlite3.connect(run / "hygiene.db") as db:
        db.execute("CREATE TABLE hygiene_requests (identity TEXT)")
        db.execute("CREATE TABLE hygiene_ledger (payload TEXT)")
        db.executemany("INSERT INTO hygiene_requests VALUES (?)", [(PERSON,), ("sealed",)])
        db.execute("INSERT INTO hygiene_ledger VALUES (?)", (PERSON,))
    done = subprocess.CompletedProcess[str]([], 0, f"erased {PERSON}", "")
    rows = {row.where: row for row in scan(demo_places(done, work, home, controller_systems(truth)), {PERSON})}
    assert rows["demo output"] == PrivacyScan("demo output", 2, 1, 0)
    assert rows["demo ledger and files (.demo/)"].personal_hits == 4
    assert rows["request store (requests, breaches)"] == PrivacyScan("request store (requests, breaches)", 2, 1, 0)
    assert rows["Prefect database and logs"].scanned == 0
    assert {"cassettes (tests/cassettes/)", "benchmark outputs (bench/results/)"} <= rows.keys()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
