"""Synthetic file trees and exports for the file connectors, each with a manifest of its ground truth.

Calmo's external drive (invoices and client logbooks, seeds/003), Stressfri's Webnode form exports and offers
workbook (seeds/001), Balance's CRM register of contacts for its paper archive (seeds/000). Every generator is
deterministic in (seed, now): the same call writes the same bytes (apart from the random salt of an encrypted
workbook), so a test can assert exactly which entries are older than a cutoff. Names, emails and messages are
fake (Faker's "no_NO" and "da_DK" locales; Faker has no "nb_NO").
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from faker import Faker
from msoffcrypto.format.ooxml import OOXMLFile
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName

from hygiene.roots import MARKER, marker_text

# ---- Calmo: invoices and client logbooks on an external drive -----------------------------------------------


@dataclass(frozen=True)
class SeededFile:
    relative: str
    kind: str  # "invoice", "logbook" (archived, course ended), "active" (course running) or "undated"
    dated: date | None
    subject: str


@dataclass(frozen=True)
class FolderManifest:
    root: Path
    files: tuple[SeededFile, ...]

    def dated_before(self, cutoff: date, kind: str | None = None) -> set[str]:
        """Relative paths of the files of `kind` (any kind when None) dated strictly before `cutoff`."""
        return {
            file.relative
            for file in self.files
            if file.dated is not None and file.dated < cutoff and kind in (None, file.kind)
        }

    def of_kind(self, kind: str) -> tuple[SeededFile, ...]:
        return tuple(file for file in self.files if file.kind == kind)


INVOICE_PATTERN = r"^(?P<date>\d{4}-\d{2}-\d{2})_faktura_(?P<subject>\d+)\.pdf$"
LOGBOOK_PATTERN = r"^forloeb-slut_(?P<date>\d{4}-\d{2}-\d{2})_(?P<subject>K\d{4})\.md$"


def calmo_folder(
    root: Path,
    *,
    seed: int,
    now: datetime,
    invoices: int = 40,
    logbooks: int = 12,
    active: int = 2,
    undated: int = 0,
    controller: str = "calmo",
) -> FolderManifest:
    """Invoices `fakturaer/<year>/<date>_faktura_<no>.pdf` dated 2016 to now (at most 2026); archived logbooks
    `klientlogboeger/Arkiv/forloeb-slut_<date>_<ref>.md` whose course ended 6 to 18 months before `now`, and
    logbooks of running courses `klientlogboeger/<ref>.md`, outside the archive and without a date.

    `undated` adds archived logbooks named after their client and without a date, as people do name files: the
    case the folder connector must report without printing the name. Both folders are adopted for
    `controller` (its invoices and logbooks systems): each holds the `.hygiene-root` marker a run requires.
    """
    for folder, system in (("fakturaer", "invoices"), ("klientlogboeger", "logbooks")):
        _write(root / folder / MARKER, marker_text(controller, system).encode())
    fake, rng = _fakers("da_DK", seed)
    files = [*_invoices(root, fake, rng, now, invoices), *_logbooks(root, fake, rng, now, logbooks)]
    for index in range(active):
        relative = f"klientlogboeger/K{9000 + index}.md"
        _write(root / relative, f"# Klientlogbog\n\n{fake.name()}\n{fake.paragraph()}\n".encode())
        files.append(SeededFile(relative, "active", None, f"K{9000 + index}"))
    for _ in range(undated):
        name = fake.name()
        relative = f"klientlogboeger/Arkiv/{name} logbog.md"
        _write(root / relative, f"# Klientlogbog\n\n{name}\n{fake.paragraph()}\n".encode())
        files.append(SeededFile(relative, "undated", None, relative))
    return FolderManifest(root, tuple(files))


def _invoices(root: Path, fake: Faker, rng: random.Random, now: datetime, count: int) -> list[SeededFile]:
    first, last = date(2016, 1, 1), min(now.date(), date(2026, 12, 31))
    files = []
    for number in range(1000, 1000 + count):
        dated = first + timedelta(days=rng.randrange((last - first).days + 1))
        relative = f"fakturaer/{dated.year}/{dated.isoformat()}_faktura_{number}.pdf"
        text = f"Faktura {number}\n{fake.name()}\n{fake.address()}\nBeløb: {rng.randrange(500, 9000)} kr\n"
        _write(root / relative, b"%PDF-1.4\n% synthetic\n" + text.encode())
        files.append(SeededFile(relative, "invoice", dated, str(number)))
    return files


def _logbooks(root: Path, fake: Faker, rng: random.Random, now: datetime, count: int) -> list[SeededFile]:
    files = []
    for index in range(count):
        ended = now.date() - timedelta(days=rng.randrange(183, 548))
        ref = f"K{1000 + index:04d}"
        relative = f"klientlogboeger/Arkiv/forloeb-slut_{ended.isoformat()}_{ref}.md"
        _write(root / relative, f"# Klientlogbog {ref}\n\n{fake.name()}\n\n{fake.paragraph()}\n".encode())
        files.append(SeededFile(relative, "logbook", ended, ref))
    return files


# ---- Stressfri: Webnode form exports ------------------------------------------------------------------------


class ExportFormat(StrEnum):
    CSV_SEMICOLON_BOM = "csv-semicolon-bom"
    CSV_COMMA = "csv-comma"
    XLSX = "xlsx"


HEADERS = {
    "nb": ("Dato", "Navn", "E-post", "Telefon", "Melding"),
    "en": ("Date", "Name", "E-mail", "Phone", "Message"),
}


@dataclass(frozen=True)
class SeededSubmission:
    submitted_at: datetime  # local wall time, to the minute, as the export shows it
    name: str
    email: str  # as the visitor typed it, case and all
    phone: str
    message: str


@dataclass(frozen=True)
class WebnodeManifest:
    path: Path
    submissions: tuple[SeededSubmission, ...]

    def submitted_before(self, cutoff: datetime) -> tuple[SeededSubmission, ...]:
        return tuple(entry for entry in self.submissions if entry.submitted_at < cutoff)


def webnode_submissions(*, seed: int, now: datetime, count: int = 20) -> tuple[SeededSubmission, ...]:
    """Submissions over the 90 days before `now`, oldest first, with the text real forms get: line breaks,
    quotes, semicolons and commas, æøå, emails typed in mixed case."""
    fake, rng = _fakers("no_NO", seed)
    local_now = now.replace(tzinfo=None, second=0, microsecond=0)
    entries = []
    for index in range(count):
        name = fake.name()
        submitted_at = local_now - timedelta(minutes=rng.randrange(1, 90 * 24 * 60))
        email = f"{_ascii(name).replace(' ', '.')}{index}@{fake.free_email_domain()}"
        message = f'Hei! Jeg lurer på et "tilbud"; kan dere ringe meg?\n{fake.sentence()}\nMvh, {name} (æøå)'
        entries.append(
            SeededSubmission(
                submitted_at, name, email.title() if index % 3 == 0 else email, fake.phone_number(), message
            )
        )
    return tuple(sorted(entries, key=lambda entry: entry.submitted_at))


def write_webnode_export(
    path: Path, submissions: Sequence[SeededSubmission], fmt: ExportFormat, language: str = "nb"
) -> WebnodeManifest:
    """Write `submissions` as Webnode's admin page would export them in `fmt`, with `language` headers."""
    header = HEADERS[language]
    rows = [(entry.submitted_at, entry.name, entry.email, entry.phone, entry.message) for entry in submissions]
    if fmt is ExportFormat.XLSX:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    else:
        shown = "%d.%m.%Y %H:%M" if language == "nb" else "%Y-%m-%d %H:%M"
        text = io.StringIO()
        writer = csv.writer(text, delimiter=";" if fmt is ExportFormat.CSV_SEMICOLON_BOM else ",")
        writer.writerow(header)
        writer.writerows((row[0].strftime(shown), *row[1:]) for row in rows)
        bom = "\ufeff" if fmt is ExportFormat.CSV_SEMICOLON_BOM else ""
        path.write_text(bom + text.getvalue(), encoding="utf-8", newline="")
    return WebnodeManifest(path, tuple(submissions))


