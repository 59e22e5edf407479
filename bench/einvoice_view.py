"""What making a PDF from an e-invoice's XML costs, against a floor, and beside what
publishing spends reading the same file.

Default run: N UBL invoices (default 1,000; 1 to 50 lines each, seeded) made into PDFs
by `pdf_of_xml` (parse the XML, build the readable view in the reader's language, lay
it out with ReportLab's platypus), in documents per second, against the floor: bare
ReportLab (`canvas.drawString`, same font, same compression) drawing the same number of
pages with the same strings (every value of the view, each line's cells, the mark on
every page) in a bare loop. Both run in this process on one core, interleaved in blocks
of 50 so that a shared machine's load falls on both alike. Target: at least 50 % of the
floor.

    .venv/bin/python bench/einvoice_view.py [--n 1000] [--seed 7]
    .venv/bin/python bench/einvoice_view.py --files [--repeat 15]

`--files` times, per e-invoice (our fixtures and the shared real samples when present),
`read_structured` (what publishing does to a file) beside the view and the PDF made from
its XML: rendering at publishing would add the PDF column to every structured document;
made on demand (what the portal does), publishing pays nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from iportal import i18n
from iportal.documents.einvoice_view import RENDERING_MARK, ShownInvoice, pdf_of_xml, view_of_xml
from iportal.documents.fonts import font_name
from iportal.documents.publishing.einvoice import read_structured

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = (ROOT / "tests" / "documents" / "fixtures", ROOT.parent / "shared" / "einvoice-samples")
LANGUAGE = "fr"
BLOCK = 50
CENT = Decimal("0.01")
ARTICLES = (
    "Full-service lease {plate}, month {month}",
    "Fuel card, station {n}, diesel {litres} l",
    "Replacement vehicle, {days} days",
    "Tyres, winter set, {plate}",
    "Maintenance, {km} km service, {plate}",
    "Damage repair, claim {n}",
    "Road tax and registration, {plate}",
    "Insurance, omnium, {plate}, month {month}",
)


# --- the invoices -------------------------------------------------------------------------


def ubl_invoice(number: int, lines: int, rng: random.Random) -> bytes:
    """A Peppol BIS 3.0 invoice with `lines` lines at 21 % and 6 %, stated totals true."""
    issued = date(2026, 1, 1) + timedelta(days=rng.randrange(330))
    rows, taxable = [], {Decimal(21): Decimal(0), Decimal(6): Decimal(0)}
    for i in range(1, lines + 1):
        rate = Decimal(21) if rng.random() < 0.8 else Decimal(6)
        quantity = Decimal(rng.randrange(1, 12))
        price = Decimal(rng.randrange(500, 90_000)) / 100
        net = (quantity * price).quantize(CENT)
        taxable[rate] += net
        name = rng.choice(ARTICLES).format(
            plate=f"1-{rng.choice('ABCDEFGH')}{rng.choice('KLMNPR')}X-{rng.randrange(100, 999)}",
            month=f"{issued:%Y-%m}",
            n=rng.randrange(1000, 9999),
            litres=rng.randrange(20, 80),
            days=rng.randrange(1, 30),
            km=rng.randrange(1, 12) * 15_000,
        )
        rows.append(
            f"<cac:InvoiceLine><cbc:ID>{i}</cbc:ID>"
            f'<cbc:InvoicedQuantity unitCode="C62">{quantity}</cbc:InvoicedQuantity>'
            f'<cbc:LineExtensionAmount currencyID="EUR">{net}</cbc:LineExtensionAmount>'
            f"<cac:Item><cbc:Description>Contract LC-{number:06d}, {issued:%B %Y}"
            f"</cbc:Description><cbc:Name>{name}</cbc:Name>"
            "<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID>"
            f"<cbc:Percent>{rate}</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>"
            "</cac:ClassifiedTaxCategory></cac:Item>"
            f'<cac:Price><cbc:PriceAmount currencyID="EUR">{price}</cbc:PriceAmount></cac:Price>'
            "</cac:InvoiceLine>"
        )
    vat = {rate: (amount * rate / 100).quantize(CENT) for rate, amount in taxable.items() if amount}
    excl = sum(taxable.values(), Decimal(0))
    vat_total = sum(vat.values(), Decimal(0))
    subtotals = "".join(
        f'<cac:TaxSubtotal><cbc:TaxableAmount currencyID="EUR">{taxable[rate]}</cbc:TaxableAmount>'
        f'<cbc:TaxAmount currencyID="EUR">{amount}</cbc:TaxAmount><cac:TaxCategory>'
        f"<cbc:ID>S</cbc:ID><cbc:Percent>{rate}</cbc:Percent>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal>"
        for rate, amount in vat.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'
        ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"'
        ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        "<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:"
        f"billing:3.0</cbc:CustomizationID><cbc:ID>BX-{number:06d}</cbc:ID>"
        f"<cbc:IssueDate>{issued}</cbc:IssueDate>"
        f"<cbc:DueDate>{issued + timedelta(days=30)}</cbc:DueDate>"
        "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
        "<cbc:Note>Payable within 30 days. Late payment: interest at the legal rate.</cbc:Note>"
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        f"<cbc:BuyerReference>BX1{number:07d}</cbc:BuyerReference>"
        f"<cac:OrderReference><cbc:ID>PO-{number}</cbc:ID></cac:OrderReference>"
        "<cac:AccountingSupplierParty><cac:Party>"
        '<cbc:EndpointID schemeID="0208">0403170701</cbc:EndpointID>'
        "<cac:PostalAddress><cbc:StreetName>Wetstraat 1</cbc:StreetName>"
        "<cbc:CityName>Brussel</cbc:CityName><cbc:PostalZone>1000</cbc:PostalZone>"
        "<cac:Country><cbc:IdentificationCode>BE</cbc:IdentificationCode></cac:Country>"
        "</cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>BE0403170701</cbc:CompanyID>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        "<cac:PartyLegalEntity><cbc:RegistrationName>Bench Lease NV</cbc:RegistrationName>"
        "</cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty>"
        "<cac:AccountingCustomerParty><cac:Party>"
        '<cbc:EndpointID schemeID="0208">0123456749</cbc:EndpointID>'
        f"<cac:PostalAddress><cbc:StreetName>Rue du Client {number}</cbc:StreetName>"
        "<cbc:CityName>Liège</cbc:CityName><cbc:PostalZone>4000</cbc:PostalZone>"
        "<cac:Country><cbc:IdentificationCode>BE</cbc:IdentificationCode></cac:Country>"
        "</cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>BE0123456749</cbc:CompanyID>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        f"<cac:PartyLegalEntity><cbc:RegistrationName>Client {number} SRL</cbc:RegistrationName>"
        "</cac:PartyLegalEntity></cac:Party></cac:AccountingCustomerParty>"
        "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>"
        f"<cbc:PaymentID>+++{number % 1000:03d}/4567/89002+++</cbc:PaymentID>"
        "<cac:PayeeFinancialAccount><cbc:ID>BE71096123456769</cbc:ID>"
        "<cac:FinancialInstitutionBranch><cbc:ID>GKCCBEBB</cbc:ID>"
        "</cac:FinancialInstitutionBranch></cac:PayeeFinancialAccount></cac:PaymentMeans>"
        f'<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">{vat_total}</cbc:TaxAmount>{subtotals}'
        "</cac:TaxTotal><cac:LegalMonetaryTotal>"
        f'<cbc:LineExtensionAmount currencyID="EUR">{excl}</cbc:LineExtensionAmount>'
        f'<cbc:TaxExclusiveAmount currencyID="EUR">{excl}</cbc:TaxExclusiveAmount>'
        f'<cbc:TaxInclusiveAmount currencyID="EUR">{excl + vat_total}</cbc:TaxInclusiveAmount>'
        f'<cbc:PayableAmount currencyID="EUR">{excl + vat_total}</cbc:PayableAmount>'
        f"</cac:LegalMonetaryTotal>{''.join(rows)}</Invoice>"
    ).encode()


# --- the floor ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FloorJob:
    """What the floor draws for one invoice: its strings, row by row, on `pages` pages."""

    title: str
    rows: tuple[tuple[str, ...], ...]
    pages: int


def floor_job(view: ShownInvoice, pages: int) -> FloorJob:
    rows: list[tuple[str, ...]] = [(view.title,)]
    rows += [(label, value) for label, value in view.facts]
    for party in view.parties:
        rows += [(party.title,), (party.name,), *((k, v) for k, v in party.details)]
    rows.append(view.line_headings)
    for line in view.lines:
        rows.append(line.cells)
        rows += [("", detail) for detail in line.details]
    rows += [tuple(row) for row in view.allowances_charges]
    rows += [view.vat_headings, *(tuple(row) for row in view.vat_rows)]
    rows += [*view.totals, ("", view.payable), *view.payment]
    rows += [(note,) for note in view.notes]
    return FloorJob(view.title, tuple(rows), pages)


def draw_floor(job: FloorJob, mark: str) -> bytes:
    """Bare ReportLab: the same strings, the same number of pages, the same font."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    font = font_name()
    per_page = -(-len(job.rows) // job.pages)
    columns = (15 * mm, 25 * mm, 93 * mm, 110 * mm, 130 * mm, 153 * mm, 168 * mm)
    for page in range(job.pages):
        canvas.setFont(font, 7.5)
        canvas.drawString(15 * mm, A4[1] - 10 * mm, mark)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"{job.title} — {page + 1}")
        canvas.setFont(font, 8.5)
        y = A4[1] - 20 * mm
        for row in job.rows[page * per_page : (page + 1) * per_page]:
            for x, text in zip(columns, row, strict=False):
                canvas.drawString(x, y, text[:400])
            y -= 10.5
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- the run --------------------------------------------------------------------------------


