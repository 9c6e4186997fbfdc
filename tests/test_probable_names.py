"""A name in free text is a probable match only: a rights request lists it for a person, never deletes or exports it.

Exact identifiers decide what a machine may delete or hand out (tests/test_subject_matching.py); a request may also
carry the person's full name (`hygiene request open --name`), sealed like the email, so that a file naming the
person without their address is not silently missed: it is neither deleted nor exported but becomes a by-hand item
of the request, which then waits for `hygiene request attest`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hygiene.errors import HygieneError
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.matching import NotAnIdentifier, name_needle, person_name
from hygiene.policies import load_policy
from hygiene.requests import RequestKind, RequestStore
from hygiene.settings import Settings
from sandbox.seed_files import calmo_folder
from tests.cli_runner import run_cli
from tests.privacy import database_rows, hits
from tests.rights_fixtures import NOW

EMAIL = "ann@example.dk"
NAME = "Ann Hansen"
ARCHIVE = "klientlogboeger/Arkiv"

Fixtures = tuple[pytest.CaptureFixture[str], pytest.MonkeyPatch]


# ---- the name needle ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Samtale med Ann Hansen i dag", True),
        ("samtale med ANN  HANSEN,\nopfølgning", True),
        ("Ann\nHansen", True),
        ("Joann Hansen", False),
        ("Ann Hansenius", False),
        ("Hansen Ann", False),
        ("Ann B. Hansen", False),
        ("ann_hansen", False),
    ],
)
def test_a_name_is_found_whole_case_folded_and_in_sequence(text: str, found: bool) -> None:
    assert name_needle(NAME).in_text(text) is found


def test_a_name_is_compared_unicode_normalised_with_its_diacritics_as_written() -> None:
    needle = name_needle("Åse Bjørnstad")
    assert needle.in_text("åse bjørnstad")
    assert needle.in_text("A\u030ase BJØRNSTAD"), "a decomposed Å is the composed one (NFKC)"
    assert not needle.in_text("Ase Bjornstad"), "diacritics are compared as written"


def test_a_name_across_chunk_edges_is_found_and_one_continued_by_the_next_chunk_is_not() -> None:
    needle = name_needle("Åse Bjørnstad")
    text = ("x" * 3000 + " Åse Bjørnstad.").encode()
    edge = text.index("ø".encode()) + 1  # inside the two bytes of ø
    assert needle.found_in([text[:edge], text[edge:]])
    assert needle.found_in([text[i : i + 7] for i in range(0, len(text), 7)])
    assert not needle.found_in([b"x" * 3000 + " Åse Bjørnstad".encode(), b"sen\n"])


@pytest.mark.parametrize("name", ["Ann", "  ", "12 34", "Ann -"])
def test_a_name_that_is_not_a_full_name_is_refused_in_one_line_without_the_value(name: str) -> None:
    with pytest.raises(NotAnIdentifier) as error:
        person_name(name, "--name")
    message = str(error.value)
    assert message.startswith("--name: not a full name") and "\n" not in message
    assert name.strip() == "" or name.split()[0] not in message


# ---- the request store -------------------------------------------------------------------------------------


def test_the_name_is_sealed_beside_the_email_and_deleted_at_close(database_url: str) -> None:
    policy = load_policy(policies_dir(), "calmo")
    key = Settings().key_for("calmo")
    store = RequestStore(Ledger(database_url))
    request = store.open(policy, RequestKind.ERASURE, EMAIL, NOW.date(), key, name=" Ann   Hansen ")
    assert store.name(store.get(request.request_id), key) == NAME
    assert hits(database_rows(database_url), {NAME, EMAIL}) == [], "sealed, and not in the ledger"
    stored = store.get(request.request_id)
    assert stored.sealed_name is not None and stored.sealed_identity is not None
    with pytest.raises(HygieneError, match="does not decrypt"):
        # the name's ciphertext is bound to its purpose: moved into the email's column, it does not open
        store.identity(replace(stored, sealed_identity=stored.sealed_name), key)
    store.close(request.request_id, "erased", {"systems": []})
    assert store.get(request.request_id).sealed_name is None
    without = store.open(policy, RequestKind.ACCESS, EMAIL, NOW.date(), key)
    assert store.name(without, key) is None


def test_open_refuses_a_one_word_name_and_stores_nothing(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("request", "open", "--controller", "calmo", "--kind", "erasure", "--email", EMAIL, "--name", "Ann")
    result = run_cli(capsys, monkeypatch, *args)
    assert (
        result.code == 1
        and result.err.strip() == "error: --name: not a full name (give at least a first and a last name)"
    )
    assert RequestStore(Ledger(database_url)).list_open() == []


# ---- erasure and access on Calmo's drive -------------------------------------------------------------------


@dataclass(frozen=True)
class Drive:
    root: Path
    exact: str
    probable: str
    decoys: tuple[str, ...]

    def present(self, relative: str) -> bool:
        return (self.root / relative).exists()


@pytest.fixture
def drive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Drive:
    """Calmo's drive with Ann's logbook (her address in it), one naming her only by name, and two decoys whose
    names merely contain hers."""
    seeded = calmo_folder(tmp_path / "drive", seed=5, now=NOW, invoices=4, logbooks=3)
    monkeypatch.setenv("HYGIENE_CALMO_INVOICES", str(seeded.root / "fakturaer"))
    monkeypatch.setenv("HYGIENE_CALMO_LOGBOOKS", str(seeded.root / "klientlogboeger"))
    files = {
        f"{ARCHIVE}/forloeb-slut_2025-06-01_K8001.md": f"# K8001\n\n{NAME}\n{EMAIL}\n",
        f"{ARCHIVE}/forloeb-slut_2025-06-02_K8002.md": "# K8002\n\nSamtale om ann  hansen og hendes mor.\n",
        f"{ARCHIVE}/forloeb-slut_2025-06-03_K8003.md": "# K8003\n\nJoann Hansen\n",
        f"{ARCHIVE}/forloeb-slut_2025-06-04_K8004.md": "# K8004\n\nAnn Hansenius\n",
    }
    for relative, content in files.items():
        (seeded.root / relative).write_text(content, encoding="utf-8")
    exact, probable, *decoys = files
    return Drive(seeded.root, exact, probable, tuple(decoys))


def _request(io: Fixtures, kind: str) -> str:
    args = ("request", "open", "--controller", "calmo", "--kind", kind, "--email", EMAIL, "--name", NAME, "--json")
    opened = run_cli(*io, *args)
    assert opened.code == 0, opened.err
    request_id: str = opened.json()["request"]
    assert run_cli(*io, "request", "verify-id", request_id, "--role", "owner").code == 0
    return request_id


def _findings(database_url: str, request_id: str) -> list[dict[str, Any]]:
    entries = Ledger(database_url).entries(run_id=request_id, kinds={EntryKind.FINDING})
    return [e.payload for e in entries if e.payload.get("finding") == "probable_match"]


@pytest.mark.usefixtures("prefect_server")
def test_an_erasure_deletes_the_exact_match_and_lists_the_name_for_a_person(
    drive: Drive,
    database_url: str,
    prefect_server: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    io = (capsys, monkeypatch)
    request_id = _request(io, "erasure")
    letter = tmp_path / "svar.txt"
    result = run_cli(*io, "request", "erase", request_id, "--out", str(letter), "--json")
    assert result.code == 0, result.err
    assert not drive.present(drive.exact), "the exact match is deleted as before"
    assert drive.present(drive.probable), "a name alone deletes nothing"
    assert all(drive.present(decoy) for decoy in drive.decoys)
    answer = result.json()
    logbooks = next(s for s in answer["systems"] if s["system"] == "logbooks")
    assert logbooks["deleted"] == 1 and logbooks["probable"] == ["…/…2.md"] and logbooks["by_hand"] == 1
    assert answer["awaiting_by_hand"] and "logbooks" in answer["by_hand"], "the request waits for a person"
    assert [f["where"] for f in _findings(database_url, request_id)] == ["…/…2.md"]
    text = letter.read_text(encoding="utf-8")
    assert "gennemgås og slettes manuelt" in text and "logbooks (filarkiv)" in text.split("manuelt", 1)[1]
    attested = run_cli(*io, "request", "attest", request_id, "--role", "owner", "--out", str(letter), "--json")
    assert attested.code == 0, attested.err
    *_, closing_entry = Ledger(database_url).entries(run_id=request_id, kinds={EntryKind.REQUEST})
    closing = closing_entry.payload
    assert closing["event"] == "closed" and "logbooks" in closing["by_hand_attested"]["systems"]
    assert RequestStore(Ledger(database_url)).get(request_id).sealed_name is None
    out, err = capsys.readouterr()
    needles = {NAME, EMAIL}
    assert hits(database_rows(prefect_server), needles) == []
    assert hits(database_rows(database_url), needles) == []
    texts = [out, err, caplog.text, letter.read_text(encoding="utf-8"), result.out, attested.out]
    assert hits(texts, needles) == []


@pytest.mark.usefixtures("prefect_server")
def test_an_export_holds_only_the_exact_match_and_lists_the_name_for_a_person(
    drive: Drive,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    io = (capsys, monkeypatch)
    request_id = _request(io, "access")
    result = run_cli(*io, "request", "export", request_id, "--out", str(tmp_path / "svar"), "--json")
    assert result.code == 0, result.err
    document = json.loads((tmp_path / "svar" / "export.json").read_text(encoding="utf-8"))
    files = {r["file"] for s in document["systems"] for r in s["records"]}
    assert files == {drive.exact.removeprefix("klientlogboeger/")}
    assert all(drive.present(relative) for relative in (drive.exact, drive.probable, *drive.decoys))
    logbooks = next(s for s in result.json()["systems"] if s["system"] == "logbooks")
    assert logbooks["probable"] == ["…/…2.md"] and logbooks["found"] == 1
    assert [f["where"] for f in _findings(database_url, request_id)] == ["…/…2.md"]
    letter = (tmp_path / "svar" / "letter.txt").read_text(encoding="utf-8")
    assert "gennemgås manuelt" in letter and hits([letter], {NAME}) == []


def test_a_store_made_before_names_gets_the_column_and_its_requests_have_none(database_url: str) -> None:
    policy = load_policy(policies_dir(), "calmo")
    key = Settings().key_for("calmo")
    ledger = Ledger(database_url)
    earlier = RequestStore(ledger).open(policy, RequestKind.ERASURE, EMAIL, NOW.date(), key)
    with ledger.transaction() as conn:
        conn.execute(text('ALTER TABLE "hygiene_requests" DROP COLUMN name'))
    store = RequestStore(ledger)
    assert store.name(store.get(earlier.request_id), key) is None
    later = store.open(policy, RequestKind.ERASURE, EMAIL, NOW.date(), key, name=NAME)
    assert store.name(later, key) == NAME
