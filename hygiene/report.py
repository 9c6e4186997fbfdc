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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hygiene.errors import HygieneError
from hygiene.ledger import ChainReport, Entry, EntryKind, Ledger
from hygiene.policy import Finding, Policy
from hygiene.pseudonym import is_pseudonym, mask
from hygiene.requests import answer_period
from hygiene.runs import RunRecord, runs_from

#: the entry kinds the report reads; decisions and outcomes are summed up by each run's `run_finished`
REPORT_KINDS = frozenset(
    {
        EntryKind.RUN_STARTED,
        EntryKind.RUN_FINISHED,
        EntryKind.DECISION,
        EntryKind.INTENT,
        EntryKind.FINDING,
        EntryKind.ATTESTATION,
        EntryKind.HOLD,
        EntryKind.REQUEST,
    }
)
#: overdue records listed by masked pseudonym; the ledger has every one
OVERDUE_ROWS = 200
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
        return cls(int(match.group(1)), int(match.group(2)))

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


def write_report(policy: Policy, quarter: Quarter, ledger: Ledger, target: Path, generated_at: datetime) -> Path:
    """Write report.html and report.md of the quarter into `target`; returns the HTML file's absolute path."""
    document = build_report(
        policy, quarter, ledger.entries(controller=policy.controller, kinds=REPORT_KINDS), ledger.verify(), generated_at
    )
    target.mkdir(parents=True, exist_ok=True)
    (target / "report.md").write_text(render_markdown(document), encoding="utf-8")
    page = target / "report.html"
    page.write_text(render_html(document), encoding="utf-8")
    return page.resolve()


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
    """The report of one controller and quarter from its ledger entries (any order of kinds, chain order).

    Entries before the quarter are read too: a request answered in the quarter was received in an earlier one.
    """
    zone = policy.zone
    own = [e for e in entries if e.controller == policy.controller]
    within = [e for e in own if quarter.contains(e.created_at, zone)]
    runs = runs_from(within)
    by_kind = {kind: [e for e in within if e.kind is kind] for kind in REPORT_KINDS}
    requests = requests_in(policy, quarter, [e for e in own if e.kind is EntryKind.REQUEST])
    start, end = quarter.start(zone), quarter.end(zone)
    header = Section(
        "Scope",
        [
            f"Controller: {policy.name} ({policy.controller}, {policy.country.value}), time zone {policy.timezone}.",
            f"Period: {start:%Y-%m-%d} to {end:%Y-%m-%d} (exclusive), quarter {quarter}.",
            f"Privacy notice: policies/{policy.notice.file}, SHA-256 {policy.notice.sha256} (the text the rules "
            "quote; hygiene policies check proves it unchanged).",
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
            notice_findings_section(policy),
            totals_section(policy, runs, requests, by_kind[EntryKind.FINDING]),
            runs_section(runs, zone),
            overdue_section(by_kind[EntryKind.INTENT], zone),
            holds_section(by_kind[EntryKind.DECISION], by_kind[EntryKind.HOLD], zone),
            findings_section(by_kind[EntryKind.FINDING], zone),
            attestations_section(by_kind[EntryKind.ATTESTATION], zone),
            requests_section(requests, policy),
        ],
    )


def chain_section(chain: ChainReport) -> Section:
    if chain.ok:
        return Section(
            "Chain verification", [f"Hash chain intact: all {chain.count} ledger entries recomputed and linked."]
        )
    return Section("Chain verification", [f"Hash chain BROKEN at entry {chain.broken_at}: {chain.reason}."])


def rules_section(policy: Policy) -> Section:
    rows = [
        (
            rule.ref,
            rule.title,
            f"“{' '.join(rule.quote.text.split())}” ({rule.quote.section})",
            rule.action.value,
            "no period promised"
            if rule.finding is Finding.NO_PERIOD_PROMISED
            else window_text(rule.window.not_before, rule.window.deadline),
            rule.cadence.describe() if rule.cadence else "on demand",
        )
        for rule in policy.rules
    ]
    return Section(
        "Rules (the promises, quoted)", table=Table(("rule", "title", "quote", "action", "window", "cadence"), rows)
    )


