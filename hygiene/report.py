"""The evidence report an auditor reads: one controller, one quarter, from the ledger alone.

It answers the questions a supervisory authority asks in order: which promises (the rules, quoted), which runs
kept them and what each did, what was late (overdue), what was kept and why (holds), what people attested, which
requests came in and by when they were due, and whether the evidence is intact (the chain verification).

Nothing here names a person: subjects and records appear as masked pseudonyms, and free text people wrote (hold
reasons, notes) is left in the ledger. The report is built as neutral sections and rendered to Markdown and
HTML from the same sections, so the two never disagree.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hygiene.errors import HygieneError
from hygiene.ledger import ChainReport, Entry, EntryKind
from hygiene.periods import YEARS
from hygiene.policy import Policy
from hygiene.pseudonym import is_pseudonym, mask
from hygiene.runs import RunRecord, runs_from

#: the entry kinds the report reads; decisions and outcomes are summed up by each run's `run_finished`
REPORT_KINDS = frozenset(
    {
        EntryKind.RUN_STARTED,
        EntryKind.RUN_FINISHED,
        EntryKind.INTENT,
        EntryKind.ATTESTATION,
        EntryKind.HOLD,
        EntryKind.REQUEST,
    }
)
#: overdue records listed by masked pseudonym; the ledger has every one
OVERDUE_ROWS = 200
#: payload fields of a request entry shown to the auditor: kinds and dates, never free text
_REQUEST_FIELDS = ("type", "request_type", "received", "received_at", "deadline", "status", "answered_at")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


class BadQuarter(HygieneError):
    pass


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.fullmatch(text.strip().upper())
        if match is None:
            raise BadQuarter(f"'{text}' is not a quarter: write it as YYYYQn, e.g. 2026Q4")
        year = int(match.group(1))
        if not YEARS[0] <= year <= YEARS[1]:
            raise BadQuarter(f"'{text}' is outside the years {YEARS[0]}–{YEARS[1]} this tool works in")
        return cls(year, int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> Quarter:
        return cls(moment.year, (moment.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    def start(self, zone: ZoneInfo) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=zone)

    def end(self, zone: ZoneInfo) -> datetime:
        """The first moment after the quarter, in the controller's zone."""
        return (
            Quarter(self.year + 1, 1).start(zone)
            if self.number == 4
            else Quarter(self.year, self.number + 1).start(zone)
        )

    def contains(self, moment: datetime, zone: ZoneInfo) -> bool:
        return self.start(zone) <= moment < self.end(zone)


def report_dir(reports_root: Path, controller: str, quarter: Quarter) -> Path:
    """Where a controller's quarterly report is written by default, and where a run's page links to."""
    return reports_root / controller / str(quarter)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    table: Table | None = None


@dataclass(frozen=True)
class EvidenceReport:
    title: str
    sections: list[Section]


def build_report(
    policy: Policy, quarter: Quarter, entries: Iterable[Entry], chain: ChainReport, generated_at: datetime
) -> EvidenceReport:
    """The report of one controller and quarter from its ledger entries (any order of kinds, chain order)."""
    zone = policy.zone
    within = [e for e in entries if e.controller == policy.controller and quarter.contains(e.created_at, zone)]
    runs = runs_from(within)
    by_kind = {kind: [e for e in within if e.kind is kind] for kind in REPORT_KINDS}
    start, end = quarter.start(zone), quarter.end(zone)
    header = Section(
        "Scope",
        [
            f"Controller: {policy.name} ({policy.controller}, {policy.country.value}), time zone {policy.timezone}.",
            f"Period: {start:%Y-%m-%d} to {end:%Y-%m-%d} (exclusive), quarter {quarter}.",
            f"Privacy notice: {policy.notice.source}, SHA-256 {policy.notice.sha256}.",
            f"Generated {generated_at.astimezone(zone):%Y-%m-%d %H:%M %Z} from the evidence ledger only.",
            "People and records appear only as masked keyed pseudonyms; the controller's key links them to a person.",
        ],
    )
    return EvidenceReport(
        title=f"Evidence report: {policy.name}, {quarter}",
        sections=[
            header,
            chain_section(chain),
            rules_section(policy),
            totals_section(policy, runs),
            runs_section(runs, zone),
            overdue_section(by_kind[EntryKind.INTENT]),
            holds_section(runs, by_kind[EntryKind.HOLD], zone),
            attestations_section(by_kind[EntryKind.ATTESTATION], zone),
            requests_section(by_kind[EntryKind.REQUEST], zone),
        ],
    )


def chain_section(chain: ChainReport) -> Section:
    """The verification and, when it held, the head: what ties this report to the ledger it was made from."""
    if chain.ok:
        return Section(
            "Chain verification",
            [
                f"Hash chain intact (HMAC-SHA256 under the ledger key): all {chain.count} ledger entries "
                "recomputed and linked.",
                chain.head.line(),
            ],
        )
    return Section("Chain verification", [f"Hash chain BROKEN at entry {chain.broken_at}: {chain.reason}."])


def rules_section(policy: Policy) -> Section:
    rows = [
        (
            rule.ref,
            rule.title,
            f"“{' '.join(rule.quote.text.split())}” ({rule.quote.section})",
            rule.action.value,
            window_text(rule.window.not_before, rule.window.deadline),
            rule.cadence.describe() if rule.cadence else "on demand",
        )
        for rule in policy.rules
    ]
    return Section(
        "Rules (the promises, quoted)", table=Table(("rule", "title", "quote", "action", "window", "cadence"), rows)
    )


def window_text(not_before: str | None, deadline: str | None) -> str:
    parts = [f"not before {not_before}" if not_before else "", f"deadline {deadline}" if deadline else ""]
    return ", ".join(p for p in parts if p) or "-"


