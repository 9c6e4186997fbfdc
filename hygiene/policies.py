"""Loading `policies/*.yaml`: validation, the notice drift check and the cadence-can-keep-the-deadline check.

Every problem becomes one line that names the file, the rule and the field, e.g.
`policies/clienti.yaml: rule C1: cadence: a weekly run cannot keep a 5-day deadline (worst-case delay 7 days)`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hygiene.cadence import describe_delta, iterate_runs
from hygiene.errors import HygieneError
from hygiene.patterns import UnsafePattern, date_pattern
from hygiene.periods import end_of_day
from hygiene.policy import Action, Policy, Rule, SystemKind
from hygiene.roots import root_problem
from hygiene.windows import window_for

#: where the shortest window is looked for: every trigger day of one leap-year cycle
_WINDOW_SAMPLE_START = date(2024, 1, 1)
_WINDOW_SAMPLE_DAYS = 4 * 366
#: a policy file is a few pages of text; anything larger is not read
MAX_POLICY_BYTES = 1024 * 1024
#: a policy nests five or six levels; deeper YAML is refused before it can exhaust the recursion limit
MAX_NESTING = 32
#: ellipsis between quoted fragments: each fragment must appear in the notice, in order
ELLIPSIS = " … "


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    rule: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.rule:
            where.append(f"rule {self.rule}")
        if self.field:
            where.append(self.field)
        return ": ".join([*where, self.message])


class PolicyError(HygieneError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnknownController(HygieneError):
    pass


class UnknownRule(HygieneError):
    pass


class WrongAction(HygieneError):
    """A rule handed to a flow that does not keep its kind of promise (e.g. a review rule to enforce-rule)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases, and with a bound on nesting.

    An alias repeats a node, and aliases of aliases grow exponentially: ten lines in `exemptions` held
    validation for minutes. A policy never needs them, so the first anchor or alias is refused. Composing is
    recursive, so YAML nested thousands deep ended in a RecursionError; past MAX_NESTING levels it is refused.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (& and *) are not accepted in a policy", event.start_mark
            )
        if self._depth >= MAX_NESTING:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_NESTING} levels", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def policy_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def controllers(directory: Path) -> list[str]:
    return [path.stem for path in policy_files(directory)]


def load_policy(directory: Path, controller: str) -> Policy:
    path = directory / f"{controller}.yaml"
    if not path.is_file():
        known = ", ".join(controllers(directory)) or "none"
        raise UnknownController(f"unknown controller '{controller}': known are {known} (in {directory})")
    policy, problems = check_policy_file(path)
    if problems or policy is None:
        raise PolicyError(problems)
    return policy


def load_all(directory: Path) -> list[Policy]:
    return [load_policy(directory, name) for name in controllers(directory)]


def find_rule(policy: Policy, ref: str) -> Rule:
    rule = policy.rule(ref)
    if rule is None:
        known = ", ".join(r.ref for r in policy.rules)
        raise UnknownRule(f"{policy.controller}: unknown rule '{ref}': known are {known}")
    return rule


def rule_for_flow(
    directory: Path, controller: str, ref: str, actions: Collection[Action], flow: str
) -> tuple[Policy, Rule]:
    """The policy and rule a flow was started for, refused in one line when the flow does not keep that action."""
    policy = load_policy(directory, controller)
    rule = find_rule(policy, ref)
    if rule.action not in actions:
        raise WrongAction(
            f"{controller}: rule {rule.ref} is '{rule.action.value}', which the {flow} flow does not keep"
        )
    return policy, rule


def check_policy_file(path: Path) -> tuple[Policy | None, list[Problem]]:
    """Validate one file fully; return every problem found, not just the first."""
    label = _label(path)
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            return None, [Problem(label, None, None, f"larger than {MAX_POLICY_BYTES // 1024} KiB; not read")]
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_BoundedLoader)
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(label, None, None, f"cannot be read ({exc.__class__.__name__})")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        return None, [Problem(label, None, None, f"{line}not valid YAML ({getattr(exc, 'problem', exc)})")]
    if not isinstance(raw, dict):
        return None, [Problem(label, None, None, "must be a mapping with controller, notice, systems and rules")]
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        return None, _problems_from_errors(label, raw, exc.errors())
    if policy.controller != path.stem:
        return None, [Problem(label, None, "controller", f"'{policy.controller}' does not match the file name")]
    problems = list(_notice_problems(label, path.parent, policy))
    problems += list(_cadence_problems(label, policy))
    problems += list(_folder_problems(label, policy))
    problems += list(_coverage_problems(label, policy))
    problems += list(_review_problems(label, policy))
    return policy, problems


