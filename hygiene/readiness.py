"""What a rule needs from the environment before a run of it can succeed, and what of that is missing.

A deployment whose run can only fail (no pseudonym key, no vendor token, a folder that is not there) should be
refused when it is served, in one line that names what to set, not found when its schedule fires. This is the
check: it reads the policy and a mapping of environment variables, and looks at the file system only through
the `exists` function it is given, so it is as pure as the policy (`hygiene serve` and `hygiene preflight` use it).

What a system needs follows its kind and its options, as `integrations.registry` reads them: an option ending
in `_env` names a variable that must be set (`password_env` only when the workbook is encrypted, so it is not
required), and `root_env` names a folder, `path_env`, `export_env` and `register_env` a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hygiene.policy import Policy, Rule, SystemKind
from hygiene.settings import ENV_PREFIX, controller_id, key_variable

#: the variables a vendor's connector reads its credentials from
VENDOR_CREDENTIALS = {
    SystemKind.MAILCHIMP: ("HYGIENE_MAILCHIMP_API_KEY", "the Mailchimp API key"),
    SystemKind.HUBSPOT: ("HYGIENE_HUBSPOT_TOKEN", "the HubSpot private app token"),
    SystemKind.GMAIL: ("HYGIENE_GMAIL_TOKEN", "the Gmail OAuth token"),
}
#: options naming a place on disk, and whether it is a folder (else a file)
_PLACES = {"root_env": True, "path_env": False, "export_env": False, "register_env": False}
#: options whose variable may be unset
_OPTIONAL = frozenset({"password_env"})


@dataclass(frozen=True)
class Need:
    """One thing a rule's run reads from the environment: a variable, and whether it names a folder or a file."""

    variable: str
    what: str
    folder: bool | None = None  # None: any value will do; True/False: it must name an existing folder / file


def needs(policy: Policy, rule: Rule) -> list[Need]:
    """Everything a run of `rule` reads from the environment: the controller's key, then per system covered."""
    found = [Need(key_variable(policy.controller), f"{policy.controller}'s pseudonym key")]
    for system in rule.covers.systems:
        found += _system_needs(policy, system, seen=set())
    unique: dict[str, Need] = {}
    for need in found:
        unique.setdefault(need.variable, need)
    return list(unique.values())


def _system_needs(policy: Policy, system: str, seen: set[str]) -> list[Need]:
    if system in seen or system not in policy.systems:
        return []
    seen.add(system)
    spec = policy.systems[system]
    found = []
    if spec.kind in VENDOR_CREDENTIALS:
        variable, what = VENDOR_CREDENTIALS[spec.kind]
        found.append(Need(variable, f"{what}, for system {system}"))
    for option, variable in spec.options.items():
        if option.endswith("_env") and option not in _OPTIONAL:
            what = f"system {system}: {option.removesuffix('_env').replace('_', ' ')}"
            found.append(Need(variable, what, _PLACES.get(option)))
    register = spec.options.get("register")
    if spec.kind is SystemKind.GMAIL and register:
        found += _system_needs(policy, register, seen)  # the customer register is another system of the policy
    return found


def missing(
    policy: Policy,
    rule: Rule,
    environ: Mapping[str, str],
    exists: Callable[[Path, bool], bool] = lambda path, folder: path.is_dir() if folder else path.is_file(),
) -> list[str]:
    """What is missing for `rule`, one short phrase each (empty: ready). Never prints a value."""
    problems = []
    for need in needs(policy, rule):
        value = environ.get(need.variable, "")
        if need.variable == key_variable(policy.controller) and _key_in_map(policy.controller, environ):
            continue
        if not value.strip():
            problems.append(f"{need.variable} ({need.what}) is not set")
        elif need.folder is not None and not exists(Path(value), need.folder):
            problems.append(f"{need.variable} ({need.what}) names no {'folder' if need.folder else 'file'}")
    return problems


def _key_in_map(controller: str, environ: Mapping[str, str]) -> bool:
    """Whether HYGIENE_CONTROLLER_KEYS (a JSON map) holds a non-empty key for the controller."""
    try:
        keys = json.loads(environ.get(f"{ENV_PREFIX}CONTROLLER_KEYS", "") or "{}")
    except json.JSONDecodeError:
        return False
    if not isinstance(keys, dict):
        return False
    return any(controller_id(str(name)) == controller_id(controller) and value for name, value in keys.items())