def notice_findings_section(policy: Policy) -> Section:
    """What the notice leaves unsaid: systems it names without a period, each a rule that enforces nothing."""
    gaps = [rule for rule in policy.rules if rule.finding is Finding.NO_PERIOD_PROMISED]
    rows = [(rule.ref, ", ".join(rule.covers.systems), rule.covers.records) for rule in gaps]
    return Section(
        "Findings in the notice: no period promised",
        [f"{len(gaps)} place(s) the notice names hold personal data for no stated period; nothing is enforced there."]
        if gaps
        else ["Every place the notice names has a period or a rule."],
        Table(("rule", "systems", "records"), rows) if rows else None,
    )


def window_text(not_before: str | None, deadline: str | None) -> str:
    parts = [f"not before {not_before}" if not_before else "", f"deadline {deadline}" if deadline else ""]
    return ", ".join(p for p in parts if p) or "-"


def totals_section(
    policy: Policy, runs: Sequence[RunRecord], requests: Sequence[RequestTrail], findings: Sequence[Entry]
) -> Section:
    """Per rule: its real runs, and for the rule that promises the answer to rights requests, each request
    answered in the quarter counts as one run (with what its erasure deleted)."""
    _, answering = answer_period(policy)
    answered = [r for r in requests if r.closed is not None]
    flagged = Counter(e.rule_ref for e in findings)
    rows = []
    for rule in policy.rules:
        real = [r for r in runs if r.rule_ref == rule.ref and not r.dry_run]
        answers = answered if answering == f"rule {rule.ref}" else []
        rows.append(
            (
                rule.ref,
                str(len(real) + len(answers)),
                str(len(answers)),
                str(sum(r.number("deleted") for r in real) + sum(r.deleted for r in answers)),
                str(sum(r.counts.get("overdue", 0) for r in real)),
                str(sum(r.counts.get("held", 0) for r in real)),
                str(sum(r.number("failed") for r in real)),
                str(flagged.get(rule.ref, 0)),
            )
        )
    return Section(
        "Counts per rule (runs that were not dry runs; a request answered is a run of the rule that promises it)",
        table=Table(("rule", "runs", "requests answered", "deleted", "overdue", "held", "failed", "findings"), rows),
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


def overdue_section(intents: Sequence[Entry], zone: ZoneInfo) -> Section:
    overdue = [e for e in intents if e.payload.get("decision") == "overdue" and e.record]
    rows = [
        (
            e.rule_ref or "-",
            str(e.payload.get("system", "-")),
            masked(e.record),
            *lateness(e, zone),
            str(e.seq),
        )
        for e in overdue
    ]
    lines = [f"{len(overdue)} records were acted on after their deadline (a broken promise)."]
    if len(rows) > OVERDUE_ROWS:
        lines.append(f"The first {OVERDUE_ROWS} are listed; the ledger holds every one.")
    columns = ("rule", "system", "record", "deadline", "acted on", "days late", "entry")
    return Section("Overdue", lines, Table(columns, rows[:OVERDUE_ROWS]) if rows else None)


def lateness(intent: Entry, zone: ZoneInfo) -> tuple[str, str, str]:
    """The deadline the record missed, the day it was acted on, and how many days late that was."""
    acted = intent.created_at.astimezone(zone)
    text = intent.payload.get("deadline")
    if not isinstance(text, str):
        return "-", f"{acted:%Y-%m-%d}", "-"
    deadline = datetime.fromisoformat(text).astimezone(zone)
    return f"{deadline:%Y-%m-%d}", f"{acted:%Y-%m-%d}", str((acted.date() - deadline.date()).days)


def holds_section(decisions: Sequence[Entry], holds: Sequence[Entry], zone: ZoneInfo) -> Section:
    """Records the runs kept, by the kind of reason and the day; and the holds set or released. Never the
    reason's text: a person wrote it, and it stays in the ledger entry named here."""
    kept = Counter(
        (
            f"{e.created_at.astimezone(zone):%Y-%m-%d}",
            e.rule_ref or "-",
            str(e.payload.get("system", "-")),
            str(e.payload.get("reason", "-")),
        )
        for e in decisions
        if e.payload.get("decision") == "held"
    )
    rows = [(day, rule, system, reason, str(count), "-") for (day, rule, system, reason), count in kept.items()]
    rows += [
        (
            f"{e.created_at.astimezone(zone):%Y-%m-%d}",
            "-",
            "-",
            f"legal_hold {e.payload.get('hold_id', '-')} {e.payload.get('event', '-')}",
            "1",
            str(e.seq),
        )
        for e in holds
    ]
    lines = [
        f"Records kept by a hold or a legal duty at the runs: {sum(kept.values())}; "
        f"holds set or released: {len(holds)}.",
        "Listed by the kind of reason; the reason a person wrote stays in the ledger.",
    ]
    columns = ("date", "rule", "system", "reason kind", "records", "entry")
    return Section("Holds", lines, Table(columns, rows) if rows else None)


def findings_section(findings: Sequence[Entry], zone: ZoneInfo) -> Section:
    """What detection and the rights runs flagged for a person (e.g. a CPR number in CRM notes), per kind."""
    groups: dict[tuple[str, str, str, str], list[Entry]] = {}
    for e in findings:
        field_name = e.payload.get("field")
        key = (
            e.rule_ref or "-",
            str(e.payload.get("system", "-")),
            str(e.payload.get("finding", "-")),
            field_name if isinstance(field_name, str) else "-",
        )
        groups.setdefault(key, []).append(e)
    rows = [
        (
            rule,
            system,
            finding,
            field_name,
            str(len(found)),
            f"{found[0].created_at.astimezone(zone):%Y-%m-%d}",
            f"{found[0].seq}–{found[-1].seq}",
        )
        for (rule, system, finding, field_name), found in groups.items()
    ]
    return Section(
        "Findings (flagged for a person)",
        [f"{len(findings)} findings in this quarter."],
        Table(("rule", "system", "finding", "field", "count", "first", "entries"), rows) if rows else None,
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


@dataclass
class RequestTrail:
    """One rights request as its REQUEST entries tell it: kind, dates, the deadline in force and the outcome."""

    request: str
    kind: str
    subject: str | None
    received: date | None = None
    deadline: date | None = None
    extended: bool = False
    closed: date | None = None
    outcome: str | None = None
    deleted: int = 0
    seqs: list[int] = field(default_factory=list)

    def verdict(self, today: date) -> str:
        """On time, late, or still open (and whether it is already past its deadline)."""
        if self.deadline is None:
            return "-"
        if self.closed is None:
            return "open, past its deadline" if today > self.deadline else "open"
        return "on time" if self.closed <= self.deadline else f"late by {(self.closed - self.deadline).days} days"


def requests_in(policy: Policy, quarter: Quarter, entries: Sequence[Entry]) -> list[RequestTrail]:
    """The requests with an entry in the quarter, each from all its entries (it may have come in before)."""
    trails: dict[str, RequestTrail] = {}
    active: set[str] = set()
    for e in entries:
        request = str(e.payload.get("request") or e.run_id)
        trail = trails.setdefault(request, RequestTrail(request, str(e.payload.get("request_kind", "-")), e.subject))
        trail.seqs.append(e.seq)
        event = e.payload.get("event")
        if event == "opened":
            trail.received = _date(e.payload.get("received"))
        if event in ("opened", "extended"):
            trail.deadline = _date(e.payload.get("deadline"))
            trail.extended = event == "extended"
        if event == "closed":
            trail.closed = e.created_at.astimezone(policy.zone).date()
            trail.outcome = str(e.payload.get("outcome", "-"))
            totals = e.payload.get("totals")
            trail.deleted = int(totals.get("deleted", 0)) if isinstance(totals, dict) else 0
        if quarter.contains(e.created_at, policy.zone):
            active.add(request)
    return [trail for request, trail in trails.items() if request in active]


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def requests_section(requests: Sequence[RequestTrail], policy: Policy) -> Section:
    today = datetime.now(policy.zone).date()
    rows = [
        (
            r.request,
            r.kind,
            masked(r.subject),
            str(r.received or "-"),
            f"{r.deadline or '-'}{' (extended)' if r.extended else ''}",
            str(r.closed or "-"),
            r.outcome or "-",
            r.verdict(today),
            ", ".join(str(seq) for seq in r.seqs),
        )
        for r in requests
    ]
    columns = ("request", "kind", "subject", "received", "deadline", "answered", "outcome", "on time", "entries")
    return Section(
        "Requests and their deadlines",
        [] if rows else ["No requests recorded in this quarter."],
        Table(columns, rows) if rows else None,
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
