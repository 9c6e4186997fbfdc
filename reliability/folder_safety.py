"""Race attempts on Calmo's drive, and inputs built to stall a run (issue 14, items 4 and 7).

Races: a K2 run deletes logbooks batch by batch; at a point the seed picks, between two batches, the tree is
changed under it: the archive folder swapped for a link to a copy outside, replaced by a copy of itself, a
due logbook replaced by a new file, or swapped for a link to a file outside. A race is caught when every decoy
(the copy, the new file, the file outside) is still there and the ledger's `deleted` outcomes are exactly the
files that really went from the drive.

Stalls: each hostile input (an alias bomb and YAML nested 20,000 deep in a policy, catastrophic date patterns,
an xlsx zip bomb and one whose sheet claims 17 billion cells, a file name that is not UTF-8, folders nested
100 deep) is handled in a forked child that must answer correctly within STALL_SECONDS; a child that takes
longer is killed and counted as a stall, one that answers wrongly as a failure.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from hygiene.connector import AbsenceProof, Connector, Receipt, Record
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import check_policy_file, load_policy
from integrations.file_errors import MalformedFile
from integrations.folder import MAX_DEPTH, FolderConnector
from integrations.registry import connector_for
from integrations.spreadsheet import MAX_UNPACKED_BYTES
from integrations.webnode import table_rows
from reliability.crash import AS_OF, folder_truth
from reliability.databases import fresh_database
from reliability.steps import enforce
from sandbox.seed_files import calmo_folder

STALL_SECONDS = 10.0
_FORK = multiprocessing.get_context("fork")
ATTACKS = ("folder swapped for a link", "folder replaced by a copy", "file replaced", "file swapped for a link")


@dataclass(frozen=True)
class RaceAttempt:
    attack: str
    seed: int
    caught: bool


@dataclass(frozen=True)
class StallCase:
    case: str
    stalled: bool
    correct: bool


# ---- races ----------------------------------------------------------------------------------------------


class _SwapBeforeBatch:
    """A connector whose `attack` runs just before its `when`-th delete call: the plan is made, the tree moves."""

    def __init__(self, inner: Connector, when: int, attack: Callable[[Sequence[str]], None]) -> None:
        self.inner, self.when, self.attack = inner, when, attack
        self.capabilities = inner.capabilities
        self.calls = 0

    def records(self, selection: Mapping[str, str], trigger: str) -> Iterator[Record]:
        return self.inner.records(selection, trigger)

    def delete(self, record_ids: Sequence[str]) -> list[Receipt]:
        if self.calls == self.when:
            self.attack(record_ids)
        self.calls += 1
        return self.inner.delete(record_ids)

    def verify_absent(self, record_ids: Sequence[str]) -> list[AbsenceProof]:
        return self.inner.verify_absent(record_ids)


def race_campaign(seeds: Sequence[int], scratch: Path) -> list[RaceAttempt]:
    return [race_attempt(seed, scratch) for seed in seeds]


def race_attempt(seed: int, scratch: Path) -> RaceAttempt:
    """One K2 run on a fresh drive with the seed's attack at the seed's batch; caught or not."""
    rng = random.Random(seed)
    attack = ATTACKS[seed % len(ATTACKS)]
    place = scratch / f"race-{seed}"
    drive = calmo_folder(place / "drive", seed=seed, now=AS_OF, invoices=2, logbooks=12)
    root = drive.root / "klientlogboeger"
    decoys: dict[Path, bytes] = {}

    def strike(batch: Sequence[str]) -> None:
        archive = root / "Arkiv"
        if attack.startswith("folder"):
            copy = place / "outside" if attack.endswith("link") else place / "copy"
            shutil.copytree(archive, copy)
            decoys.update({path: path.read_bytes() for path in copy.iterdir()})
            archive.rename(root / "Arkiv.moved")
            if attack.endswith("link"):
                archive.symlink_to(copy, target_is_directory=True)
            else:
                copy.rename(archive)
                decoys.clear()
                decoys.update({path: path.read_bytes() for path in archive.iterdir()})
            return
        target = root / batch[0]
        if attack == "file replaced":
            incoming = target.with_name("incoming.tmp")
            incoming.write_bytes(b"a logbook the plan never saw")
            os.replace(incoming, target)
            decoys[target] = b"a logbook the plan never saw"
        else:
            outside = place / "outside.md"
            outside.write_bytes(b"a file outside the drive")
            target.unlink()
            target.symlink_to(outside)
            decoys[outside] = b"a file outside the drive"

    policy = load_policy(policies_dir(), "calmo")
    batch_size = rng.choice((1, 2, 3))
    _, due = folder_truth(policy, "K2", drive, "logbook")
    when = rng.randrange(-(-len(due) // batch_size))  # before one of the run's delete calls
    with _environment("HYGIENE_CALMO_LOGBOOKS", str(root)), fresh_database("sqlite", scratch) as url:
        connector = _SwapBeforeBatch(connector_for(policy, "logbooks"), when, strike)
        report = enforce(policy, "K2", "logbooks", connector, Ledger(url), AS_OF, batch_size)
        deleted = [
            entry
            for entry in Ledger(url).entries(run_id=report.run_id)
            if entry.kind is EntryKind.OUTCOME and str(entry.payload["result"]).startswith("deleted")
        ]
    # where the planned files are now: the archive moved aside, or still in place with one file swapped
    home = root / ("Arkiv.moved" if attack.startswith("folder") else "Arkiv")
    gone = [file for file in drive.of_kind("logbook") if not os.path.lexists(home / Path(file.relative).name)]
    intact = all(path.exists() and path.read_bytes() == content for path, content in decoys.items())
    return RaceAttempt(attack, seed, bool(decoys) and intact and len(deleted) == len(gone))


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


# ---- stalls ---------------------------------------------------------------------------------------------


def small_workbook() -> bytes:
    """A two-row offers sheet, the honest base of the hostile workbooks."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Tilbud"
    sheet.append(["Dato", "Kunde", "E-post"])
    sheet.append(["01.02.2020", "Decoy", "decoy@example.no"])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def _rewritten(data: bytes, replace: dict[str, bytes], huge: tuple[str, int] | None = None) -> bytes:
    """The package with parts replaced, and the part `huge` names one string of that many letters (compressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for part in source.infolist():
            if huge is None or part.filename != huge[0]:
                target.writestr(part.filename, replace.get(part.filename) or source.read(part))
        if huge is not None:
            with target.open(huge[0], "w", force_zip64=True) as stream:
                stream.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
                for _ in range(huge[1] // 2**20):
                    stream.write(b"A" * 2**20)
                stream.write(b"</t></si></sst>")
    return out.getvalue()


def zip_bomb() -> bytes:
    """Under a megabyte stored; its shared strings unpack to one string larger than a workbook may unpack to."""
    return _rewritten(small_workbook(), {}, ("xl/sharedStrings.xml", MAX_UNPACKED_BYTES + 2**20))


def wide_dimension() -> bytes:
    """A sheet whose dimension spans every row and column Excel has, with one cell in the last of them."""
    data = small_workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        sheet = package.read("xl/worksheets/sheet1.xml")
    sheet = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD1048576"', sheet)
    sheet = sheet.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>')
    return _rewritten(data, {"xl/worksheets/sheet1.xml": sheet})


def _policy_with(scratch: Path, edit: Callable[[str], str]) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    for name in ("calmo.yaml", "calmo.notice.txt"):
        shutil.copy(policies_dir() / name, scratch / name)
    path = scratch / "calmo.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def _alias_bomb(text: str) -> str:
    levels = [f"- &l0 [{', '.join(['legal_hold'] * 9)}]"]
    levels += [f"- &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 12)]
    bomb = "\n".join(f"      {line}" for line in levels)
    return text.replace("    exemptions: [legal_hold]\n", f"    exemptions:\n{bomb}\n", 1)


def _date_pattern(pattern: str) -> Callable[[str], str]:
    published = r"""date_pattern: '^forloeb-slut_(?P<date>\d{4}-\d{2}-\d{2})_(?P<subject>[^.]+)\.'"""
    return lambda text: text.replace(published, f"date_pattern: '{pattern}'", 1)


def _policy_refused(edit: Callable[[str], str], expected: str) -> Callable[[Path], bool]:
    def case(scratch: Path) -> bool:
        _, problems = check_policy_file(_policy_with(scratch, edit))
        return len(problems) == 1 and expected in str(problems[0]) and "\n" not in str(problems[0])

    return case


def _workbook_refused(build: Callable[[], bytes], expected: str) -> Callable[[Path], bool]:
    def case(scratch: Path) -> bool:
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / "export.xlsx"
        path.write_bytes(build())
        try:
            list(table_rows(path))
        except MalformedFile as error:
            return expected in str(error)
        return False

    return case


def _run_with_bad_name(scratch: Path) -> bool:
    """K2 on a drive holding a logbook whose name is Latin-1: one finding, the due logbooks deleted, run closed."""
    drive = calmo_folder(scratch / "drive", seed=1, now=AS_OF, invoices=2, logbooks=6)
    archive = os.fsencode(drive.root / "klientlogboeger" / "Arkiv")
    with open(archive + b"/forloeb-slut_2020-01-01_K\xe6\xf8.md", "wb") as stream:
        stream.write(b"x")
    policy = load_policy(policies_dir(), "calmo")
    with (
        _environment("HYGIENE_CALMO_LOGBOOKS", str(drive.root / "klientlogboeger")),
        fresh_database("sqlite", scratch) as url,
    ):
        connector = connector_for(policy, "logbooks")
        report = enforce(policy, "K2", "logbooks", connector, Ledger(url), AS_OF, 500)
        entries = list(Ledger(url).entries(run_id=report.run_id))
    found = isinstance(connector, FolderConnector) and len(connector.findings) == 1
    return found and report.deleted > 0 and entries[-1].kind is EntryKind.RUN_FINISHED


def _deep_folders(scratch: Path) -> bool:
    """Folders nested past MAX_DEPTH: the walk stops there with one finding instead of exhausting descriptors."""
    deep = scratch / "deep"
    deep.mkdir(parents=True)
    os.chdir(deep)
    for _ in range(MAX_DEPTH + 36):
        os.mkdir("d")
        os.chdir("d")
    Path("2020-01-01_file.pdf").write_bytes(b"x")
    connector = FolderConnector(deep)
    return list(connector.records({}, "d")) == [] and [f[1]["finding"] for f in connector.findings] == [
        "folder_too_deep"
    ]


STALL_CASES: dict[str, Callable[[Path], bool]] = {
    "policy: alias bomb in exemptions": _policy_refused(_alias_bomb, "anchors and aliases"),
    "policy: YAML nested 20,000 deep": _policy_refused(
        lambda text: text + "deep: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested deeper"
    ),
    "policy: date pattern (\\d+)+": _policy_refused(_date_pattern(r"^(?P<date>(\d+)+)x$"), "unbounded time"),
    "policy: date pattern .*.*.*": _policy_refused(_date_pattern(r"(?P<date>\d{4}).*.*.*x"), "unbounded time"),
    "policy: date pattern without a date group": _policy_refused(_date_pattern(r"^forloeb_\d+"), "group 'date'"),
    "xlsx: zip bomb": _workbook_refused(zip_bomb, "unpacks to"),
    "xlsx: sheet of 17 billion cells": _workbook_refused(wide_dimension, "cells"),
    "folder: a file name that is not UTF-8": _run_with_bad_name,
    "folder: folders nested 100 deep": _deep_folders,
}


def stall_campaign(scratch: Path) -> list[StallCase]:
    return [
        stall_case(name, case, scratch / f"stall-{number}") for number, (name, case) in enumerate(STALL_CASES.items())
    ]


def stall_case(name: str, case: Callable[[Path], bool], scratch: Path) -> StallCase:
    """Run `case` in a forked child: exit 0 when it answered correctly; killed after STALL_SECONDS."""
    child = _FORK.Process(target=_child, args=(case, scratch), daemon=True)
    child.start()
    child.join(STALL_SECONDS)
    if child.is_alive():
        child.kill()
        child.join()
        return StallCase(name, stalled=True, correct=False)
    return StallCase(name, stalled=False, correct=child.exitcode == 0)


def _child(case: Callable[[Path], bool], scratch: Path) -> None:
    try:
        correct = case(scratch)
    except Exception:  # an escaping error is a wrong answer, counted; the parent reports it
        correct = False
    os._exit(0 if correct else 1)
