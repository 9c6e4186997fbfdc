"""Configuration from the environment (prefix `HYGIENE_`).

Controller keys can be given all at once or one by one, whichever suits the deployment:

    HYGIENE_CONTROLLER_KEYS='{"clienti": "…", "calmo": "…"}'
    HYGIENE_KEY_CLIENTI='…'

Both are merged; a per-controller variable wins over the JSON map. Controller names are compared after
lower-casing and turning anything but letters and digits into `_`, because that is all an environment
variable name can hold ("calmo-ab" is configured by HYGIENE_KEY_CALMO_AB).

`HYGIENE_LEDGER_KEY` keys the evidence chain (`hygiene.ledger`). It is one key for the whole database, not one
per controller, because the chain is one: every controller's entries interleave under one head, which
concurrent writers queue on. It is the operator's key (whoever runs the tool for the controllers), kept like
the pseudonym keys outside the database, so that someone who can write the database cannot rewrite it.

Every key is checked for strength when it is used (`hygiene.keys`), and a malformed variable is refused in
one line naming the variable: pydantic's own message would quote the value, i.e. the key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from hygiene.errors import BadSetting, MissingSecretKey
from hygiene.keys import MAKE_KEY, check_key
from hygiene.store import masked_url

ENV_PREFIX = "HYGIENE_"
KEY_PREFIX = f"{ENV_PREFIX}KEY_"
LEDGER_KEY_VARIABLE = f"{ENV_PREFIX}LEDGER_KEY"


def controller_id(controller: str) -> str:
    """The form a controller name takes in key lookups: what an environment variable name can carry."""
    return re.sub(r"[^a-z0-9]", "_", controller.strip().lower())


def key_variable(controller: str) -> str:
    """The environment variable that holds one controller's key."""
    return KEY_PREFIX + controller_id(controller).upper()


class _PerControllerKeys(PydanticBaseSettingsSource):
    """Reads every `HYGIENE_KEY_<CONTROLLER>` variable into `controller_keys`.

    pydantic-settings can only map one variable to one field, so this source collects the open-ended family
    of key variables; its dict is deep-merged with the JSON map read by the ordinary environment source.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        keys = {
            name[len(KEY_PREFIX) :].lower(): value
            for name, value in os.environ.items()
            if name.upper().startswith(KEY_PREFIX) and len(name) > len(KEY_PREFIX)
        }
        return {"controller_keys": keys} if keys else {}


class Settings(BaseSettings):
    """Where evidence is kept and which secret key pseudonymises each controller's data subjects."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite:///.hygiene/hygiene.db"
    #: where `hygiene report` writes evidence reports, and where each run's page links to them
    reports_dir: Path = Path(".hygiene/reports")
    controller_keys: dict[str, SecretStr] = Field(default_factory=dict)
    #: the evidence chain's MAC key (see the module docstring)
    ledger_key: SecretStr | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise BadSetting(_one_line(exc)) from None
        except SettingsError as exc:
            # pydantic-settings names the field and the source, never the value, when a JSON map is malformed
            raise BadSetting(f"{ENV_PREFIX}{_field_of(str(exc)).upper()} is not valid JSON") from None

    @field_validator("controller_keys")
    @classmethod
    def _normalise_controllers(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return {controller_id(name): key for name, key in keys.items()}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _PerControllerKeys(settings_cls),
            env_settings,
            dotenv_settings,
            file_secret_settings,
        )

    def key_for(self, controller: str) -> SecretStr:
        """The controller's pseudonym key; without it no evidence may be written, so fail loudly."""
        key = self.controller_keys.get(controller_id(controller))
        if key is None or not key.get_secret_value():
            raise MissingSecretKey(
                f"no pseudonym key for controller {controller!r}: set {key_variable(controller)} "
                f"(or add it to {ENV_PREFIX}CONTROLLER_KEYS)"
            )
        check_key(key, f"the pseudonym key of controller {controller!r} ({key_variable(controller)})")
        return key

    def chain_key(self) -> SecretStr:
        """The evidence chain's MAC key; without it no entry can be written or verified."""
        key = self.ledger_key
        if key is None or not key.get_secret_value():
            raise MissingSecretKey(
                f"no ledger key: set {LEDGER_KEY_VARIABLE}, the evidence chain's secret key, kept outside the "
                f"database and the same in every process that writes or verifies this ledger; make one with {MAKE_KEY}"
            )
        check_key(key, f"the ledger key ({LEDGER_KEY_VARIABLE})")
        return key

    def __repr_args__(self) -> Any:
        # A PostgreSQL URL may carry a password; repr and str must never show it.
        for name, value in super().__repr_args__():
            yield name, masked_url(value) if name == "database_url" else value


def _one_line(error: ValidationError) -> str:
    """Which variable is malformed and how, from pydantic's errors minus their `input` (it may be a key)."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        field, *inner = (str(part) for part in problem["loc"])
        where = ".".join(inner)
        problems.append(f"{ENV_PREFIX}{field.upper()}{f' ({where})' if where else ''}: {problem['msg']}")
    return "; ".join(problems)


def _field_of(message: str) -> str:
    match = re.search(r'field "([a-z_]+)"', message)
    return match.group(1) if match else "setting"