def check_directory(directory: Path) -> tuple[list[Policy], list[Problem]]:
    policies: list[Policy] = []
    problems: list[Problem] = []
    files = policy_files(directory)
    if not files:
        problems.append(Problem(_label(directory), None, None, "no policy files (*.yaml) found"))
    for path in files:
        policy, found = check_policy_file(path)
        problems += found
        if policy is not None and not found:
            policies.append(policy)
    return policies, problems


def normalise(text: str) -> str:
    return " ".join(text.split())


def quote_appears(quote: str, notice: str) -> bool:
    """True when every fragment of the quote stands in the notice, in order (whitespace folded)."""
    position = 0
    haystack = normalise(notice)
    for fragment in normalise(quote).split(normalise(ELLIPSIS)):
        found = haystack.find(fragment.strip(), position)
        if found < 0:
            return False
        position = found + len(fragment.strip())
    return True


def _notice_problems(label: str, directory: Path, policy: Policy) -> Iterator[Problem]:
    notice_path = directory / policy.notice.file
    try:
        data = notice_path.read_bytes()
    except OSError:
        yield Problem(label, None, "notice.file", f"'{policy.notice.file}' cannot be read")
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != policy.notice.sha256:
        yield Problem(
            label,
            None,
            "notice.sha256",
            f"the notice changed since the rules were written (sha256 {digest[:12]}…, policy says "
            f"{policy.notice.sha256[:12]}…): re-read it, fix the quotes, then update the digest",
        )
    text = data.decode("utf-8")
    for rule in policy.rules:
        if not quote_appears(rule.quote.text, text):
            yield Problem(label, rule.ref, "quote.text", f"the quote no longer appears in {policy.notice.file}")


def _coverage_problems(label: str, policy: Policy) -> Iterator[Problem]:
    """Every system the notice names is shown by some rule: where it promises no period, by a rule that says
    so (`finding: no_period_promised`), so a gap in the notice is never a silence in the schedule."""
    covered = {system for rule in policy.rules for system in rule.covers.systems}
    for system in policy.systems:
        if system not in covered:
            yield Problem(
                label,
                None,
                f"systems.{system}",
                "no rule covers it: add the rule the notice implies, or one with action none and "
                "finding no_period_promised",
            )


#: the options by which a hand-kept system names a register of its records, which a connector can read
_REGISTER_OPTIONS = ("register", "register_env")


def _review_problems(label: str, policy: Policy) -> Iterator[Problem]:
    """A scheduled review reads its records through a connector; of a system kept by hand with no register, the
    review is a person's checklist (Stressfri S5 with the accountant), so the rule must say attest."""
    for rule in policy.rules:
        if rule.action is not Action.FLAG_FOR_REVIEW or rule.cadence is None:
            continue
        unreadable = [
            system
            for system in rule.covers.systems
            if policy.systems[system].kind is SystemKind.MANUAL
            and not any(name in policy.systems[system].options for name in _REGISTER_OPTIONS)
        ]
        if unreadable:
            yield Problem(
                label,
                rule.ref,
                "action",
                f"'{unreadable[0]}' is kept by hand with no register, so a scheduled review of it cannot read "
                "anything: make it a checklist (action attest)",
            )


def _cadence_problems(label: str, policy: Policy) -> Iterator[Problem]:
    for rule in policy.rules:
        if rule.cadence is None or rule.window.deadline is None:
            continue
        missed = first_missed_deadline(policy, rule)
        if missed is not None:
            yield Problem(
                label,
                rule.ref,
                "cadence",
                f"{rule.cadence.describe()} cannot keep the deadline '{rule.window.deadline}': a record due "
                f"{missed.due:%Y-%m-%d %H:%M} waits until the run of {missed.run:%Y-%m-%d %H:%M}, past its "
                f"deadline {missed.deadline:%Y-%m-%d %H:%M} (delay {describe_delta(missed.run - missed.due)})",
            )


