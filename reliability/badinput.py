"""Bad-input corpus: broken policies, bad command lines, broken exports and malformed vendor pages.

Every case must be refused the same way: one line `error: ...` on stderr and exit 1 from the CLI (or, for
parsers below the CLI, one `HygieneError` whose message is one line), no traceback, and nothing changed: the
file tree and the ledger are byte-for-byte what they were. Policy cases are mutations of the real files, so
the corpus follows the policies as they change; the command lines are tests/corpus/cli.txt, one case a line.
A malformed vendor page is answered by an emulator to a rule's run through the real connector and SDK: the run
must stop with one line naming the vendor and the call, delete nothing, and write no deletion evidence.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hygiene.errors import HygieneError
from hygiene.keys import use_public_keys
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from integrations.webnode import read_export
from reliability.databases import fresh_database
from reliability.tenants import Tenant, TenantFactory, clienti, stressfri
from sandbox.seed_files import ExportFormat, webnode_submissions, write_webnode_export
from sandbox.state import Fault
from tests.privacy import hits

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"
CONTROLLERS = ("balance", "balansekonomi", "calmo", "clienti", "stressfri")


@dataclass(frozen=True)
class Verdict:
    case: str
    refused_correctly: bool
    why: str = ""


# ---- the workspace a case runs in ----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (the ledger included) by path and content digest."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    }


@contextlib.contextmanager
def workspace(root: Path) -> Iterator[Path]:
    """Policies copied under `root`, a ledger with evidence in it, and the environment pointing at both."""
    from hygiene.ledger import EntryDraft, EntryKind, Ledger
    from hygiene.store import dispose_engine

    shutil.copytree(policies_dir(), root / "policies", dirs_exist_ok=True)
    url = f"sqlite:///{root / 'hygiene.db'}"
    saved = dict(os.environ)
    os.environ.update(HYGIENE_POLICIES_DIR=str(root / "policies"), HYGIENE_DATABASE_URL=url, COLUMNS="200")
    use_public_keys("corpus", CONTROLLERS)
    Ledger(url).append([EntryDraft(controller="calmo", run_id="corpus", kind=EntryKind.RUN_STARTED)])
    dispose_engine(url)
    try:
        yield root
    finally:
        dispose_engine(url)
        os.environ.clear()
        os.environ.update(saved)


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """The real entry point in this process: (exit code, stdout, stderr)."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["hygiene", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        code: Any = 0
    except SystemExit as exited:
        code = exited.code
    except BaseException as error:  # an escaped exception is what the corpus looks for
        code, err = 99, io.StringIO(f"Traceback: {type(error).__name__}: {error}")
    finally:
        sys.argv = argv
    return code if isinstance(code, int) else 1, out.getvalue(), err.getvalue()


def judge_cli(case: str, args: list[str], root: Path) -> Verdict:
    """Run `args` and check the refusal: exit 1, one `error:` line per problem, no traceback, nothing changed.

    A policy file may have several independent problems and the loader names them all, one line each; the
    same place named twice is one problem said twice, and is counted as a failure.
    """
    before = snapshot(root)
    code, out, err = run_cli(args)
    lines = err.strip().splitlines()
    places = [line.rsplit(": ", 1)[0] for line in lines]
    problems = [
        f"exit {code}" if code != 1 else "",
        "no error line" if not lines else "",
        "a line that is not `error: ...`" if any(not line.startswith("error: ") for line in lines) else "",
        "one problem on several lines" if len(set(places)) != len(places) else "",
        "traceback" if "Traceback" in out + err else "",
        "files or ledger changed" if snapshot(root) != before else "",
    ]
    why = "; ".join(p for p in problems if p)
    return Verdict(case, not why, f"{why}: {err.strip()[:200]}" if why else "")


# ---- policies: mutations of the real files ------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _first_rule(document: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = document["rules"][0]
    return rule


def _deleting_rule(document: dict[str, Any]) -> dict[str, Any]:
    rules = [r for r in document["rules"] if r.get("window", {}).get("deadline")]
    return rules[0] if rules else _first_rule(document)


