"""Which connector serves which system of a policy, built from the system's options and the environment.

Policies hold no secrets and no machine paths: an option ending in `_env` names the environment variable that
holds the value on this machine (a folder's root, a password), so one policy serves every installation.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from functools import partial
from pathlib import Path

from pydantic import SecretStr

from hygiene.connector import Connector, ConnectorError
from hygiene.ledger import Ledger
from hygiene.policy import Policy, SystemKind
from hygiene.pseudonym import RECORD
from hygiene.register import RegisterMemory
from hygiene.roots import check_root
from hygiene.settings import Settings
from integrations.folder import DateSource, FolderConnector
from integrations.gmail import CrmRegister, CustomerRegister, GmailConnector, OffersRegister
from integrations.hubspot import HubSpotConnector, HubSpotSettings, PropertyTest, hubspot_client
from integrations.mailchimp import MailchimpConnector, MailchimpSettings, mailchimp_client
from integrations.manual import RegisterConnector
from integrations.pacing import parse_rate
from integrations.spreadsheet import MailKept, OfferSheet, SpreadsheetConnector
from integrations.webnode import WebnodeConnector

#: the source of the first day a mail was seen under a rule's label (S8)
LABEL_FIRST_SEEN = "label first seen"


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
        setting = spec.options.get("root_env") or f"option root in {policy.controller}.yaml"
        date_pattern = option(policy, system, "date_pattern") or DateSource().name_pattern
        return FolderConnector(
            check_root(root, controller=policy.controller, system=system, setting=setting),
            option(policy, system, "pattern", "**/*") or "**/*",
            DateSource(name_pattern=date_pattern),
            tz=policy.zone,
        )
    if spec.kind is SystemKind.GMAIL:
        units = option(policy, system, "units_per_minute")
        settings = Settings()
        return GmailConnector.from_environment(
            user_id=option(policy, system, "user_id", "me") or "me",
            register=customer_register(policy, system),
            tz=policy.zone,
            units_per_minute=int(units) if units else None,
            stamps=RegisterMemory(
                Ledger.from_settings(settings),
                policy.controller,
                settings.key_for(policy.controller),
                LABEL_FIRST_SEEN,
                kind=RECORD,
                system=system,
                first_only=True,
            ),
        )
    if spec.kind is SystemKind.MAILCHIMP:
        return mailchimp_connector(policy, system)
    if spec.kind is SystemKind.HUBSPOT:
        return hubspot_connector(policy, system)
    if spec.kind is SystemKind.WEBNODE:
        return WebnodeConnector(Path(_required(policy, system, "export")), tz=policy.zone)
    if spec.kind is SystemKind.SPREADSHEET:
        password_variable = spec.options.get("password_env")
        password = os.environ.get(password_variable) if password_variable else None
        return SpreadsheetConnector(
            Path(_required(policy, system, "path")),
            password=SecretStr(password) if password else None,
            sheet=OfferSheet(name=spec.options.get("sheet", OfferSheet.name)),
            tz=policy.zone,
            password_setting=password_variable or "a password_env option for the system",
            mail_kept=_mail_kept(policy, system),
        )
    if spec.kind is SystemKind.MANUAL and has_register(policy, system):
        # whether a person receives the newsletter is the newsletter system's to say (Balance B2: `newsletter`)
        newsletter = option(policy, system, "newsletter")
        if newsletter is not None and newsletter not in policy.systems:
            raise ConnectorError(
                f"{policy.controller}: system {system}: option newsletter names no system of the policy"
            )
        return RegisterConnector(
            Path(_required(policy, system, "register")),
            system=system,
            tz=policy.zone,
            newsletter=partial(connector_for, policy, newsletter) if newsletter else None,
        )
    raise ConnectorError(f"{policy.controller}: system {system}: no connector for {spec.kind.value} systems yet")


def customer_register(policy: Policy, system: str) -> CustomerRegister | None:
    """A mailbox's customer register is another system of the policy (option `register`): Stressfri's offers
    workbook, or Clienti's CRM, whose end dates the ledger keeps after the CRM has erased the customer."""
    source = option(policy, system, "register")
    if source is None:
        return None
    kind = policy.systems[source].kind if source in policy.systems else None
    if kind is SystemKind.SPREADSHEET:
        workbook = connector_for(policy, source)
        assert isinstance(workbook, SpreadsheetConnector)
        return OffersRegister(workbook)
    if kind is SystemKind.HUBSPOT:
        settings = Settings()
        memory = RegisterMemory(
            Ledger.from_settings(settings), policy.controller, settings.key_for(policy.controller), source
        )
        return CrmRegister(hubspot_connector(policy, source), memory)
    raise ConnectorError(f"{policy.controller}: system {system}: register must name a spreadsheet or hubspot system")


