"""Deployments from policies: one per controller and scheduled rule, its schedule in the controller's zone.

The rule's action says which flow keeps it; actions a person starts (answering a request, verifying an identity,
notifying a breach) or that enforce nothing get no schedule. What is generated here is plain data, so the same
list feeds `serve(...)` in one process (`hygiene deploy`) and the `prefect.yaml` that work pools and workers
deploy from (`hygiene deploy --write prefect.yaml`); regenerating from unchanged policies gives the same bytes.

A compound cadence (`latest_of`, Stressfri S2) is deployed as its fixed calendar part; its interval part is
checked when the scheduled run starts (`hygiene.runs.interval_not_reached`). Only the enforce-rule flow makes
that check, so a compound cadence on another action is refused here rather than silently run too often.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hygiene.cadence import Cadence, CronCadence, LatestOfCadence, RRuleCadence
from hygiene.errors import HygieneError
from hygiene.policies import load_all
from hygiene.policy import Action, Policy, Rule

#: the flow that keeps each scheduled action, as a Prefect entrypoint (file path relative to the project root)
FLOW_FOR_ACTION: dict[Action, str] = {
    Action.DELETE: "flows/enforce.py:enforce_rule",
    Action.ATTEST: "flows/attest.py:attest",
    Action.FLAG_FOR_REVIEW: "flows/review.py:review_rule",
    Action.DETECT_AND_FLAG: "flows/detect.py:detect_rule",
}
#: the flows that check a compound cadence's interval part when a scheduled run starts
CHECKS_INTERVAL = frozenset({Action.DELETE})
WORK_POOL = "hygiene"
#: two runs of one rule at once would race on the same records: the second waits for the first
RUNS_AT_ONCE = 1
COLLISION_STRATEGY = "ENQUEUE"
#: RRules are phased from the anchor `hygiene.cadence` uses, so Prefect picks the same months
_RRULE_DTSTART = "DTSTART:20000101T000000"


class DeploymentError(HygieneError):
    """A rule cannot be deployed as written."""


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: which flow, for which controller and rule, on which schedule."""

    name: str
    entrypoint: str
    controller: str
    rule_ref: str
    schedule: dict[str, str]
    description: str
    tags: tuple[str, ...]

    @property
    def parameters(self) -> dict[str, str]:
        """Names only: Prefect stores parameters, and they must never carry personal data."""
        return {"controller": self.controller, "rule_ref": self.rule_ref}


#: the flow of a rule's daily label scan (`label_scan`, Stressfri S8)
LABEL_SCAN_FLOW = "flows/stamp.py:scan_labels"


def deployment_specs(policies: list[Policy]) -> list[DeploymentSpec]:
    """Every scheduled rule whose action a flow keeps, then its label scan if it has one, in file and rule order."""
    return [
        spec
        for policy in policies
        for rule in policy.rules
        if deployable(rule)
        for spec in (spec_for(policy, rule), *label_scan_specs(policy, rule))
    ]


def label_scan_specs(policy: Policy, rule: Rule) -> list[DeploymentSpec]:
    """A label rule's daily scan that dates when mail first carries the label (flows/stamp.py)."""
    if rule.label_scan is None:
        return []
    return [
        DeploymentSpec(
            name=f"{policy.controller}-{rule.ref.lower()}-label-scan",
            entrypoint=LABEL_SCAN_FLOW,
            controller=policy.controller,
            rule_ref=rule.ref,
            schedule=schedule_for(rule.label_scan, policy.timezone),
            description=f"{policy.name} {rule.ref}: date when mail is first labelled ({rule.label_scan.describe()}, "
            f"{policy.timezone})",
            tags=(policy.controller, "label_scan"),
        )
    ]


def deployable(rule: Rule) -> bool:
    return rule.cadence is not None and rule.action in FLOW_FOR_ACTION


def spec_for(policy: Policy, rule: Rule) -> DeploymentSpec:
    assert rule.cadence is not None
    if isinstance(rule.cadence, LatestOfCadence) and rule.action not in CHECKS_INTERVAL:
        raise DeploymentError(
            f"{policy.controller}: rule {rule.ref}: a 'latest_of' cadence needs its interval checked at run time, "
            f"which the '{rule.action.value}' flow does not do: use a cron or rrule cadence"
        )
    return DeploymentSpec(
        name=f"{policy.controller}-{rule.ref.lower()}-{rule.id}",
        entrypoint=FLOW_FOR_ACTION[rule.action],
        controller=policy.controller,
        rule_ref=rule.ref,
        schedule=schedule_for(rule.cadence, policy.timezone),
        description=f"{policy.name} {rule.ref}: {rule.title} ({rule.cadence.describe()}, {policy.timezone})",
        tags=(policy.controller, rule.action.value),
    )


def schedule_for(cadence: Cadence, timezone: str) -> dict[str, str]:
    """The Prefect schedule of a cadence, as `prefect.yaml` spells it."""
    fixed = cadence.fixed if isinstance(cadence, LatestOfCadence) else cadence
    if isinstance(fixed, CronCadence):
        return {"cron": fixed.cron, "timezone": timezone}
    assert isinstance(fixed, RRuleCadence)
    rule = fixed.rrule if fixed.rrule.startswith("RRULE:") else f"RRULE:{fixed.rrule}"
    return {"rrule": f"{_RRULE_DTSTART}\n{rule}", "timezone": timezone}


def specs_from(directory: Path) -> list[DeploymentSpec]:
    """Load every policy (refusing one whose cadence cannot keep its deadline) and derive the deployments."""
    return deployment_specs(load_all(directory))


def prefect_yaml(specs: list[DeploymentSpec]) -> str:
    """`prefect.yaml` for `prefect deploy --all`: each deployment on the process work pool `hygiene`."""
    document: dict[str, Any] = {
        "name": "hygiene",
        "build": None,
        "push": None,
        "deployments": [
            {
                "name": spec.name,
                "entrypoint": spec.entrypoint,
                "description": spec.description,
                "tags": list(spec.tags),
                "parameters": spec.parameters,
                "work_pool": {"name": WORK_POOL},
                "concurrency_limit": {"limit": RUNS_AT_ONCE, "collision_strategy": COLLISION_STRATEGY},
                "schedules": [dict(spec.schedule)],
            }
            for spec in specs
        ],
    }
    header = "# Generated from policies/ by `hygiene deploy --write prefect.yaml`: edit the policies, not this file.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
