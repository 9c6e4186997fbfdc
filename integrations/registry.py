"""Which connector serves which system of a policy, built from the system's options and the environment.

Policies hold no secrets and no machine paths: an option ending in `_env` names the environment variable that
holds the value on this machine (a folder's root, a password), so one policy serves every installation.
"""

from __future__ import annotations

import os
from pathlib import Path

from hygiene.connector import Connector, ConnectorError
from hygiene.policy import Policy, SystemKind
from integrations.folder import DateSource, FolderConnector


def option(policy: Policy, system: str, name: str, default: str | None = None) -> str | None:
    """A system option, read through `<name>_env` from the environment when the policy says so."""
    options = policy.systems[system].options
    if f"{name}_env" in options:
        variable = options[f"{name}_env"]
        value = os.environ.get(variable)
        if not value:
            raise ConnectorError(f"{policy.controller}: system {system}: set {variable} ({name} of the system)")
        return value
    return options.get(name, default)


def connector_for(policy: Policy, system: str) -> Connector:
    spec = policy.systems[system]
    if spec.kind is SystemKind.FOLDER:
        root = option(policy, system, "root")
        if root is None:
            raise ConnectorError(f"{policy.controller}: system {system}: the policy names no root folder")
        date_pattern = option(policy, system, "date_pattern") or DateSource().name_pattern
        return FolderConnector(Path(root), option(policy, system, "pattern", "**/*") or "**/*",
                               DateSource(name_pattern=date_pattern), tz=policy.zone)
    raise ConnectorError(f"{policy.controller}: system {system}: no connector for {spec.kind.value} systems yet")
