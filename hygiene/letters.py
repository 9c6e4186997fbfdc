"""Reply letters, export pages and breach notices, in the controller's language (Danish, bokmål, Swedish).

The texts are plain `str.format` templates, one table per language, so a translator edits words without
touching code. A letter is built from counts, dates and the kind of each exception (hygiene.rights): it
names no one, so it can be written again from the ledger's closing entry. Letters are written only to a path
the operator gives, never to a Prefect artifact.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hygiene.legal import Country
from hygiene.policy import Policy, SystemKind
from hygiene.rights import BOOKKEEPING_LAW, Disposition, SystemAnswer, SystemStatus

AUTHORITY = {
    Country.DK: "Datatilsynet",
    Country.NO: "Datatilsynet",
    Country.SE: "Integritetsskyddsmyndigheten (IMY)",
}

_SYSTEM_KIND = {
    "da": {
        SystemKind.MAILCHIMP: "nyhedsbrevsliste",
        SystemKind.HUBSPOT: "kundesystem (CRM)",
        SystemKind.GMAIL: "e-mail",
        SystemKind.WEBNODE: "kontaktformular på hjemmesiden",
        SystemKind.SPREADSHEET: "regneark",
        SystemKind.FOLDER: "filarkiv",
        SystemKind.MANUAL: "manuelt system",
    },
    "nb": {
        SystemKind.MAILCHIMP: "nyhetsbrevliste",
        SystemKind.HUBSPOT: "kundesystem (CRM)",
        SystemKind.GMAIL: "e-post",
        SystemKind.WEBNODE: "kontaktskjema på nettsiden",
        SystemKind.SPREADSHEET: "regneark",
        SystemKind.FOLDER: "filarkiv",
        SystemKind.MANUAL: "manuelt system",
    },
    "sv": {
        SystemKind.MAILCHIMP: "nyhetsbrevslista",
        SystemKind.HUBSPOT: "kundsystem (CRM)",
        SystemKind.GMAIL: "e-post",
        SystemKind.WEBNODE: "kontaktformulär på webbplatsen",
        SystemKind.SPREADSHEET: "kalkylblad",
        SystemKind.FOLDER: "filarkiv",
        SystemKind.MANUAL: "manuellt system",
    },
}

_KIND = {
    "da": {
        "access": "indsigt",
        "erasure": "sletning",
        "rectification": "berigtigelse",
        "objection": "indsigelse",
        "portability": "dataportabilitet",
    },
    "nb": {
        "access": "innsyn",
        "erasure": "sletting",
        "rectification": "retting",
        "objection": "innsigelse",
        "portability": "dataportabilitet",
    },
    "sv": {
        "access": "registerutdrag",
        "erasure": "radering",
        "rectification": "rättelse",
        "objection": "invändning",
        "portability": "dataportabilitet",
    },
}

_TEXT: dict[str, dict[str, str]] = {
    "da": {
        "title": "Svar på din anmodning om {kind}",
        "intro": "Vi modtog din anmodning den {received} (reference {request}). Her er vores svar af {answered}.",
        "deleted": "Det har vi slettet permanent:",
        "count": "- {system}: {count} oplysning(er)",
        "nothing": "Vi har søgt i alle vores systemer og fandt ingen oplysninger om dig.",
        "kept": "Det har vi beholdt, og hvorfor:",
        "bookkeeping": "- {system}: {count} oplysning(er) opbevares til og med {until}, fordi {law} pålægger os at "
        "opbevare regnskabsmateriale (GDPR art. 17, stk. 3, litra b). Derefter slettes de.",
        "bookkeeping_open": "- {system}: {count} oplysning(er) opbevares, så længe {law} kræver det "
        "(GDPR art. 17, stk. 3, litra b).",
        "hold": "- {system}: {count} oplysning(er) opbevares, fordi de er nødvendige for at fastlægge, gøre "
        "gældende eller forsvare et retskrav (GDPR art. 17, stk. 3, litra e). De slettes, når sagen er afsluttet.",
        "by_hand": "Disse steder gennemgås og slettes manuelt af en medarbejder:",
        "by_hand_access": "Disse steder gennemgås manuelt af en medarbejder, og det, vi finder, sender vi til dig:",
        "by_hand_done": "Disse steder er gennemgået og slettet manuelt af en medarbejder:",
        "unreachable": "Disse systemer kunne ikke gennemsøges; vi vender tilbage senest {deadline}:",
        "already": "Du blev allerede slettet hos os den {day}; der var ikke yderligere at slette.",
        "found": "Vi har fundet disse oplysninger om dig, og de er vedlagt som en maskinlæsbar fil (JSON, GDPR "
        "art. 20) og en læsbar side (HTML):",
        "complaint": "Du kan klage over vores behandling af dine oplysninger til {authority}.",
        "regards": "Med venlig hilsen",
        "page": "Dine oplysninger hos {controller}",
        "field": "Felt",
        "value": "Værdi",
    },
    "nb": {
        "title": "Svar på din forespørsel om {kind}",
        "intro": "Vi mottok forespørselen din {received} (referanse {request}). Her er vårt svar av {answered}.",
        "deleted": "Dette har vi slettet permanent:",
        "count": "- {system}: {count} opplysning(er)",
        "nothing": "Vi har søkt i alle våre systemer og fant ingen opplysninger om deg.",
        "kept": "Dette har vi beholdt, og hvorfor:",
        "bookkeeping": "- {system}: {count} opplysning(er) oppbevares til og med {until}, fordi {law} pålegger oss å "
        "oppbevare regnskapsmateriale (GDPR art. 17 nr. 3 bokstav b). Deretter slettes de.",
        "bookkeeping_open": "- {system}: {count} opplysning(er) oppbevares så lenge {law} krever det "
        "(GDPR art. 17 nr. 3 bokstav b).",
        "hold": "- {system}: {count} opplysning(er) oppbevares fordi de er nødvendige for å fastsette, gjøre "
        "gjeldende eller forsvare et rettskrav (GDPR art. 17 nr. 3 bokstav e). De slettes når saken er avsluttet.",
        "by_hand": "Disse stedene gjennomgås og slettes manuelt av en medarbeider:",
        "by_hand_access": "Disse stedene gjennomgås manuelt av en medarbeider, og det vi finner, sender vi til deg:",
        "by_hand_done": "Disse stedene er gjennomgått og slettet manuelt av en medarbeider:",
        "unreachable": "Disse systemene kunne ikke gjennomsøkes; vi kommer tilbake senest {deadline}:",
        "already": "Du ble allerede slettet hos oss {day}; det var ikke mer å slette.",
        "found": "Vi har funnet disse opplysningene om deg, og de er vedlagt som en maskinlesbar fil (JSON, GDPR "
        "art. 20) og en lesbar side (HTML):",
        "complaint": "Du kan klage på vår behandling av opplysningene dine til {authority}.",
        "regards": "Med vennlig hilsen",
        "page": "Dine opplysninger hos {controller}",
        "field": "Felt",
        "value": "Verdi",
    },
    "sv": {
        "title": "Svar på din begäran om {kind}",
        "intro": "Vi tog emot din begäran den {received} (referens {request}). Här är vårt svar från {answered}.",
        "deleted": "Detta har vi raderat permanent:",
        "count": "- {system}: {count} uppgift(er)",
        "nothing": "Vi har sökt i alla våra system och hittade inga uppgifter om dig.",
        "kept": "Detta har vi behållit, och varför:",
        "bookkeeping": "- {system}: {count} uppgift(er) sparas till och med {until}, eftersom {law} ålägger oss att "
        "bevara räkenskapsinformation (GDPR artikel 17.3 b). Därefter raderas de.",
        "bookkeeping_open": "- {system}: {count} uppgift(er) sparas så länge {law} kräver det (GDPR artikel 17.3 b).",
        "hold": "- {system}: {count} uppgift(er) sparas eftersom de behövs för att fastställa, göra gällande eller "
        "försvara rättsliga anspråk (GDPR artikel 17.3 e). De raderas när ärendet är avslutat.",
        "by_hand": "Dessa ställen gås igenom och rensas manuellt av en medarbetare:",
        "by_hand_access": "Dessa ställen gås igenom manuellt av en medarbetare, och det vi hittar skickar vi till dig:",
        "by_hand_done": "Dessa ställen har gåtts igenom och rensats manuellt av en medarbetare:",
        "unreachable": "Dessa system kunde inte genomsökas; vi återkommer senast {deadline}:",
        "already": "Du raderades redan hos oss den {day}; det fanns inget mer att radera.",
        "found": "Vi har hittat dessa uppgifter om dig, och de bifogas som en maskinläsbar fil (JSON, GDPR "
        "artikel 20) och en läsbar sida (HTML):",
        "complaint": "Du kan klaga på vår behandling av dina uppgifter hos {authority}.",
        "regards": "Med vänliga hälsningar",
        "page": "Dina uppgifter hos {controller}",
        "field": "Fält",
        "value": "Värde",
    },
}

_BREACH: dict[str, dict[str, str]] = {
    "da": {
        "authority_title": "Anmeldelse af brud på persondatasikkerheden (GDPR art. 33) til {authority}",
        "authority_body": "Dataansvarlig: {controller}\nBruddet blev opdaget: {discovered}\nFrist for anmeldelse: "
        "{due} (72 timer efter opdagelsen)\nBerørte systemer: {systems}\nAntal berørte personer: {count}\n"
        "Beskrivelse: {description}\nReference: {breach}",
        "subjects_title": "Vigtig besked om dine personoplysninger",
        "subjects_body": "Den {discovered} konstaterede vi et brud på sikkerheden, som omfatter oplysninger om dig "
        "i: {systems}.\n\n{description}\n\nBruddet er anmeldt til {authority}. Kontakt os, hvis du har spørgsmål; "
        "du kan også klage til {authority}.\n\nMed venlig hilsen\n{controller}",
    },
    "nb": {
        "authority_title": "Melding om brudd på personopplysningssikkerheten (GDPR art. 33) til {authority}",
        "authority_body": "Behandlingsansvarlig: {controller}\nBruddet ble oppdaget: {discovered}\nFrist for melding: "
        "{due} (72 timer etter at bruddet ble oppdaget)\nBerørte systemer: {systems}\nAntall berørte personer: "
        "{count}\nBeskrivelse: {description}\nReferanse: {breach}",
        "subjects_title": "Viktig melding om personopplysningene dine",
        "subjects_body": "{discovered} oppdaget vi et brudd på sikkerheten som omfatter opplysninger om deg i: "
        "{systems}.\n\n{description}\n\nBruddet er meldt til {authority}. Kontakt oss hvis du har spørsmål; du kan "
        "også klage til {authority}.\n\nMed vennlig hilsen\n{controller}",
    },
    "sv": {
        "authority_title": "Anmälan av personuppgiftsincident (GDPR artikel 33) till {authority}",
        "authority_body": "Personuppgiftsansvarig: {controller}\nIncidenten upptäcktes: {discovered}\nSista dag för "
        "anmälan: {due} (72 timmar efter upptäckten)\nBerörda system: {systems}\nAntal berörda personer: {count}\n"
        "Beskrivning: {description}\nReferens: {breach}",
        "subjects_title": "Viktigt meddelande om dina personuppgifter",
        "subjects_body": "Den {discovered} upptäckte vi en personuppgiftsincident som omfattar uppgifter om dig i: "
        "{systems}.\n\n{description}\n\nIncidenten är anmäld till {authority}. Kontakta oss om du har frågor; du kan "
        "också klaga hos {authority}.\n\nMed vänliga hälsningar\n{controller}",
    },
}


def language_of(policy: Policy) -> str:
    """The letter language: the policy's (da, nb, sv); Danish for anything else it might name."""
    return policy.language if policy.language in _TEXT else "da"


