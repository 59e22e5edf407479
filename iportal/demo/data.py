"""Demo data: two issuers, twenty client numbers, seven years of documents, users.

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
from typing import Any

from iportal import clock
from iportal.accounts.tables import ClientNumber
from iportal.demo.pdfs import InvoicePage, render_invoice
from iportal.documents.blobs import BlobStore
from iportal.documents.metadata import DocumentFields
from iportal.documents.services import record_document
from iportal.security import hash_password

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


async def _one(sql: str, *values: Any) -> int:
    rows = await ClientNumber.raw(sql, *values)
    return int(rows[0]["id"])


async def _upsert_issuer(prefix: str, name: str) -> int:
    return await _one(
        "INSERT INTO issuer (prefix, name, language) VALUES ({}, {}, 'nl') "
        "ON CONFLICT (prefix) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        prefix,
        name,
    )


async def _upsert_user(user: DemoUser) -> int:
    existing = await ClientNumber.raw("SELECT id FROM portal_user WHERE email = {}", user.email)
    if existing:
        return int(existing[0]["id"])
    return await _one(
        "INSERT INTO portal_user (email, first_name, last_name, language, password_hash, "
        "email_confirmed_at) VALUES ({}, {}, {}, {}, {}, now()) RETURNING id",
        user.email,
        user.first_name,
        user.last_name,
        user.language,
        await hash_password(DEMO_PASSWORD),
    )


async def _upsert_account(kind: str, login: str, main_contact_id: int) -> int:
    account_id = await _one(
        "INSERT INTO account (kind, login) VALUES ({}, {}) "
        "ON CONFLICT (login) DO UPDATE SET kind = EXCLUDED.kind RETURNING id",
        kind,
        login,
    )
    await ClientNumber.raw(
        "INSERT INTO account_membership (account_id, user_id, role) "
        "VALUES ({}, {}, 'main_contact') ON CONFLICT DO NOTHING",
        account_id,
        main_contact_id,
    )
    return account_id


async def _upsert_number(number: DemoNumber, issuer_id: int, account_id: int | None) -> int:
    return await _one(
        """
        INSERT INTO client_number (issuer_id, client_code, company_name, enterprise_number, email,
            first_name, last_name, language, contract_start, delivery_channel, account_id,
            activated_at)
        VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, CASE WHEN {} THEN now() END)
        ON CONFLICT (client_code) DO UPDATE SET company_name = EXCLUDED.company_name
        RETURNING id
        """,
        issuer_id,
        number.client_code,
        number.company_name,
        number.enterprise_number,
        number.email,
        number.first_name,
        number.last_name,
        number.language,
        number.contract_start,
        "electronic" if account_id else "paper",
        account_id,
        account_id is not None,
    )


async def _grant(account_id: int, user_id: int, client_number_ids: list[int]) -> None:
    shared_user_id = await _one(
        "INSERT INTO shared_user (account_id, user_id) VALUES ({}, {}) "
        "ON CONFLICT ON CONSTRAINT shared_user_once_per_account "
        "DO UPDATE SET account_id = EXCLUDED.account_id RETURNING id",
        account_id,
        user_id,
    )
    for client_number_id in client_number_ids:
        await ClientNumber.raw(
            "INSERT INTO client_number_grant (shared_user_id, client_number_id) VALUES ({}, {}) "
            "ON CONFLICT DO NOTHING",
            shared_user_id,
            client_number_id,
        )


@dataclass
class LoadReport:
    client_numbers: int = 0
    documents_added: int = 0
    documents_total: int = 0


async def load_demo(blobs: BlobStore, today: date | None = None) -> LoadReport:
    """Load (or complete) the demo data; safe to run any number of times."""
    today = today or clock.today()
    report = LoadReport()
    issuers = {
        prefix: (await _upsert_issuer(prefix, name), name, address)
        for prefix, name, address in ISSUERS
    }
    user_ids = {user.email: await _upsert_user(user) for user in USERS}
    numbers = demo_numbers(today)
    by_code = {number.client_code: number for number in numbers}
    account_of: dict[str, int] = {}
    account_ids: dict[str, int] = {}
    for key, (kind, email, codes) in ACCOUNTS.items():
        first = by_code[codes[0]]
        login = first.enterprise_number if kind == "b2b" and first.enterprise_number else email
        account_ids[key] = await _upsert_account(kind, login, user_ids[email])
        account_of.update({code: account_ids[key] for code in codes})
    number_ids = {}
    for number in numbers:
        issuer_id = issuers[number.client_code[:3]][0]
        number_ids[number.client_code] = await _upsert_number(
            number, issuer_id, account_of.get(number.client_code)
        )
    report.client_numbers = len(number_ids)
    accountant = user_ids["luc.janssens@accountants.example"]
    for key, codes in ACCOUNTANT_GRANTS.items():
        await _grant(account_ids[key], accountant, [number_ids[code] for code in codes])
    for number in numbers:
        _, issuer_name, address = issuers[number.client_code[:3]]
        added, total = await _load_documents(
            blobs, number, number_ids[number.client_code], issuer_name, address, today
        )
        report.documents_added += added
        report.documents_total += total
    return report


async def _load_documents(
    blobs: BlobStore,
    number: DemoNumber,
    client_number_id: int,
    issuer_name: str,
    address: str,
    today: date,
) -> tuple[int, int]:
    existing = {
        (row["type"], row["number"])
        for row in await ClientNumber.raw(
            "SELECT type, number FROM document WHERE client_number_id = {}", client_number_id
        )
    }
    added = total = 0
    for fields in monthly_documents(number, today):
        total += 1
        if (fields.type, fields.number) in existing:
            continue
        pdf = render_invoice(_page(number, fields, issuer_name, address))
        await record_document(blobs, client_number_id, fields, pdf, page_count=1)
        added += 1
    return added, total


def _page(
    number: DemoNumber, fields: DocumentFields, issuer_name: str, address: str
) -> InvoicePage:
    label = "Credit on lease" if fields.type == "credit_note" else "Operational lease"
    return InvoicePage(
        issuer_name=issuer_name,
        issuer_address=address,
        company_name=number.company_name,
        client_code=number.client_code,
        document_type=fields.type,
        number=fields.number,
        issue_date=fields.issue_date,
        due_date=fields.due_date,
        currency=fields.currency,
        lines=((f"{label}, {fields.issue_date:%B %Y}", fields.amount_excl_vat),),
        vat_rate=VAT_RATE,
        amount_excl_vat=fields.amount_excl_vat,
        vat_amount=fields.vat_amount,
        amount_incl_vat=fields.amount_incl_vat,
    )