STRUCTURAL: dict[str, Mutation] = {
    "no controller": lambda d: d.pop("controller"),
    "no rules": lambda d: d.pop("rules"),
    "no systems": lambda d: d.pop("systems"),
    "controller renamed": lambda d: d.update(controller="someone-else"),
    "unknown top-level key": lambda d: d.update(retention_everything="forever"),
    "rules not a list": lambda d: d.update(rules={"a": 1}),
    "rule without ref": lambda d: _first_rule(d).pop("ref"),
    "duplicate rule": lambda d: d["rules"].append(dict(_first_rule(d))),
    "unknown action": lambda d: _first_rule(d).update(action="obliterate"),
    "quote not in the notice": lambda d: _first_rule(d)["quote"].update(text="We keep nothing, ever."),
    "deadline misspelt": lambda d: _deleting_rule(d)["window"].update(deadline="5 dayz"),
    "negative deadline": lambda d: _deleting_rule(d)["window"].update(deadline="-3 days"),
    "unknown system covered": lambda d: _first_rule(d)["covers"].update(systems=["nowhere"]),
    "timezone unknown": lambda d: d.update(timezone="Europe/Atlantis"),
    "country unknown": lambda d: d.update(country="XX"),
    "cadence too slow": lambda d: _deleting_rule(d).update(cadence={"cron": "0 7 1 7 *"}),
    "cadence not a mapping": lambda d: _deleting_rule(d).update(cadence="every 400 days"),
}