def _mail_kept(policy: Policy, system: str) -> MailKept | None:
    """A sheet that is a mailbox's customer register (options `mail: <gmail system>`, `mail_prefix`) asks the
    mailbox, when its rows are read, which customers' folders still hold mail; the mailbox is reached only then."""
    mailbox, prefix = option(policy, system, "mail"), option(policy, system, "mail_prefix")
    if mailbox is None:
        return None
    if mailbox not in policy.systems or policy.systems[mailbox].kind is not SystemKind.GMAIL or prefix is None:
        raise ConnectorError(
            f"{policy.controller}: system {system}: option mail must name a gmail system, with option mail_prefix"
        )

    def kept(names: Collection[str]) -> set[str]:
        gmail = GmailConnector.from_environment(
            user_id=option(policy, mailbox, "user_id", "me") or "me", register=None, tz=policy.zone
        )
        return gmail.folders_with_mail(prefix, names)

    return kept


def has_register(policy: Policy, system: str) -> bool:
    """Whether a hand-kept system names a register of its records; without one its checklist has no records."""
    options = policy.systems[system].options
    return "register" in options or "register_env" in options


def _required(policy: Policy, system: str, name: str) -> str:
    value = option(policy, system, name)
    if not value:
        raise ConnectorError(f"{policy.controller}: system {system}: the policy names no {name} (option {name}_env)")
    return value


def mailchimp_connector(policy: Policy, system: str) -> MailchimpConnector:
    """Options: `list_id` (or `list_id_env`), the audience; the API key and host come from the environment."""
    list_id = option(policy, system, "list_id")
    if not list_id:
        raise ConnectorError(f"{policy.controller}: system {system}: the policy names no list_id")
    settings = MailchimpSettings()
    return MailchimpConnector(
        mailchimp_client(settings), list_id, backoff=settings.backoff(), polling=settings.polling()
    )


def hubspot_connector(policy: Policy, system: str) -> HubSpotConnector:
    """Options: `newsletter` (the system whose unsubscribes name CRM contacts), `bookkeeping_when`,
    `signup_source` (property=value tests) and `rate_limit` (calls/seconds); token and host from the environment.
    """
    settings = HubSpotSettings()
    newsletter = option(policy, system, "newsletter")
    if newsletter is not None and newsletter not in policy.systems:
        raise ConnectorError(f"{policy.controller}: system {system}: option newsletter names no system of the policy")
    bookkeeping = option(policy, system, "bookkeeping_when")
    signup = option(policy, system, "signup_source")
    try:
        rate = parse_rate(option(policy, system, "rate_limit") or settings.rate_limit)
    except ValueError as error:
        raise ConnectorError(f"{policy.controller}: system {system}: {error}") from None
    return HubSpotConnector(
        hubspot_client(settings),
        tz=policy.zone,
        newsletter=connector_for(policy, newsletter) if newsletter else None,
        bookkeeping_when=PropertyTest.parse(bookkeeping, "bookkeeping_when") if bookkeeping else None,
        **({"signup_source": PropertyTest.parse(signup, "signup_source")} if signup else {}),
        rate=rate,
        backoff=settings.backoff(),
    )
