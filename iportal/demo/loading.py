"""Loading the demo data: the rows an issuer's systems and the people would have
written, idempotent statement by statement, and seven years of invoice PDFs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from iportal import clock, db
from iportal.demo.data import (
    ACCOUNTANT_GRANTS,
    ACCOUNTS,
    DEMO_PASSWORD,
    ISSUERS,
    USERS,
    VAT_RATE,
    DemoNumber,
    DemoUser,
    demo_numbers,
    monthly_documents,
)
from iportal.demo.pdfs import InvoicePage, render_invoice
from iportal.documents.publishing import DocumentFields, record_document
from iportal.documents.storage import BlobStore
from iportal.security import hash_password

# The demo writes its rows the way an issuer's systems and the people would have: each
# statement is idempotent, so a second `iportal demo` adds nothing.
UPSERT_ISSUER_SQL = """
INSERT INTO issuer (prefix, name, language) VALUES ($1, $2, 'nl')
ON CONFLICT (prefix) DO UPDATE SET name = EXCLUDED.name RETURNING id
"""
USER_BY_EMAIL_SQL = "SELECT id FROM portal_user WHERE email = $1"
INSERT_USER_SQL = """
INSERT INTO portal_user (email, first_name, last_name, language, password_hash,
                         email_confirmed_at)
VALUES ($1, $2, $3, $4, $5, now()) RETURNING id
"""
UPSERT_ACCOUNT_SQL = """
INSERT INTO account (kind, login) VALUES ($1, $2)
ON CONFLICT (login) DO UPDATE SET kind = EXCLUDED.kind RETURNING id
"""
ADD_MAIN_CONTACT_SQL = """
INSERT INTO account_membership (account_id, user_id, role) VALUES ($1, $2, 'main_contact')
ON CONFLICT DO NOTHING
"""
UPSERT_CLIENT_NUMBER_SQL = """
INSERT INTO client_number (issuer_id, client_code, company_name, enterprise_number, email,
    first_name, last_name, language, contract_start, delivery_channel, account_id,
    activated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $12 THEN now() END)
ON CONFLICT (client_code) DO UPDATE SET company_name = EXCLUDED.company_name
RETURNING id
"""
UPSERT_SHARED_USER_SQL = """
INSERT INTO shared_user (account_id, user_id) VALUES ($1, $2)
ON CONFLICT ON CONSTRAINT shared_user_once_per_account
DO UPDATE SET account_id = EXCLUDED.account_id RETURNING id
"""
GRANT_SQL = """
INSERT INTO client_number_grant (shared_user_id, client_number_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING
"""
DOCUMENT_KEYS_SQL = "SELECT type, number FROM document WHERE client_number_id = $1"


async def _upsert_issuer(prefix: str, name: str) -> int:
    return int(await db.fetchval(UPSERT_ISSUER_SQL, prefix, name))


async def _upsert_user(user: DemoUser) -> int:
    existing = await db.fetchval(USER_BY_EMAIL_SQL, user.email)
    if existing is not None:
        return int(existing)
    password_hash = await hash_password(DEMO_PASSWORD)
    return int(
        await db.fetchval(
            INSERT_USER_SQL,
            user.email,
            user.first_name,
            user.last_name,
            user.language,
            password_hash,
        )
    )


async def _upsert_account(kind: str, login: str, main_contact_id: int) -> int:
    account_id = int(await db.fetchval(UPSERT_ACCOUNT_SQL, kind, login))
    await db.execute(ADD_MAIN_CONTACT_SQL, account_id, main_contact_id)
    return account_id


async def _upsert_number(number: DemoNumber, issuer_id: int, account_id: int | None) -> int:
    return int(
        await db.fetchval(
            UPSERT_CLIENT_NUMBER_SQL,
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
    )


async def _grant(account_id: int, user_id: int, client_number_ids: list[int]) -> None:
    shared_user_id = await db.fetchval(UPSERT_SHARED_USER_SQL, account_id, user_id)
    for client_number_id in client_number_ids:
        await db.execute(GRANT_SQL, shared_user_id, client_number_id)


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
        (row["type"], row["number"]) for row in await db.fetch(DOCUMENT_KEYS_SQL, client_number_id)
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