#: hostile values rather than mistakes: each is refused the same way in every policy, so one controller's
#: policy carries them (the corpus stays quick enough for `make test`)
HOSTILE: dict[str, Mutation] = {
    "rrule that never fires": lambda d: _deleting_rule(d).update(
        cadence={"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}
    ),
    "rrule that never fires, daily": lambda d: _deleting_rule(d).update(
        cadence={"rrule": "FREQ=DAILY;BYMONTHDAY=31;BYMONTH=4"}
    ),
    "rrule that stops after one run": lambda d: _deleting_rule(d).update(cadence={"rrule": "FREQ=DAILY;COUNT=1"}),
    "rrule that ended in 2001": lambda d: _deleting_rule(d).update(
        cadence={"rrule": "FREQ=DAILY;UNTIL=20010101T000000"}
    ),
    "deadline of 9999 years": lambda d: _deleting_rule(d)["window"].update(deadline="9999 years"),
    "deadline of 9999 months": lambda d: _deleting_rule(d)["window"].update(deadline="9999 months"),
    "not_before of 9999 years": lambda d: _deleting_rule(d)["window"].update(not_before="9999 years"),
    "controller is a path": lambda d: d.update(controller="../calmo"),
    "controller of 4000 characters": lambda d: d.update(controller="x" * 4000),
    "date_pattern without a date group": lambda d: d["systems"]["invoices"]["options"].update(
        date_pattern=r"^(\d{4}-\d{2}-\d{2})_faktura_(?P<subject>\d+)\.pdf$"
    ),
    "date_pattern that backtracks catastrophically": lambda d: d["systems"]["invoices"]["options"].update(
        date_pattern=r"^(?P<date>(a+)+)$"
    ),
    "date_pattern that is no regex": lambda d: d["systems"]["invoices"]["options"].update(date_pattern="(?P<date>"),
}
HOSTILE_CONTROLLER = "calmo"

TEXTUAL: dict[str, Callable[[bytes], bytes]] = {
    "truncated at a third": lambda b: b[: len(b) // 3],
    "empty file": lambda b: b"",
    "a list, not a mapping": lambda b: b"- controller\n- rules\n",
    "tab indentation": lambda b: b.replace(b"\n  ", b"\n\t", 1),
    "not UTF-8": lambda b: b.replace(b"e", b"\xe9\xff", 3),
    "unclosed quote": lambda b: b + b'\nextra: "never closed\n',
    "lists nested 20,000 deep": lambda b: b"rules: " + b"[" * 20_000 + b"]" * 20_000 + b"\n",
    "mappings nested 20,000 deep": lambda b: b"systems: " + b"{a: " * 20_000 + b"1" + b"}" * 20_000 + b"\n",
}


def policy_cases() -> Iterator[tuple[str, str, Callable[[Path], None]]]:
    """(case, controller, how to break its policy file) for every mutation of every controller's policy."""
    for controller in CONTROLLERS:
        for name, mutate in STRUCTURAL.items():
            yield f"policy {controller}: {name}", controller, _structural(mutate)
        for name, change in TEXTUAL.items():
            yield f"policy {controller}: {name}", controller, _textual(change)
    for name, mutate in HOSTILE.items():
        yield f"policy {HOSTILE_CONTROLLER}: {name}", HOSTILE_CONTROLLER, _structural(mutate)


def _structural(mutate: Mutation) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        mutate(document)
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")

    return apply


def _textual(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        path.write_bytes(change(path.read_bytes()))

    return apply


def run_policy_corpus(scratch: Path) -> list[Verdict]:
    """Each broken policy, read by `hygiene policies show`, in a workspace of its own."""
    verdicts = []
    for index, (case, controller, breaks) in enumerate(policy_cases()):
        with workspace(scratch / f"policy-{index}") as root:
            breaks(root / "policies" / f"{controller}.yaml")
            verdicts.append(judge_cli(case, ["policies", "show", controller], root))
    return verdicts


# ---- command lines: tests/corpus/cli.txt ---------------------------------------------------------------------


def cli_cases() -> Iterator[tuple[str, list[str]]]:
    """Each non-comment line of the corpus file, `{controller}` expanded to every controller and `{long}` to a
    4000-character name (the case is named by the line as written)."""
    for line in (CORPUS / "cli.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        for controller in CONTROLLERS if "{controller}" in line else ("",):
            text = line.replace("{controller}", controller)
            yield f"cli: {text}", shlex.split(text.replace("{long}", _LONG_NAME))


#: a name no file system takes, for `{long}` in the corpus
_LONG_NAME = "calmo" * 800


def run_cli_corpus(scratch: Path) -> list[Verdict]:
    with workspace(scratch / "cli") as root:
        return [judge_cli(case, args, root) for case, args in cli_cases()]


# ---- Webnode exports: truncated, mis-encoded, wrong headers, impossible dates ------------------------------

_NOW = datetime.fromisoformat("2026-11-23T09:00:00+01:00")


def export_cases(directory: Path) -> Iterator[tuple[str, Path]]:
    """Broken variants of a seeded export, each written once to `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    submissions = webnode_submissions(seed=3, now=_NOW, count=12)
    good_csv, good_xlsx = directory / "good.csv", directory / "good.xlsx"
    write_webnode_export(good_csv, submissions, ExportFormat.CSV_SEMICOLON_BOM)
    write_webnode_export(good_xlsx, submissions, ExportFormat.XLSX)
    text, workbook = good_csv.read_bytes(), good_xlsx.read_bytes()
    header, _, body = text.partition(b"\n")
    variants: dict[str, bytes] = {
        "empty.csv": b"",
        "header-only-garbage.csv": b"\x00\x01\x02",
        "utf16.csv": text.decode("utf-8-sig").encode("utf-16"),
        "latin1-garbage.csv": bytes(range(128, 256)) * 4,
        "no-email-column.csv": header.replace(b"E-post", b"Adresse") + b"\n" + body,
        "no-date-column.csv": header.replace(b"Dato", b"Dag") + b"\n" + body,
        "impossible-date.csv": _first_date(text, b"31.02.2026 10:00"),
        "month-13.csv": _first_date(text, b"01.13.2026 10:00"),
        "word-date.csv": _first_date(text, b"yesterday"),
        "xlsx-renamed-csv.xlsx": text,
        "zip-garbage.xlsx": b"PK\x03\x04" + bytes(200),
    }
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
        variants[f"xlsx-truncated-{int(fraction * 100)}.xlsx"] = workbook[: int(len(workbook) * fraction)]
    for name, content in variants.items():
        path = directory / name
        path.write_bytes(content)
        yield f"export {name}", path


def _first_date(text: bytes, replacement: bytes) -> bytes:
    header, _, rest = text.partition(b"\n")
    _, _, tail = rest.partition(b";")
    return header + b"\n" + replacement + b";" + tail


def judge_parser(case: str, read: Callable[[], object], path: Path) -> Verdict:
    """A parser must raise a HygieneError with a one-line message and leave its file as it was."""
    before = path.read_bytes()
    try:
        read()
    except HygieneError as error:
        one_line = len(str(error).splitlines()) == 1
        unchanged = path.read_bytes() == before
        return Verdict(case, one_line and unchanged, "" if one_line and unchanged else f"{error}"[:200])
    except Exception as error:  # an escaped exception is what the corpus looks for
        return Verdict(case, False, f"{type(error).__name__}: {error}"[:200])
    return Verdict(case, False, "accepted")


def judge_export(case: str, path: Path) -> Verdict:
    return judge_parser(case, lambda: list(read_export(path)), path)


def run_export_corpus(scratch: Path) -> list[Verdict]:
    return [judge_export(case, path) for case, path in export_cases(scratch / "exports")]


# ---- vendor pages: an emulator answers a rule's first read with something malformed -----------------------


@dataclass(frozen=True)
class PageCall:
    """A call whose answer the corpus replaces, and a well-formed answer to break."""

    vendor: str
    #: where the fault is staged: the part of the call's path that tells it apart
    path_contains: str
    #: the call as the connector's error names it
    call: str
    tenant: TenantFactory
    page: dict[str, Any]
    #: this call's own malformations of the page: a required field missing, a field of the wrong type
    broken: dict[str, Mutation]


Shape = Callable[[dict[str, Any]], tuple[bytes, str]]
_JSON = "application/json"
_HTML = b"<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Something went wrong</h1></body></html>"

#: what a proxy, a captive portal or a broken release answers in place of any page
SHAPES: dict[str, Shape] = {
    "truncated JSON": lambda page: (_encoded(page)[: len(_encoded(page)) // 2], _JSON),
    "HTML error page with status 200": lambda page: (_HTML, "text/html; charset=utf-8"),
    "a JSON array instead of an object": lambda page: (_encoded([page]), _JSON),
    "an empty body": lambda page: (b"", _JSON),
    "the page with Content-Type text/plain": lambda page: (_encoded(page), "text/plain; charset=utf-8"),
}

PAGE_CALLS: tuple[PageCall, ...] = (
    PageCall(
        "mailchimp",
        "/members",
        "reading members",
        clienti,
        {
            "members": [
                {
                    "id": "5d41402abc4b2a76b9719d911017c592",
                    "email_address": "corpus.member@example.com",
                    "status": "unsubscribed",
                    "last_changed": "2026-02-20T10:00:00+00:00",
                }
            ],
            "total_items": 1,
        },
        {
            "no members": lambda page: page.pop("members"),
            "last_changed not a date": lambda page: page["members"][0].update(last_changed="last Tuesday"),
            "total_items a string": lambda page: page.update(total_items="one"),
        },
    ),
    PageCall(
        "hubspot",
        "/search",
        "searching contacts",
        clienti,
        {
            "total": 1,
            "results": [
                {
                    "id": "901",
                    "properties": {"email": "corpus.contact@example.com", "hs_object_id": "901"},
                    "createdAt": "2025-06-01T08:00:00Z",
                    "updatedAt": "2026-02-20T10:00:00Z",
                    "archived": False,
                }
            ],
        },
        {
            "no results": lambda page: page.pop("results"),
            "createdAt not a date": lambda page: page["results"][0].update(createdAt="last Tuesday"),
            "total a string": lambda page: page.update(total="one"),
            "properties a list": lambda page: page["results"][0].update(properties=["email"]),
        },
    ),
    PageCall(
        "gmail",
        "/labels",
        "labels.list",
        stressfri,
        {"labels": [{"id": "INBOX", "name": "INBOX", "type": "system"}, {"id": "Label_9", "name": "Kunder/Korpus"}]},
        {
            "no labels": lambda page: page.pop("labels"),
            "a label without a name": lambda page: page["labels"][1].pop("name"),
        },
    ),
    PageCall(
        "gmail",
        "/messages",
        "messages.list",
        stressfri,
        {"messages": [{"id": "18c0000000000abc", "threadId": "18c0000000000abc"}], "resultSizeEstimate": 1},
        {
            "messages not a list": lambda page: page.update(messages={"id": "18c0000000000abc"}),
            "a message id not a string": lambda page: page["messages"][0].update(id=1),
            "nextPageToken not a string": lambda page: page.update(nextPageToken=2),
        },
    ),
)

_SEED = 3
#: the call is answered so every time: however often a connector retried, it would meet the broken page
_EVERY_TIME = 1000
_DELETION_EVIDENCE = (EntryKind.INTENT, EntryKind.OUTCOME)


def _encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


def _broken(mutate: Mutation) -> Shape:
    def answer(page: dict[str, Any]) -> tuple[bytes, str]:
        copy = json.loads(_encoded(page))
        mutate(copy)
        return _encoded(copy), _JSON

    return answer


def vendor_cases() -> Iterator[tuple[str, PageCall, Fault]]:
    """(case, call, the fault answering it) for every shape of every call's page."""
    for call in PAGE_CALLS:
        shapes = {**SHAPES, **{name: _broken(mutate) for name, mutate in call.broken.items()}}
        for shape, answer in shapes.items():
            body, content_type = answer(call.page)
            fault = Fault(remaining=_EVERY_TIME, path_contains=call.path_contains, body=body, content_type=content_type)
            yield f"vendor {call.vendor} {call.call}: {shape}", call, fault


def run_vendor_corpus(scratch: Path) -> list[Verdict]:
    """Each malformed page, on one seeded tenant per family (nothing is deleted, so the cases can share it)."""
    verdicts: list[Verdict] = []
    with workspace(scratch / "vendor"):
        for tenant_for in dict.fromkeys(call.tenant for call in PAGE_CALLS):
            with tenant_for(_SEED, scratch) as tenant:
                verdicts += [
                    judge_vendor(case, call, fault, tenant, scratch)
                    for case, call, fault in vendor_cases()
                    if call.tenant is tenant_for
                ]
    return verdicts


def judge_vendor(case: str, call: PageCall, fault: Fault, tenant: Tenant, scratch: Path) -> Verdict:
    """Run the tenant's rules with `call` answered by `fault`; the refusal must be one line naming the vendor
    and the call and no person, with the vendor's store as it was and no deletion in the ledger."""
    held = tenant.held()
    tenant.faults.stage(call.vendor, fault)
    try:
        with fresh_database("sqlite", scratch) as url:
            ledger = Ledger(url)
            error = _refusal(tenant, ledger)
            evidence = list(ledger.entries(kinds=_DELETION_EVIDENCE))
    finally:
        tenant.faults.clear()
    problems = [
        *_refusal_problems(error, call, tenant.needles),
        f"{call.vendor} changed" if tenant.held() != held else "",
        f"{len(evidence)} deletion entries written" if evidence else "",
    ]
    why = "; ".join(p for p in problems if p)
    return Verdict(case, not why, f"{why}: {error or ''}"[:300] if why else "")


def _refusal_problems(error: str | None, call: PageCall, needles: frozenset[str]) -> list[str]:
    if error is None:
        return ["accepted"]
    return [
        "not one line" if len(error.splitlines()) != 1 else "",
        "" if error.startswith(f"{call.vendor}: {call.call}") else f"does not name {call.vendor} and {call.call}",
        "names a person" if "@" in error or hits([error], needles) else "",
    ]


def _refusal(tenant: Tenant, ledger: Ledger) -> str | None:
    """The one-line refusal the run ended with, a traceback's first line, or None when the run went through."""
    try:
        tenant.run(ledger)
    except HygieneError as error:
        return str(error)
    except Exception as error:  # an escaped exception is what the corpus looks for
        return f"Traceback: {type(error).__module__}.{type(error).__name__}"
    return None