def main_bench(n: int, seed: int) -> None:
    rng = random.Random(seed)
    counts = [rng.randint(1, 50) for _ in range(n)]
    invoices = [ubl_invoice(i, lines, rng) for i, lines in enumerate(counts, start=1)]
    with i18n.using_language(LANGUAGE):
        mark = i18n.gettext(RENDERING_MARK)
    pdf_of_xml(invoices[0], LANGUAGE)  # fonts, catalogues and ReportLab loaded once
    draw_floor(FloorJob("warm-up", (("x",),), 1), mark)

    ours = floor = 0.0
    pages_total = 0
    for start in range(0, n, BLOCK):
        block = invoices[start : start + BLOCK]
        began = time.perf_counter()
        pdfs = [pdf_of_xml(xml, LANGUAGE) for xml in block]
        ours += time.perf_counter() - began
        # Outside the clock: what the floor is to draw, from the same view and page count.
        jobs = []
        for xml, pdf in zip(block, pdfs, strict=True):
            pages = len(PdfReader(io.BytesIO(pdf)).pages)
            pages_total += pages
            jobs.append(floor_job(view_of_xml(xml, LANGUAGE), pages))
        began = time.perf_counter()
        for job in jobs:
            draw_floor(job, mark)
        floor += time.perf_counter() - began

    ours_rate, floor_rate = n / ours, n / floor
    print(
        f"{date.today()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{n:,} UBL invoices, {min(counts)}-{max(counts)} lines "
        f"(mean {statistics.mean(counts):.1f}), {pages_total:,} pages "
        f"({pages_total / n:.2f} per invoice), language {LANGUAGE}"
    )
    print(f"{'run':44} {'seconds':>8} {'docs/s':>8} {'pages/s':>8}")
    for label, seconds in (
        ("pdf_of_xml (XML -> view -> platypus PDF)", ours),
        ("floor: bare ReportLab, same pages and text", floor),
    ):
        print(f"{label:44} {seconds:8.1f} {n / seconds:8.1f} {pages_total / seconds:8.1f}")
    ratio = ours_rate / floor_rate
    verdict = "met" if ratio >= 0.5 else "NOT met"
    print(f"ratio {ratio:.2f} of the floor (target >= 0.50: {verdict})")


