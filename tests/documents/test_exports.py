"""Exports that open right: the CSV in the reader's convention (`;` and a decimal comma
in nl, fr and de, `,` and a point in en, or the `format` asked), read back with Python's
csv module to the API's rows and amounts; the XLSX read back with openpyxl to typed
cells and the selection's totals; each export audited with its format."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pytest

from iportal import clock, db
from iportal.accounts.tables import PortalUser
from tests import factories
from tests.helpers import form_login

AMOUNTS = ("amount_excl_vat", "vat_amount", "amount_incl_vat")


@pytest.fixture
async def world(transaction: Any) -> dict[str, Any]:
    """Anna (Dutch) sees two numbers of Peeters BV: invoices, a credit note, a negative
    corrective invoice and one whose number an issuer made look like a formula."""
    issuer_id = await factories.issuer("DL2")
    first = await factories.client_number(issuer_id, "DL20000001", company_name="Peeters BV")
    second = await factories.client_number(issuer_id, "DL20000002", company_name="Peeters BV")
    anna = await factories.user("anna@example.test", language="nl")
    await factories.account(anna, first, second)
    day = clock.today() - timedelta(days=40)
    for number, values in (
        (first, {"number": "F-1", "amount_excl_vat": Decimal("1234.50")}),
        (first, {"number": "C-1", "type": "credit_note", "amount_excl_vat": Decimal("100")}),
        (
            second,
            {
                "number": "F-2",
                "type_code": "384",
                "amount_excl_vat": Decimal("-12.50"),
                "vat_amount": Decimal("-2.63"),
                "due_date": day + timedelta(days=30),
            },
        ),
        (second, {"number": "=HYPERLINK(1)", "amount_excl_vat": Decimal("0.10")}),
    ):
        await factories.document(number, issue_date=day, **values)
    return {"anna": anna}


async def login(client: httpx.AsyncClient, email: str = "anna@example.test") -> None:
    client.cookies.clear()
    assert (await form_login(client, email, factories.PASSWORD)).status_code == 303


async def api_items(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/v1/documents", params={"sort": "number"})
    return {item["number"]: item for item in response.json()["items"]}


def read_csv(content: bytes, delimiter: str, decimal: str) -> dict[str, dict[str, Any]]:
    assert content.startswith("\ufeff".encode())
    rows = csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter)
    read = {}
    for row in rows:
        for name in AMOUNTS:
            assert "." not in row[name] if decimal == "," else "," not in row[name]
            row[name] = Decimal(row[name].replace(decimal, "."))
        read[row["number"].removeprefix("'")] = row
    return read


@pytest.mark.parametrize(
    ("language", "asked", "delimiter", "decimal"),
    [
        ("nl", None, ";", ","),
        ("fr", None, ";", ","),
        ("de", None, ";", ","),
        ("en", None, ",", "."),
        ("nl", "excel-en", ",", "."),
        ("en", "excel-eu", ";", ","),
    ],
)
async def test_the_csv_reads_back_to_the_apis_rows_in_each_convention(
    client: httpx.AsyncClient,
    world: dict[str, Any],
    language: str,
    asked: str | None,
    delimiter: str,
    decimal: str,
) -> None:
    await PortalUser.update({PortalUser.language: language}).where(PortalUser.id == world["anna"])
    await login(client)
    params = {"sort": "number", **({"format": asked} if asked else {})}
    response = await client.get("/api/v1/documents/export.csv", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    exported = read_csv(response.content, delimiter, decimal)
    items = await api_items(client)
    assert list(exported) == sorted(items) and len(items) == 4
    for number, item in items.items():
        row = exported[number]
        assert (row["client_code"], row["type"], row["issue_date"]) == (
            item["client_code"],
            item["type"],
            item["issue_date"],
        )
        for name in AMOUNTS:
            assert row[name] == Decimal(item[name]), (number, name)
    assert exported["F-1"]["amount_incl_vat"] == Decimal("1255.50")


async def test_an_unknown_csv_format_is_a_422_naming_it(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client)
    response = await client.get("/api/v1/documents/export.csv", params={"format": "xls"})
    assert response.status_code == 422
    assert "xls" in response.json()["detail"] and "excel-eu" in response.json()["detail"]


async def test_the_zip_holds_the_csv_in_the_readers_convention(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    import zipfile

    await login(client)
    archive = (await client.get("/api/v1/documents/export.zip")).content
    inside = zipfile.ZipFile(io.BytesIO(archive)).read("documents.csv")
    assert read_csv(inside, ";", ",")["F-1"]["amount_incl_vat"] == Decimal("1255.50")


async def test_the_xlsx_has_typed_cells_a_frozen_header_and_the_totals(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client)
    response = await client.get("/api/v1/documents/export.xlsx", params={"sort": "number"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["content-disposition"].endswith('.xlsx"')
    assert response.headers["cache-control"] == "no-store"
    book = openpyxl.load_workbook(io.BytesIO(response.content))  # formulas as written
    sheet = book.active
    assert sheet is not None and sheet.title == "Documenten"
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Klantnummer", "Bedrijf", "Type", "Nummer", "Factuurdatum")
    items = await api_items(client)
    listed = rows[1 : 1 + len(items)]
    assert [row[3] for row in listed] == sorted(items)
    for row in listed:
        item = items[row[3]]
        assert row[0] == item["client_code"] and row[1] == "Peeters BV"
        assert row[2] == ("Creditnota" if item["type"] == "credit_note" else "Factuur")
        assert isinstance(row[4], datetime | date)
        assert row[4].date() == date.fromisoformat(item["issue_date"])
        due = item["due_date"]
        assert (row[5].date() if row[5] else None) == (date.fromisoformat(due) if due else None)
        for value, name in zip(row[7:10], AMOUNTS, strict=True):
            assert isinstance(value, int | float), (row, name)
            assert abs(Decimal(str(value)) - Decimal(item[name])) < Decimal("0.005")
    # The number that looks like a formula stays text.
    cells = {cell.value: cell for cell in sheet["D"]}
    assert cells["=HYPERLINK(1)"].data_type == "s"
    # Below an empty row, the totals: invoices minus credit notes, as the summary says.
    assert not any(rows[1 + len(items)])
    total = rows[2 + len(items)]
    assert total[0] == "Totaal EUR (facturen min creditnota's)"
    summary = (await client.get("/api/v1/documents/summary")).json()
    assert abs(Decimal(str(total[9])) - Decimal(summary["totals"][0]["total_incl_vat"])) < Decimal(
        "0.005"
    )
    expected_excl = Decimal("1234.50") - Decimal("100") - Decimal("12.50") + Decimal("0.10")
    assert abs(Decimal(str(total[7])) - expected_excl) < Decimal("0.005")
    number_formats = {sheet.cell(row=2, column=c).number_format for c in (8, 9, 10)}
    assert number_formats == {"#,##0.00"}
    assert sheet.cell(row=2, column=5).number_format == "yyyy-mm-dd"


async def test_each_export_is_audited_with_its_format(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client)
    await client.get("/api/v1/documents/export.xlsx", params={"type": "invoice"})
    await client.get("/api/v1/documents/export.csv", params={"format": "excel-en"})
    await client.get("/api/v1/documents/export.csv")
    rows = await db.fetch(
        "SELECT detail FROM audit_event WHERE kind = 'document_exported' ORDER BY id"
    )
    details = [json.loads(row["detail"]) for row in rows]
    assert [(d["format"], d.get("csv_format"), d["count"]) for d in details] == [
        ("xlsx", None, 3),
        ("csv", "excel-en", 4),
        ("csv", "excel-eu", 4),
    ]


async def test_the_page_offers_csv_excel_and_zip_of_the_selection(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client)
    page = (await client.get("/documents", params={"type": "invoice"})).text
    for export in ("export.csv", "export.xlsx", "export.zip"):
        assert f'href="/api/v1/documents/{export}?type=invoice&amp;sort=-issue_date"' in page
    assert "Exporteren als Excel (XLSX)" in page


async def test_a_selection_longer_than_a_sheet_goes_on_to_another(
    client: httpx.AsyncClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from iportal.documents.reading import workbook

    monkeypatch.setattr(workbook, "ROWS_PER_SHEET", 3)  # Excel's limit is 1,048,576 rows
    await login(client)
    response = await client.get("/api/v1/documents/export.xlsx", params={"sort": "number"})
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Documenten", "Documenten (2)"]
    first, second = (list(book[name].iter_rows(values_only=True)) for name in book.sheetnames)
    assert first[0] == second[0] and book["Documenten (2)"].freeze_panes == "A2"
    assert [row[3] for row in first[1:]] + [second[1][3]] == sorted(await api_items(client))
    assert second[-1][0] == "Totaal EUR (facturen min creditnota's)"
