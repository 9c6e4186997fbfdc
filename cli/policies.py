"""`hygiene policies ...`, `hygiene deadline` and `hygiene schedule`: the promises, their windows and runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from cli.output import JsonOption, console, emit_json, fail, one_line, user_errors
from hygiene.cadence import next_runs
from hygiene.legal import answer_deadline
from hygiene.locations import policies_dir
from hygiene.periods import parse_date, parse_datetime
from hygiene.policies import check_directory, find_rule, load_policy
from hygiene.policy import Policy, Rule
from hygiene.requests import answer_period, extended_period
from hygiene.windows import window_for

policies_app = typer.Typer(help="Validate and read the controllers' policies.", no_args_is_help=True)


@policies_app.command("check")
@user_errors
def check(json: bool = JsonOption) -> None:
    """Validate every policy: schema, quotes against the notice, cadences against deadlines."""
    directory = policies_dir()
    loaded, problems = check_directory(directory)
    if json:
        emit_json(
            {
                "ok": not problems,
                "policies": [{"controller": p.controller, "rules": len(p.rules)} for p in loaded],
                "rules": sum(len(p.rules) for p in loaded),
                "problems": [str(p) for p in problems],
            }
        )
    else:
        for policy in loaded:
            console.print(f"[green]ok[/green] {policy.controller}: {len(policy.rules)} rules")
    if problems:
        for problem in problems:
            fail(str(problem))
        raise typer.Exit(code=1)


def rule_summary(policy: Policy, rule: Rule) -> dict[str, Any]:
    return {
        "ref": rule.ref,
        "id": rule.id,
        "title": rule.title,
        "quote": rule.quote.text,
        "section": rule.quote.section,
        "systems": list(rule.covers.systems),
        "records": rule.covers.records,
        "trigger": None if rule.trigger is None else rule.trigger.model_dump(mode="json"),
        "not_before": rule.window.not_before,
        "deadline": rule.window.deadline,
        "cadence": None if rule.cadence is None else rule.cadence.describe(),
        "timezone": policy.timezone,
        "action": rule.action.value,
        "exemptions": [e.value for e in rule.exemptions],
        "reading": rule.reading,
        "reason": rule.reason,
        "finding": None if rule.finding is None else rule.finding.value,
    }


@policies_app.command("show")
@user_errors
def show(controller: str, json: bool = JsonOption) -> None:
    """The rules of one controller, each with its quote, window, cadence and action."""
    policy = load_policy(policies_dir(), controller)
    rules = [rule_summary(policy, rule) for rule in policy.rules]
    if json:
        emit_json(
            {
                "controller": policy.controller,
                "name": policy.name,
                "country": policy.country.value,
                "timezone": policy.timezone,
                "rules": rules,
            }
        )
        return
    # the title wraps; the quote and the cadence keep to one line each (the full text is in --json), so the
    # table fits an 80-column terminal at a few lines per rule
    table = Table(title=f"{policy.name} ({policy.country.value}, {policy.timezone})", show_lines=True)
    table.add_column("ref", no_wrap=True)
    table.add_column("promise (quote)", ratio=3)
    table.add_column("action, window, cadence", ratio=2)
    for rule, summary in zip(policy.rules, rules, strict=True):
        bounds = (("not before", rule.window.not_before), ("deadline", rule.window.deadline))
        table.add_row(
            rule.ref,
            Group(Text(rule.title), one_line(f"“{rule.quote.text}”", style="dim")),
            Group(
                Text(rule.action.value, style="bold"),
                *(Text(f"{name} {value}") for name, value in bounds if value),
                one_line(summary["cadence"] or "on demand"),
            ),
        )
    console.print(table)


@policies_app.command("window")
@user_errors
def window(
    controller: str,
    ref: str,
    trigger: str = typer.Option(..., help="ISO 8601 datetime with offset"),
    json: bool = JsonOption,
) -> None:
    """The window a rule gives a record whose clock started at TRIGGER."""
    policy = load_policy(policies_dir(), controller)
    rule = find_rule(policy, ref)
    moment = parse_datetime(trigger, "--trigger")
    computed = window_for(policy, rule, moment)
    document = {
        "controller": policy.controller,
        "ref": rule.ref,
        "trigger": computed.trigger,
        "not_before": computed.not_before,
        "deadline": computed.deadline,
        "timezone": policy.timezone,
    }
    if json:
        emit_json(document)
    else:
        for key in ("ref", "trigger", "not_before", "deadline"):
            value = document[key]
            console.print(f"{key:>10}: {value.isoformat() if isinstance(value, datetime) else value or '-'}")


def deadline(
    controller: str,
    received: str = typer.Option(..., help="ISO date the request was received"),
    extended: bool = typer.Option(False, "--extended", help="Also the deadline extended by two months."),
    json: bool = JsonOption,
) -> None:
    """The last day to answer a rights request received on RECEIVED."""
    policy = load_policy(policies_dir(), controller)
    day = parse_date(received, "--received")
    period, source = answer_period(policy)
    document: dict[str, Any] = {
        "controller": policy.controller,
        "received": day,
        "period": str(period),
        "source": source,
        "deadline": answer_deadline(day, period, policy.country),
    }
    if extended:
        document["extended_deadline"] = answer_deadline(day, extended_period(period), policy.country)
    if json:
        emit_json(document)
    else:
        console.print(f"deadline: {document['deadline'].isoformat()} ({period}, {source}, working day)")
        if extended:
            console.print(f"extended: {document['extended_deadline'].isoformat()}")


def schedule(
    controller: str = typer.Option(..., "--controller"),
    after: str = typer.Option(..., help="ISO 8601 datetime with offset"),
    count: int = typer.Option(3, min=1, max=1000),
    json: bool = JsonOption,
) -> None:
    """The next COUNT runs of each scheduled rule of a controller, in its time zone."""
    policy = load_policy(policies_dir(), controller)
    start = parse_datetime(after, "--after")
    runs = [(rule, next_runs(rule.cadence, start, count, policy.zone) if rule.cadence else []) for rule in policy.rules]
    if json:
        emit_json(
            [
                {
                    "ref": rule.ref,
                    "id": rule.id,
                    "cadence": rule.cadence.describe() if rule.cadence else None,
                    "runs": times,
                    "finding": None if rule.finding is None else rule.finding.value,
                }
                for rule, times in runs
            ]
        )
        return
    table = Table(title=f"next runs, {policy.controller} ({policy.timezone})")
    for column in ("ref", "cadence", "runs"):
        table.add_column(column)
    for rule, times in runs:
        table.add_row(
            rule.ref,
            one_line(_cadence_text(rule)),
            "\n".join(t.isoformat() for t in times) or "-",
        )
    console.print(table)


def _cadence_text(rule: Rule) -> str:
    if rule.finding is not None:
        return f"none: {rule.finding.value.replace('_', ' ')} in the notice"
    return rule.cadence.describe() if rule.cadence else "on demand (no cadence)"


deadline_command = user_errors(deadline)
schedule_command = user_errors(schedule)