def system_label(policy: Policy, system: str) -> str:
    """`logbooks (filarkiv)`: the name the controller uses, and what kind of place it is, in its language."""
    kind = policy.systems[system].kind
    return f"{system} ({_SYSTEM_KIND[language_of(policy)][kind]})"


@dataclass(frozen=True)
class ReplyFacts:
    """What a reply letter says, all of it free of personal data."""

    request_id: str
    kind: str
    received: date
    answered: date
    deadline: date
    answers: Sequence[SystemAnswer]
    already_erased_on: date | None = None
    #: a person attested the by-hand part of an erasure (`hygiene request attest`): the letter says it is done
    by_hand_done: bool = False


def reply_letter(policy: Policy, facts: ReplyFacts) -> str:
    """The letter that closes a request: what was deleted or found, what was kept and why, and until when."""
    text = _TEXT[language_of(policy)]
    lines = [
        text["title"].format(kind=_KIND[language_of(policy)][facts.kind]),
        "",
        text["intro"].format(received=facts.received, request=facts.request_id, answered=facts.answered),
        "",
    ]
    if facts.already_erased_on is not None:
        lines += [text["already"].format(day=facts.already_erased_on), ""]
    lines += _found_or_deleted(policy, facts, text)
    lines += _kept(policy, facts.answers, text)
    # an access request asks to see, never to delete: its by-hand part is a search whose finds are sent
    by_hand = text["by_hand_access" if facts.kind != "erasure" else "by_hand_done" if facts.by_hand_done else "by_hand"]
    lines += _listed(policy, facts.answers, SystemStatus.BY_HAND, by_hand)
    unreachable = text["unreachable"].format(deadline=facts.deadline)
    lines += _listed(policy, facts.answers, SystemStatus.UNREACHABLE, unreachable)
    lines += [text["complaint"].format(authority=AUTHORITY[policy.country]), "", text["regards"], policy.name, ""]
    return "\n".join(lines)