def totals_section(policy: Policy, runs: Sequence[RunRecord]) -> Section:
    rows = []
    for rule in policy.rules:
        real = [r for r in runs if r.rule_ref == rule.ref and not r.dry_run]
        rows.append(
            (
                rule.ref,
                str(len(real)),
                str(sum(r.number("deleted") for r in real)),
                str(sum(r.counts.get("overdue", 0) for r in real)),
                str(sum(r.counts.get("held", 0) for r in real)),
                str(sum(r.number("failed") for r in real)),
            )
        )
    return Section(
        "Counts per rule (runs that were not dry runs)",
        table=Table(("rule", "runs", "deleted", "overdue", "held", "failed"), rows),
    )


def runs_section(runs: Sequence[RunRecord], zone: ZoneInfo) -> Section:
    rows = [
        (
            run.rule_ref or "-",
            run.system or "-",
            f"{run.started_at.astimezone(zone):%Y-%m-%d %H:%M}",
            "yes" if run.dry_run else "no",
            run_result(run),
            " / ".join(str(run.counts.get(k, 0)) for k in ("keep", "due", "overdue", "held")),
            str(run.number("deleted")),
            f"{run.first_seq}–{run.last_seq}" if run.last_seq else f"{run.first_seq}–",
        )
        for run in runs
    ]
    columns = ("rule", "system", "started", "dry run", "result", "keep / due / overdue / held", "deleted", "entries")
    return Section(
        "Runs",
        [] if rows else ["No runs in this quarter."],
        Table(columns, rows) if rows else None,
    )


def run_result(run: RunRecord) -> str:
    if run.finished_at is None:
        return "unfinished (no run_finished entry)"
    stopped = run.outcome.get("stopped")
    return f"stopped: {stopped}" if isinstance(stopped, str) and stopped else "finished"


def overdue_section(intents: Sequence[Entry]) -> Section:
    overdue = [e for e in intents if e.payload.get("decision") == "overdue" and e.record]
    rows = [(e.rule_ref or "-", str(e.payload.get("system", "-")), masked(e.record), str(e.seq)) for e in overdue]
    lines = [f"{len(overdue)} records were acted on after their deadline (a broken promise)."]
    if len(rows) > OVERDUE_ROWS:
        lines.append(f"The first {OVERDUE_ROWS} are listed; the ledger holds every one.")
    return Section(
        "Overdue", lines, Table(("rule", "system", "record", "entry"), rows[:OVERDUE_ROWS]) if rows else None
    )


def holds_section(runs: Sequence[RunRecord], holds: Sequence[Entry], zone: ZoneInfo) -> Section:
    held = sum(r.counts.get("held", 0) for r in runs if not r.dry_run)
    rows = [
        (
            f"{e.created_at.astimezone(zone):%Y-%m-%d}",
            str(e.payload.get("hold_id", "-")),
            str(e.payload.get("event", "-")),
            masked(e.subject),
            masked(e.record),
            str(e.seq),
        )
        for e in holds
    ]
    lines = [
        f"Records kept by a hold or a legal duty at the runs: {held}.",
        "Hold reasons are free text a person wrote; they stay in the ledger entry named here.",
    ]
    return Section(
        "Holds", lines, Table(("date", "hold", "event", "subject", "record", "entry"), rows) if rows else None
    )


def attestations_section(attestations: Sequence[Entry], zone: ZoneInfo) -> Section:
    rows = [
        (
            f"{e.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
            e.rule_ref or "-",
            str(e.payload.get("question") or e.payload.get("item") or "-"),
            answer_text(e.payload),
            str(e.payload.get("role", "-")),
            masked(e.record),
            str(e.seq),
        )
        for e in attestations
    ]
    return Section(
        "Attestations",
        [] if rows else ["No attestations in this quarter."],
        Table(("date", "rule", "item", "answer", "role", "record", "entry"), rows) if rows else None,
    )


def answer_text(payload: dict[str, object]) -> str:
    for key in ("done", "approved"):
        if isinstance(payload.get(key), bool):
            return f"{key}: {'yes' if payload[key] else 'no'}"
    return "-"


def requests_section(requests: Sequence[Entry], zone: ZoneInfo) -> Section:
    rows = [
        (
            f"{e.created_at.astimezone(zone):%Y-%m-%d}",
            masked(e.subject),
            "; ".join(f"{k} {e.payload[k]}" for k in _REQUEST_FIELDS if k in e.payload) or "-",
            str(e.seq),
        )
        for e in requests
    ]
    return Section(
        "Requests and their deadlines",
        [] if rows else ["No requests recorded in this quarter."],
        Table(("date", "subject", "details", "entry"), rows) if rows else None,
    )


def masked(reference: str | None) -> str:
    return mask(reference) if reference and is_pseudonym(reference) else "-"


def render_markdown(report: EvidenceReport) -> str:
    out = [f"# {report.title}"]
    for section in report.sections:
        out += ["", f"## {section.title}"]
        for line in section.lines:
            out += ["", line]
        if section.table is not None:
            out.append("")
            out.append("| " + " | ".join(section.table.columns) + " |")
            out.append("|" + "---|" * len(section.table.columns))
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in section.table.rows]
    return "\n".join(out) + "\n"


def render_html(report: EvidenceReport) -> str:
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    for section in report.sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [f"<p>{html.escape(line)}</p>" for line in section.lines]
        if section.table is not None:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in section.table.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                for row in section.table.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return _HTML_PAGE.format(title=html.escape(report.title), body="\n".join(body))


_HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 80rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #bbb; padding: .3rem .5rem; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; }}
</style></head>
<body>
{body}
</body></html>
"""