# ---- Stressfri: the offers and sales workbook ---------------------------------------------------------------

OFFER_HEADER = ("Dato", "Kunde", "E-post", "Telefon", "Type", "Beløp", "Status", "Avsluttet dato", "Inkl. mva")
SUMMARY_SHEET = "Oppsummering"


@dataclass(frozen=True)
class SeededOffer:
    row: int
    offered_on: date
    customer: str
    email: str
    kind: str
    amount: int
    status: str
    ended_on: date | None


@dataclass(frozen=True)
class OffersManifest:
    path: Path
    password: str | None
    offers: tuple[SeededOffer, ...]

    def offered_before(self, cutoff: date) -> tuple[SeededOffer, ...]:
        return tuple(offer for offer in self.offers if offer.offered_on < cutoff)

    def ended_subjects(self) -> dict[str, date]:
        """Ground truth of the customer register: subjects with no active row, and their latest end date."""
        active = {offer.email.lower() for offer in self.offers if offer.status == "aktiv"}
        ended: dict[str, date] = {}
        for offer in self.offers:
            subject = offer.email.lower()
            if offer.ended_on is not None and subject not in active:
                ended[subject] = max(ended.get(subject, offer.ended_on), offer.ended_on)
        return ended


def offers_workbook(
    path: Path, *, seed: int, now: datetime, rows: int = 30, password: str | None = None
) -> OffersManifest:
    """The offers sheet "Tilbud" (dates over the 8 years before `now`, styled, a per-row formula) and a summary
    sheet whose formulas point into it, plus a defined name; encrypted with `password` when one is given.

    The last row is a returning customer: the email of the first ended offer, active again, so that customer is
    not in the register.
    """
    offers = _offers(seed, now, rows)
    workbook = Workbook()
    _fill_offers_sheet(workbook, offers)
    _add_summary_sheet(workbook, last_row=len(offers) + 1)
    plain = io.BytesIO()
    workbook.save(plain)
    if password is None:
        path.write_bytes(plain.getvalue())
    else:
        with path.open("wb") as sealed:
            OOXMLFile(io.BytesIO(plain.getvalue())).encrypt(password, sealed)
    return OffersManifest(path, password, tuple(offers))


