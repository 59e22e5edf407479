"""Rows for tests, with sensible defaults; every factory returns the new row's id."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from iportal.accounts.tables import Account, AccountMembership, ClientNumber, Issuer, PortalUser
from iportal.documents.tables import Document
from iportal.security import PASSWORD_HASHER
from iportal.sharing.tables import Grant, SharedUser

_sequence = itertools.count(1)
PASSWORD = "correct horse battery staple"
# Hashed once: argon2 is deliberately slow.
PASSWORD_HASH = PASSWORD_HASHER.hash(PASSWORD)


def _next() -> int:
    return next(_sequence)


async def _insert(table: Any, **values: Any) -> int:
    rows = await table.insert(table(**values)).returning(table.id)
    return int(rows[0]["id"])


async def issuer(prefix: str | None = None, name: str = "Test Lease NV") -> int:
    prefix = prefix or f"T{_next():03d}"
    return await _insert(Issuer, prefix=prefix, name=name)


async def client_number(
    issuer_id: int | None = None, client_code: str | None = None, **values: Any
) -> int:
    issuer_id = issuer_id or await issuer()
    prefix = (await Issuer.select(Issuer.prefix).where(Issuer.id == issuer_id).first())["prefix"]
    values.setdefault("company_name", "Test Company BV")
    values.setdefault("email", f"client{_next()}@example.test")
    values.setdefault("contract_start", date(2015, 1, 1))
    return await _insert(
        ClientNumber,
        issuer=issuer_id,
        client_code=client_code or f"{prefix}{_next():07d}",
        **values,
    )


async def user(
    email: str | None = None, *, password_hash: str | None = PASSWORD_HASH, **values: Any
) -> int:
    return await _insert(
        PortalUser,
        email=email or f"user{_next()}@example.test",
        password_hash=password_hash,
        **values,
    )


async def account(
    main_contact_id: int, *client_number_ids: int, kind: str = "b2b", login: str | None = None
) -> int:
    account_id = await _insert(Account, kind=kind, login=login or f"login-{_next()}")
    await _insert(AccountMembership, account=account_id, user=main_contact_id)
    for client_number_id in client_number_ids:
        await ClientNumber.update(
            {ClientNumber.account: account_id, ClientNumber.delivery_channel: "electronic"}
        ).where(ClientNumber.id == client_number_id)
    return account_id


async def shared_user(account_id: int, user_id: int, *client_number_ids: int) -> int:
    shared_user_id = await _insert(SharedUser, account=account_id, user=user_id)
    for client_number_id in client_number_ids:
        await _insert(Grant, shared_user=shared_user_id, client_number=client_number_id)
    return shared_user_id


async def document(client_number_id: int, **values: Any) -> int:
    excl = values.pop("amount_excl_vat", Decimal("100.00"))
    vat = values.pop("vat_amount", Decimal("21.00"))
    values.setdefault("amount_incl_vat", excl + vat)
    values.setdefault("type", "invoice")
    values.setdefault("number", f"F-{_next()}")
    values.setdefault("issue_date", date(2024, 1, 31))
    values.setdefault("pdf_blob_hash", "0" * 64)
    return await _insert(
        Document, client_number=client_number_id, amount_excl_vat=excl, vat_amount=vat, **values
    )


def invoice_pdf(
    number: str = "F2024-001",
    client_code: str = "DL20012345",
    amount: str = "100.00",
    pages: int = 1,
) -> bytes:
    """A real one-page invoice PDF (more pages on request), different for each number."""
    from datetime import date as day

    from iportal.demo.pdfs import InvoicePage, render_invoice

    excl = Decimal(amount)
    vat = (excl * Decimal("0.21")).quantize(Decimal("0.01"))
    page = InvoicePage(
        issuer_name="Test Lease NV",
        issuer_address="Teststraat 1, 1000 Brussel",
        company_name="Test Company BV",
        client_code=client_code,
        document_type="invoice",
        number=number,
        issue_date=day(2024, 1, 31),
        due_date=day(2024, 2, 29),
        currency="EUR",
        lines=(("Lease", excl),) * pages,
        vat_rate=Decimal("21"),
        amount_excl_vat=excl,
        vat_amount=vat,
        amount_incl_vat=excl + vat,
    )
    pdf = render_invoice(page)
    if pages == 1:
        return pdf
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_page(PdfReader(io.BytesIO(pdf)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def metadata(
    client_code: str = "DL20012345", number: str = "F2024-001", **values: str
) -> dict[str, str]:
    base = {
        "client_code": client_code,
        "type": "invoice",
        "number": number,
        "issue_date": "2024-01-31",
        "due_date": "2024-02-29",
        "currency": "EUR",
        "amount_excl_vat": "100.00",
        "vat_amount": "21.00",
        "amount_incl_vat": "121.00",
    }
    base.update(values)
    return base


async def issuer_with_key(
    prefix: str | None = None, name: str = "Test Lease NV"
) -> tuple[int, str]:
    """An issuer and a live API key: (issuer id, the key its billing system sends)."""
    from iportal.accounts.services import create_api_key

    issuer_id = await issuer(prefix, name)
    row = await Issuer.select(Issuer.prefix).where(Issuer.id == issuer_id).first()
    return issuer_id, await create_api_key(row["prefix"], "tests")
