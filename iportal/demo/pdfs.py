"""Invoice and credit note PDFs for the demo and the benchmarks, made with ReportLab.

The page shows what the portal lists (company, client code, number, dates,
amounts with their currency sign), so a person can compare the two. The text is set
in DejaVu Sans (a TTF font, embedded) when the system has it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from iportal.documents.fonts import font_name


@dataclass(frozen=True)
class InvoicePage:
    issuer_name: str
    issuer_address: str
    company_name: str
    client_code: str
    document_type: str  # "invoice" or "credit_note"
    number: str
    issue_date: date
    due_date: date | None
    currency: str
    lines: tuple[tuple[str, Decimal], ...]
    vat_rate: Decimal
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal


def money(amount: Decimal, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    symbol = "€" if currency == "EUR" else currency
    return f"{sign}{symbol} {grouped},{cents}"


def render_invoice(invoice: InvoicePage) -> bytes:
    """One A4 page; `invariant` makes the bytes the same for the same invoice."""
    buffer = io.BytesIO()
    font = font_name()
    title = "CREDIT NOTE" if invoice.document_type == "credit_note" else "INVOICE"
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    page.setTitle(f"{title} {invoice.number}")
    page.setAuthor(invoice.issuer_name)
    left, right, y = 50, 545, 790
    page.setFont(font, 16)
    page.drawString(left, y, invoice.issuer_name)
    page.setFont(font, 9)
    page.drawString(left, y - 14, invoice.issuer_address)
    page.setFont(font, 20)
    page.drawString(left, y - 60, f"{title} {invoice.number}")
    page.setFont(font, 11)
    y -= 90
    for label, value in (
        ("Client", invoice.company_name),
        ("Client number", invoice.client_code),
        ("Issue date", invoice.issue_date.isoformat()),
        ("Due date", invoice.due_date.isoformat() if invoice.due_date else "-"),
    ):
        page.drawString(left, y, label)
        page.drawString(left + 130, y, value)
        y -= 16
    y -= 20
    page.setFont(font, 10)
    for text, amount in invoice.lines:
        page.drawString(left, y, text)
        page.drawRightString(right, y, money(amount, invoice.currency))
        page.line(left, y - 4, right, y - 4)
        y -= 18
    y -= 12
    page.setFont(font, 11)
    for label, amount in (
        ("Total excl. VAT", invoice.amount_excl_vat),
        (f"VAT {invoice.vat_rate}%", invoice.vat_amount),
        ("Total incl. VAT", invoice.amount_incl_vat),
    ):
        page.drawRightString(right - 120, y, label)
        page.drawRightString(right, y, money(amount, invoice.currency))
        y -= 16
    page.showPage()
    page.save()
    return buffer.getvalue()