def _offers(seed: int, now: datetime, count: int) -> list[SeededOffer]:
    fake, rng = _fakers("no_NO", seed)
    offers = []
    for index in range(count - 1):
        customer = fake.name()
        offered_on = now.date() - timedelta(days=rng.randrange(1, 8 * 365))
        status = rng.choice(("aktiv", "avsluttet", "ikke aktuell"))
        ended_on = None if status == "aktiv" else min(now.date(), offered_on + timedelta(days=rng.randrange(30, 400)))
        email = f"{_ascii(customer).replace(' ', '.')}{index}@{fake.free_email_domain()}"
        kind = rng.choice(("tilbud", "salg"))
        offers.append(
            SeededOffer(index + 2, offered_on, customer, email, kind, rng.randrange(2, 90) * 500, status, ended_on)
        )
    returning = next(offer for offer in offers if offer.status != "aktiv")
    offers.append(
        SeededOffer(
            count + 1,
            now.date() - timedelta(days=20),
            returning.customer,
            returning.email.upper(),
            "salg",
            12000,
            "aktiv",
            None,
        )
    )
    return offers


def _fill_offers_sheet(workbook: Workbook, offers: Sequence[SeededOffer]) -> None:
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Tilbud"
    sheet.append(OFFER_HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for offer in offers:
        ended = datetime.combine(offer.ended_on, datetime.min.time()) if offer.ended_on else None
        sheet.append(
            (
                datetime.combine(offer.offered_on, datetime.min.time()),
                offer.customer,
                offer.email,
                "+47 900 00 000",
                offer.kind,
                offer.amount,
                offer.status,
                ended,
                f"=F{offer.row}*1.25",
            )
        )
        sheet.cell(offer.row, 1).number_format = "DD.MM.YYYY"
        sheet.cell(offer.row, 8).number_format = "DD.MM.YYYY"
        sheet.cell(offer.row, 6).number_format = '#,##0 "kr"'
        sheet.cell(offer.row, 2).alignment = Alignment(wrap_text=True)
    for column, width in zip("ABCDEFGHI", (12, 24, 34, 16, 9, 12, 13, 15, 12), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"


def _add_summary_sheet(workbook: Workbook, last_row: int) -> None:
    summary = workbook.create_sheet(SUMMARY_SHEET)
    summary.append(("Sum beløp", f"=SUM(Tilbud!F2:F{last_row})"))
    summary.append(("Antall", f"=COUNTA(Tilbud!$B$2:$B${last_row})"))
    summary.append(("Første dato", "=Tilbud!A2"))
    summary.append(("Dobbel sum", "=B1*2"))
    summary.append(("Notat", "Rader slettes etter 5 år (S4)"))
    summary["A1"].font = Font(italic=True)
    summary.column_dimensions["A"].width = 18
    workbook.defined_names["Tilbudsliste"] = DefinedName("Tilbudsliste", attr_text=f"Tilbud!$A$2:$I${last_row}")


# ---- Balance: the CRM register of contacts, which tells whose paper must be shredded -----------------------

REGISTER_HEADER = ("Kontakt-id", "Navn", "E-mail", "Forløb slut", "Samarbejde slut", "Nyhedsbrev", "ALL-IN aftale")


@dataclass(frozen=True)
class SeededContact:
    contact: str
    name: str
    email: str
    course_ended: date | None
    collaboration_ended: date | None
    newsletter: bool
    all_in: bool


@dataclass(frozen=True)
class RegisterManifest:
    path: Path
    contacts: tuple[SeededContact, ...]

    def course_ended_before(self, cutoff: date, *, newsletter: bool | None = None) -> set[str]:
        """Contact ids whose course ended before `cutoff` (and, when given, with that newsletter flag)."""
        return {
            contact.contact
            for contact in self.contacts
            if contact.course_ended is not None
            and contact.course_ended < cutoff
            and newsletter in (None, contact.newsletter)
        }


def balance_register(path: Path, *, seed: int, now: datetime, contacts: int = 12) -> RegisterManifest:
    """A CRM export of contacts as CSV (semicolons, UTF-8 with BOM, Danish dates): courses ended up to 120 days
    before `now` or still running, collaborations ended or not, every third person on the newsletter."""
    fake, rng = _fakers("da_DK", seed)
    seeded = []
    for index in range(contacts):
        name = fake.name()
        course = now.date() - timedelta(days=rng.randrange(1, 120)) if index % 4 != 3 else None
        collaboration = now.date() - timedelta(days=rng.randrange(1, 120)) if index % 2 == 0 else None
        email = f"{_ascii(name).replace(' ', '.')}{index}@{fake.free_email_domain()}"
        seeded.append(
            SeededContact(f"C-{1000 + index}", name, email, course, collaboration, index % 3 == 0, index % 5 == 0)
        )
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(REGISTER_HEADER)
    for contact in seeded:
        writer.writerow(
            (
                contact.contact,
                contact.name,
                contact.email,
                _danish(contact.course_ended),
                _danish(contact.collaboration_ended),
                "ja" if contact.newsletter else "nej",
                "ja" if contact.all_in else "nej",
            )
        )
    path.write_text("\ufeff" + text.getvalue(), encoding="utf-8", newline="")
    return RegisterManifest(path, tuple(seeded))


def _danish(day: date | None) -> str:
    return "" if day is None else day.strftime("%d.%m.%Y")


# ---- helpers ------------------------------------------------------------------------------------------------


def _fakers(locale: str, seed: int) -> tuple[Faker, random.Random]:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake, random.Random(seed)


_SPELLING = str.maketrans({"æ": "ae", "ø": "o", "å": "aa", "é": "e", "ü": "u"})


def _ascii(name: str) -> str:
    """An email local part from a name: Norwegian and Danish letters spelt the way people type them."""
    spelt = name.lower().translate(_SPELLING)
    return "".join(char for char in spelt if char.isascii() and (char.isalnum() or char in " .-"))


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