def median_ms(function: Callable[..., Any], *args: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def per_file(repeat: int) -> None:
    print(f"{'file':48} {'publish read':>12} {'view':>8} {'PDF':>8} {'PDF/read':>9}")
    for folder in FOLDERS:
        for path in sorted(folder.glob("*")):
            if path.suffix not in (".xml", ".pdf"):
                continue
            data = path.read_bytes()
            invoice = read_structured(data)
            if invoice is None:
                continue
            pdf_of_xml(invoice.xml, LANGUAGE)  # fonts and catalogues loaded once
            read = median_ms(read_structured, data, repeat=repeat)
            view = median_ms(view_of_xml, invoice.xml, LANGUAGE, repeat=repeat)
            pdf = median_ms(pdf_of_xml, invoice.xml, LANGUAGE, repeat=repeat)
            name = path.name[:48]
            print(f"{name:48} {read:10.1f}ms {view:6.1f}ms {pdf:6.1f}ms {pdf / read:8.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="invoices to render (default 1,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--files", action="store_true", help="the per-file table instead")
    parser.add_argument("--repeat", type=int, default=15, help="with --files: runs per file")
    args = parser.parse_args()
    if args.files:
        per_file(args.repeat)
    else:
        main_bench(args.n, args.seed)


if __name__ == "__main__":
    main()
