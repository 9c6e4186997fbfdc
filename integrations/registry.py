"""Which connector serves which system of a policy, built from the system's options and the environment.

Policies hold no secrets and no machine paths: an option ending in `_env` names the environment variable that
holds the value on this machine (a folder's root, a password), so one policy serves every installation.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from hygiene.connector import Connector, ConnectorError
from hygiene.policy import Policy, SystemKind
from integrations.folder import DateSource, FolderConnector
from integrations.gmail import GmailConnector, OffersRegister
from integrations.spreadsheet import OfferSheet, SpreadsheetConnector


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
    if spec.kind is SystemKind.GMAIL:
        # the customer register is another system of the policy (Stressfri: the offers workbook, `register: offers`)
        register, source = None, option(policy, system, "register")
        if source is not None:
            if source not in policy.systems or policy.systems[source].kind is not SystemKind.SPREADSHEET:
                raise ConnectorError(f"{policy.controller}: system {system}: register must name a spreadsheet system")
            password = os.environ.get(policy.systems[source].options.get("password_env", ""))
            register = OffersRegister(
                SpreadsheetConnector(
                    Path(option(policy, source, "path") or ""),
                    password=SecretStr(password) if password else None,
                    sheet=OfferSheet(name=option(policy, source, "sheet", "Tilbud") or "Tilbud"),
                    tz=policy.zone,
                )
            )
        units = option(policy, system, "units_per_minute")
        return GmailConnector.from_environment(
            user_id=option(policy, system, "user_id", "me") or "me",
            register=register,
            tz=policy.zone,
            units_per_minute=int(units) if units else None,
        )
    raise ConnectorError(f"{policy.controller}: system {system}: no connector for {spec.kind.value} systems yet")
