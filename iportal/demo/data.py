"""Demo data: two issuers, twenty client numbers, seven years of documents, users
(`loading.py` writes them).

Loading is idempotent: every row is found by its natural key (prefix, client
code, e-mail, login, document number) and written only when missing, so a
second run changes nothing and renders no PDF twice.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from iportal.documents.publishing import DocumentFields

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - printed for people trying the demo
CENT = Decimal("0.01")
VAT_RATE = Decimal("21")
ISSUERS = (
    ("DL2", "Demo Lease Services NV", "Avenue de la Démo 1, 1000 Brussels"),
    ("DL5", "Demo Lease Belgium NV", "Demostraat 5, 2000 Antwerpen"),
)


@dataclass(frozen=True)
class DemoNumber:
    client_code: str
    company_name: str
    email: str
    first_name: str
    last_name: str
    language: str
    contract_start: date
    enterprise_first8: str | None = None  # check digits are computed

    @property
    def enterprise_number(self) -> str | None:
        if self.enterprise_first8 is None:
            return None
        return f"BE{self.enterprise_first8}{97 - int(self.enterprise_first8) % 97:02d}"


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    last_name: str
    language: str
    role: str


def _seven_years_ago(today: date) -> date:
    return date(today.year - 7, today.month, 1)


def demo_numbers(today: date) -> list[DemoNumber]:
    start = _seven_years_ago(today)
    rows = [
        (
            "DL20000101",
            "Brouwerij Peeters BV",
            "anna.peeters@brouwerij-peeters.example",
            "Anna",
            "Peeters",
            "nl",
            start,
            "04170001",
        ),
        (
            "DL50000101",
            "Brouwerij Peeters BV",
            "anna.peeters@brouwerij-peeters.example",
            "Anna",
            "Peeters",
            "nl",
            date(today.year - 4, 3, 1),
            "04170001",
        ),
        (
            "DL20000102",
            "Peeters Logistics BV",
            "anna.peeters@brouwerij-peeters.example",
            "Anna",
            "Peeters",
            "nl",
            date(today.year - 3, 9, 1),
            "04170002",
        ),
        (
            "DL20000201",
            "Boulangerie Dubois SRL",
            "marie.dubois@dubois.example",
            "Marie",
            "Dubois",
            "fr",
            start,
            "08150003",
        ),
        (
            "DL20000202",
            "Dubois Traiteur SRL",
            "marie.dubois@dubois.example",
            "Marie",
            "Dubois",
            "fr",
            date(today.year - 2, 1, 1),
            "08150004",
        ),
        (
            "DL20000301",
            "Jonas Maes",
            "jonas.maes@example.be",
            "Jonas",
            "Maes",
            "nl",
            date(today.year - 5, 6, 1),
            None,
        ),
    ]
    others = [
        ("Bäckerei Schmitt GmbH", "de"),
        ("Atelier Lambert SPRL", "fr"),
        ("Vandamme Bouw NV", "nl"),
        ("Garage Wouters BV", "nl"),
        ("Cabinet Leroy SRL", "fr"),
        ("Hotel Zeezicht NV", "nl"),
        ("Imprimerie Martin SA", "fr"),
        ("Kaffeerösterei Weber GmbH", "de"),
        ("Transport Claes BV", "nl"),
        ("Fleuriste Simon SRL", "fr"),
        ("Drukkerij Jacobs BV", "nl"),
        ("Green Energy Services Ltd", "en"),
        ("Schreinerei Braun GmbH", "de"),
        ("Apotheek Mertens BV", "nl"),
    ]
    for index, (company, language) in enumerate(others):
        prefix = "DL2" if index % 3 else "DL5"
        years = 7 if index % 2 else 2 + index % 4
        rows.append(
            (
                f"{prefix}{1000 + index:07d}",
                company,
                f"billing{index}@client{index}.example",
                "",
                "",
                language,
                date(today.year - years, 1 + index % 12, 1),
                f"0{5000000 + index * 7919:07d}",
            )
        )
    return [DemoNumber(*row) for row in rows]


ACCOUNTS = {
    # login kind, main contact e-mail, client codes
    "peeters": (
        "b2b",
        "anna.peeters@brouwerij-peeters.example",
        ("DL20000101", "DL50000101", "DL20000102"),
    ),
    "dubois": ("b2b", "marie.dubois@dubois.example", ("DL20000201", "DL20000202")),
    "maes": ("b2c", "jonas.maes@example.be", ("DL20000301",)),
}
USERS = (
    DemoUser(
        "anna.peeters@brouwerij-peeters.example",
        "Anna",
        "Peeters",
        "nl",
        "Main contact, B2B, three client numbers",
    ),
    DemoUser(
        "marie.dubois@dubois.example",
        "Marie",
        "Dubois",
        "fr",
        "Main contact, B2B, two client numbers",
    ),
    DemoUser("jonas.maes@example.be", "Jonas", "Maes", "nl", "B2C client, one client number"),
    DemoUser(
        "luc.janssens@accountants.example",
        "Luc",
        "Janssens",
        "nl",
        "Accountant, shared user of two companies",
    ),
)
# The accountant sees two of the Peeters numbers (not the logistics one) and one of Dubois.
ACCOUNTANT_GRANTS = {"peeters": ("DL20000101", "DL50000101"), "dubois": ("DL20000201",)}


def monthly_documents(number: DemoNumber, today: date) -> Iterator[DocumentFields]:
    """One invoice a month from the contract start (at most seven years back) to last
    month, and a credit note every eleventh month; amounts fixed by the client code."""
    month = max(number.contract_start, _seven_years_ago(today))
    last = date(today.year, today.month, 1)
    counter = 0
    while month < last:
        rng = random.Random(f"{number.client_code}-{month.isoformat()}")
        excl = Decimal(rng.randrange(30_000, 150_000)) / 100
        yield _fields("invoice", f"F{month:%Y%m}-{number.client_code[-4:]}", month, excl)
        counter += 1
        if counter % 11 == 0:
            credit = (excl * Decimal(rng.choice((10, 25, 50))) / 100).quantize(CENT)
            yield _fields("credit_note", f"C{month:%Y%m}-{number.client_code[-4:]}", month, credit)
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _fields(kind: str, document_number: str, issued: date, excl: Decimal) -> DocumentFields:
    vat = (excl * VAT_RATE / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    due = date(issued.year + (issued.month == 12), issued.month % 12 + 1, 1)
    return DocumentFields(
        type=kind,
        number=document_number,
        issue_date=issued,
        due_date=due,
        currency="EUR",
        amount_excl_vat=excl,
        vat_amount=vat,
        amount_incl_vat=excl + vat,
        type_code="381" if kind == "credit_note" else "380",
    )