def _found_or_deleted(policy: Policy, facts: ReplyFacts, text: Mapping[str, str]) -> list[str]:
    erasure = facts.kind == "erasure"
    shown = [a for a in facts.answers if (a.deleted if erasure else a.found)]
    if not any(a.found for a in facts.answers) and facts.already_erased_on is None:
        return [text["nothing"], ""]
    if not shown:
        return []
    lines = [text["deleted" if erasure else "found"]]
    for answer in shown:
        count = answer.deleted if erasure else answer.found
        lines.append(text["count"].format(system=system_label(policy, answer.system), count=count))
    return [*lines, ""]


def _kept(policy: Policy, answers: Sequence[SystemAnswer], text: Mapping[str, str]) -> list[str]:
    lines = []
    law = BOOKKEEPING_LAW[policy.country]
    for answer in answers:
        for group in answer.kept:
            label = system_label(policy, answer.system)
            if group.reason is Disposition.KEEP_HOLD:
                lines.append(text["hold"].format(system=label, count=group.count))
            elif group.until is not None:
                lines.append(text["bookkeeping"].format(system=label, count=group.count, until=group.until, law=law))
            else:
                lines.append(text["bookkeeping_open"].format(system=label, count=group.count, law=law))
    return [text["kept"], *lines, ""] if lines else []