def _folder_problems(label: str, policy: Policy) -> Iterator[Problem]:
    """Folder systems: a date pattern that could stall a run, and a root named in the policy that is unsafe.

    A root from the environment (`root_env`) is checked by the run that uses it, on the machine it runs on.
    """
    for name, system in policy.systems.items():
        if system.kind is not SystemKind.FOLDER:
            continue
        if "date_pattern" in system.options:
            try:
                date_pattern(system.options["date_pattern"])
            except UnsafePattern as error:
                yield Problem(label, None, f"systems.{name}.options.date_pattern", str(error))
        if "root" in system.options:
            problem = root_problem(system.options["root"], controller=policy.controller, system=name)
            if problem is not None:
                yield Problem(label, None, f"systems.{name}.options.root", problem)


@dataclass(frozen=True, slots=True)
class MissedDeadline:
    due: datetime
    deadline: datetime
    run: datetime


def first_missed_deadline(policy: Policy, rule: Rule) -> MissedDeadline | None:
    """The first record, over every trigger day of four years, whose first run after it falls due is too late.

    Runs are taken as scheduled in steady state; a record due at `d` is acted on by the first run after `d`.
    """
    assert rule.cadence is not None
    windows = [
        window_for(policy, rule, end_of_day(_WINDOW_SAMPLE_START + timedelta(days=offset), policy.zone))
        for offset in range(_WINDOW_SAMPLE_DAYS)
    ]
    dues = [w.not_before or w.trigger for w in windows]
    runs = iterate_runs(rule.cadence, min(dues) - timedelta(days=400), policy.zone, last_run=None)
    run = next(runs)
    worst: MissedDeadline | None = None
    for due, window in sorted(zip(dues, windows, strict=True), key=lambda pair: pair[0]):
        while run <= due:
            run = next(runs)
        assert window.deadline is not None
        if run > window.deadline and (worst is None or run - due > worst.run - worst.due):
            worst = MissedDeadline(due=due, deadline=window.deadline, run=run)
    return worst


#: what a field with several accepted shapes should look like, for the one line a wrong shape gets
_FORMS = {
    "cadence": "write {cron: '0 6 * * *'}, {rrule: 'FREQ=MONTHLY;BYMONTHDAY=1'} or {latest_of: [...]}",
}


def _problems_from_errors(label: str, raw: dict[str, Any], errors: list[Any]) -> list[Problem]:
    """One problem per place: pydantic reports a value that fits no branch of a union once per branch."""
    problems: dict[tuple[str | None, str | None], Problem] = {}
    for error in errors:
        problem = _problem_from_error(label, raw, error)
        key = (problem.rule, problem.field)
        if key in problems:
            form = _FORMS.get((problem.field or "").rsplit(".", 1)[-1], "it fits none of the accepted forms")
            problem = Problem(label, problem.rule, problem.field, f"not valid: {form}")
        problems[key] = problem
    return list(problems.values())


def _problem_from_error(label: str, raw: dict[str, Any], error: Any) -> Problem:
    location = [str(part) for part in error["loc"]]
    rule_ref = None
    if len(location) >= 2 and location[0] == "rules" and location[1].isdigit():
        rules = raw.get("rules") or []
        index = int(location[1])
        entry = rules[index] if index < len(rules) else None
        rule_ref = str(entry.get("ref")) if isinstance(entry, dict) and entry.get("ref") else f"#{index + 1}"
        location = location[2:]
    # pydantic names the union branch it tried (e.g. 'CronCadence'): a user wrote none of those words
    field = ".".join(part for part in location if not part[:1].isupper() and "[" not in part) or None
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "enum":
        message = f"'{error.get('input')}' is not one of {error['ctx']['expected']}"
    return Problem(label, rule_ref, field, message)


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