def _listed(policy: Policy, answers: Sequence[SystemAnswer], status: SystemStatus, header: str) -> list[str]:
    systems = [a.system for a in answers if a.status is status or (status is SystemStatus.BY_HAND and a.by_hand)]
    return [header, *(f"- {system_label(policy, s)}" for s in systems), ""] if systems else []


# ---- access and portability --------------------------------------------------------------------------------


def export_document(
    policy: Policy, request_id: str, found: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[str, Any]:
    """The machine-readable export (Art. 20): every record found, per system, field by field."""
    return {
        "controller": policy.name,
        "request": request_id,
        "generated_at": datetime.now().astimezone(policy.zone).isoformat(timespec="seconds"),
        "systems": [
            {"system": system, "description": policy.systems[system].description, "records": list(records)}
            for system, records in found.items()
        ],
    }


def export_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, default=str)


def export_page(policy: Policy, document: Mapping[str, Any]) -> str:
    """The readable page of the same export, in the controller's language; every value HTML-escaped."""
    text = _TEXT[language_of(policy)]
    title = html.escape(text["page"].format(controller=policy.name))
    parts = [
        f'<!doctype html><html lang="{language_of(policy)}"><head><meta charset="utf-8"><title>{title}</title>'
        "</head><body>",
        f"<h1>{title}</h1>",
    ]
    for system in document["systems"]:
        parts.append(f"<h2>{html.escape(system_label(policy, system['system']))}</h2>")
        for record in system["records"]:
            rows = "".join(
                f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
                for key, value in record.items()
            )
            parts.append(f"<table><tr><th>{text['field']}</th><th>{text['value']}</th></tr>{rows}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ---- breaches ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreachFacts:
    breach_id: str
    discovered: datetime
    authority_due: datetime
    systems: Sequence[str]
    affected: int
    description: str


def authority_notice(policy: Policy, facts: BreachFacts) -> str:
    """The draft report to the supervisory authority (Art. 33), in the controller's language."""
    text = _BREACH[language_of(policy)]
    authority = AUTHORITY[policy.country]
    return "\n\n".join(
        [
            text["authority_title"].format(authority=authority),
            text["authority_body"].format(
                controller=policy.name,
                discovered=_minute(facts.discovered, policy),
                due=_minute(facts.authority_due, policy),
                systems=", ".join(system_label(policy, s) for s in facts.systems),
                count=facts.affected,
                description=facts.description or "-",
                breach=facts.breach_id,
            ),
        ]
    )


def subjects_notice(policy: Policy, facts: BreachFacts) -> str:
    """The draft message to each affected person (Art. 34; Calmo K4 promises it within 72 hours)."""
    text = _BREACH[language_of(policy)]
    body = text["subjects_body"].format(
        discovered=_minute(facts.discovered, policy),
        systems=", ".join(system_label(policy, s) for s in facts.systems),
        description=facts.description or "",
        authority=AUTHORITY[policy.country],
        controller=policy.name,
    )
    return f"{text['subjects_title']}\n\n{body}\n"


def _minute(moment: datetime, policy: Policy) -> str:
    return moment.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M %Z")
