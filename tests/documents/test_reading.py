"""Reading documents through the API: only what the reader may see (404 otherwise,
through every path), the seven-year window, per-user read marks, PDF and XML with
safe caching headers, duplicates stamped and logged, streamed exports."""

from __future__ import annotations

import csv
import io
import shutil
import struct
import subprocess
import time
import zipfile
import zlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NameObject, StreamObject

from iportal import clock
from iportal.accounts.tables import AuditEvent, ClientNumber
from iportal.documents.publishing import Candidate, FileLimits, Job, Source, inspect
from iportal.documents.sandbox import Sandbox
from iportal.documents.storage import FolderBlobStore, blob_hash
from iportal.documents.tables import DuplicateRequest
from tests import factories
from tests.helpers import form_login

PASSWORD = factories.PASSWORD


@pytest.fixture
async def world(transaction: Any, settings: Any) -> dict[str, Any]:
    """Anna (main contact of two numbers), her accountant Luc (shared user of one of
    them), and Bert, main contact of another company."""
    store = FolderBlobStore(settings.blob_dir)
    issuer_id = await factories.issuer("DL2")
    mine = await factories.client_number(issuer_id, "DL20000001", contract_start=date(2010, 1, 1))
    also_mine = await factories.client_number(issuer_id, "DL20000002")
    theirs = await factories.client_number(issuer_id, "DL20000009")
    anna = await factories.user("anna@example.test")
    luc = await factories.user("luc@example.test")
    bert = await factories.user("bert@example.test")
    account = await factories.account(anna, mine, also_mine)
    await factories.account(bert, theirs)
    await factories.shared_user(account, luc, mine)
    docs = {}
    for key, number, values in (
        ("mine", mine, {"number": "F-1"}),
        ("also_mine", also_mine, {"number": "F-2"}),
        ("theirs", theirs, {"number": "F-9"}),
        ("credit", mine, {"number": "C-1", "type": "credit_note"}),
    ):
        pdf = factories.invoice_pdf(values["number"])
        values.setdefault("issue_date", clock.today() - timedelta(days=30))
        docs[key] = await factories.document(number, pdf_blob_hash=await store.put(pdf), **values)
    return {"docs": docs, "anna": anna, "luc": luc, "bert": bert}


async def login(client: httpx.AsyncClient, email: str) -> None:
    client.cookies.clear()
    response = await form_login(client, email, PASSWORD)
    assert response.status_code == 303


async def ids(client: httpx.AsyncClient, query: str = "") -> list[int]:
    response = await client.get(f"/api/v1/documents?{query}")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_each_reader_sees_exactly_their_numbers(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    docs = world["docs"]
    await login(client, "anna@example.test")
    assert set(await ids(client)) == {docs["mine"], docs["also_mine"], docs["credit"]}
    await login(client, "luc@example.test")
    assert set(await ids(client)) == {docs["mine"], docs["credit"]}
    await login(client, "bert@example.test")
    assert set(await ids(client)) == {docs["theirs"]}


async def test_the_client_number_drop_down_offers_only_visible_numbers_escaped(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await ClientNumber.update({ClientNumber.company_name: "<b>Anna & Co</b>"}).where(
        ClientNumber.client_code == "DL20000002"
    )
    await login(client, "anna@example.test")
    page = (await client.get("/documents?client_code=dl2-000-0002")).text
    select = page.split('id="f-client"')[1].split("</select>")[0]
    assert '<option value="DL20000001">DL20000001 — Test Company BV</option>' in select
    assert (
        '<option selected value="DL20000002">DL20000002 — &lt;b&gt;Anna &amp; Co&lt;/b&gt;</option>'
        in select
    )
    assert "DL20000009" not in select
    await login(client, "luc@example.test")
    select = (await client.get("/documents")).text.split('id="f-client"')[1].split("</select>")[0]
    assert "DL20000001" in select and "DL20000002" not in select and "selected" not in select


async def test_the_rows_escape_what_issuers_wrote_and_mark_unread(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any
) -> None:
    store = FolderBlobStore(settings.blob_dir)
    number = await ClientNumber.select(ClientNumber.id).where(
        ClientNumber.client_code == "DL20000001"
    )
    odd = await factories.document(
        number[0]["id"],
        number='<img src=x onerror="alert(1)">&',
        issue_date=clock.today() - timedelta(days=1),
        pdf_blob_hash=await store.put(factories.invoice_pdf("X-1")),
    )
    await login(client, "anna@example.test")
    page = (await client.get("/documents")).text
    assert "<img src=x" not in page
    before, after = page.split(f'value="{odd}"')
    row = before.rsplit("<tr ", 1)[1] + after.split("</tr>")[0]
    assert row.startswith('class="unread"') and "(unread)" in row
    assert f'<span id="n{odd}">&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;</span>' in row
    assert f'aria-labelledby="select-label n{odd}"' in row
    assert f'href="/api/v1/documents/{odd}/pdf"' in row


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/documents/{id}"),
        ("GET", "/api/v1/documents/{id}/pdf"),
        ("GET", "/api/v1/documents/{id}/xml"),
        ("POST", "/api/v1/documents/{id}/duplicate"),
    ],
)
async def test_another_readers_document_is_404_like_a_missing_one(
    client: httpx.AsyncClient, world: dict[str, Any], method: str, path: str
) -> None:
    await login(client, "luc@example.test")
    token = (await client.get("/api/v1/me")).headers.get("x-csrf-token")
    page = await client.get("/documents")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    headers = {"X-CSRF-Token": csrf}
    theirs = await client.request(method, path.format(id=world["docs"]["theirs"]), headers=headers)
    not_shared = await client.request(
        method, path.format(id=world["docs"]["also_mine"]), headers=headers
    )
    missing = await client.request(method, path.format(id=987654321), headers=headers)
    assert theirs.status_code == not_shared.status_code == missing.status_code == 404
    assert theirs.json() == missing.json() == not_shared.json()
    assert token is None or token  # the profile call above needs no token


async def test_exports_and_filters_never_reach_other_numbers(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    assert (await client.get("/api/v1/documents?client_code=DL20000009")).status_code == 404
    assert (await client.get("/api/v1/documents?client_code=DL20000002")).status_code == 404
    exported = await client.get("/api/v1/documents/export.csv")
    numbers = [row["number"] for row in csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")))]
    assert sorted(numbers) == ["C-1", "F-1"]
    archive = zipfile.ZipFile(
        io.BytesIO((await client.get("/api/v1/documents/export.zip")).content)
    )
    assert sorted(archive.namelist()) == [
        "DL20000001_credit_note_C-1.pdf",
        "DL20000001_invoice_F-1.pdf",
        "documents.csv",
    ]
    assert (
        await client.post(
            "/api/v1/documents/mark-read",
            json={"ids": [world["docs"]["theirs"]]},
            headers={"X-CSRF-Token": _csrf(await client.get("/documents"))},
        )
    ).json() == {"marked": 0}


def _csrf(page: httpx.Response) -> str:
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


async def test_revoking_a_grant_takes_effect_at_once(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    from iportal.sharing.tables import Grant

    await login(client, "luc@example.test")
    assert world["docs"]["mine"] in await ids(client)
    await Grant.delete(force=True)
    assert await ids(client) == []
    assert (await client.get(f"/api/v1/documents/{world['docs']['mine']}/pdf")).status_code == 404


async def test_the_window_is_seven_years_and_the_contract_start(
    client: httpx.AsyncClient, world: dict[str, Any], transaction: Any
) -> None:
    from iportal.accounts.tables import ClientNumber

    number = (
        await ClientNumber.select(ClientNumber.id)
        .where(ClientNumber.client_code == "DL20000001")
        .first()
    )["id"]
    today = clock.today()
    inside = await factories.document(
        number, number="OLD-IN", issue_date=today - timedelta(days=7 * 365 - 3)
    )
    outside = await factories.document(
        number, number="OLD-OUT", issue_date=today - timedelta(days=7 * 365 + 3)
    )
    await login(client, "anna@example.test")
    visible = await ids(client, "number=OLD*")
    assert visible == [inside]
    assert (await client.get(f"/api/v1/documents/{outside}")).status_code == 404
    await ClientNumber.update({ClientNumber.contract_start: today - timedelta(days=365)}).where(
        ClientNumber.id == number
    )
    assert await ids(client, "number=OLD*") == []


async def test_unread_is_per_user_until_they_open_the_pdf(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    mine = world["docs"]["mine"]
    await login(client, "anna@example.test")
    assert mine in await ids(client, "unread=1")
    pdf = await client.get(f"/api/v1/documents/{mine}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert mine not in await ids(client, "unread=1")
    await login(client, "luc@example.test")
    assert mine in await ids(client, "unread=1")  # Luc has not opened it
    opened = await AuditEvent.count().where(AuditEvent.kind == "document_opened")
    assert opened == 1


async def test_mark_read_for_a_selection(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    docs = world["docs"]
    await login(client, "anna@example.test")
    csrf = _csrf(await client.get("/documents"))
    response = await client.post(
        "/api/v1/documents/mark-read",
        json={"ids": [docs["mine"], docs["credit"]]},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.json() == {"marked": 2}
    assert await ids(client, "unread=1") == [docs["also_mine"]]
    refused = await client.post("/api/v1/documents/mark-read", json={"ids": [docs["also_mine"]]})
    assert refused.status_code == 403  # a cookie call without its CSRF token
    # The page's form: what is no id (a superscript digit too) is left out, never a 500.
    form = {"csrf_token": csrf, "ids": ["²", str(docs["also_mine"])]}
    assert (await client.post("/documents/mark-read", data=form)).status_code == 303
    assert await ids(client, "unread=1") == []


async def test_pdf_headers_name_the_file_and_keep_it_private(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    inline = await client.get(f"/api/v1/documents/{world['docs']['mine']}/pdf")
    assert inline.headers["content-type"] == "application/pdf"
    assert inline.headers["content-disposition"] == 'inline; filename="DL20000001_invoice_F-1.pdf"'
    assert inline.headers["cache-control"] == "no-store"
    assert "Cookie" in inline.headers["vary"] and "Authorization" in inline.headers["vary"]
    download = await client.get(f"/api/v1/documents/{world['docs']['mine']}/pdf?download=true")
    assert download.headers["content-disposition"].startswith("attachment;")
    listing = await client.get("/api/v1/documents")
    assert listing.headers["cache-control"] == "no-store"


async def test_a_duplicate_is_stamped_logged_and_audited(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    csrf = _csrf(await client.get("/documents"))
    response = await client.post(
        f"/api/v1/documents/{world['docs']['mine']}/duplicate", headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "DUPLICATE" in text and clock.today().isoformat() in text and "F-1" in text
    assert await DuplicateRequest.count() == 1
    assert await AuditEvent.count().where(AuditEvent.kind == "duplicate_requested") == 1


def zeros_deflated(size: int = 1 << 30) -> bytes:
    """`size` zero bytes, zlib-compressed (~1,000:1) in a fraction of a second: once the
    window is all zeros, every further mebibyte compresses to the same bytes."""
    mebibyte = bytes(1 << 20)
    compressor = zlib.compressobj(9)
    first = compressor.compress(mebibyte) + compressor.flush(zlib.Z_SYNC_FLUSH)
    steady = compressor.compress(mebibyte) + compressor.flush(zlib.Z_SYNC_FLUSH)
    end = compressor.flush()[:-4]  # the checksum is of the two mebibytes compressed
    checksum = 1
    for _ in range(size >> 20):
        checksum = zlib.adler32(mebibyte, checksum)
    return first + steady * ((size >> 20) - 1) + end + struct.pack(">I", checksum)


def flate_bomb_pdf() -> bytes:
    """An invoice whose page has a second content stream: a gibibyte of zeros (white
    space to a PDF reader) in a megabyte. Publishing reads no page's content: it takes
    it; stamping the page inflates it."""
    writer = PdfWriter(clone_from=io.BytesIO(factories.invoice_pdf("BOMB-1")))
    page = writer.pages[0]
    bomb = StreamObject()
    bomb._data = zeros_deflated()  # as stored: already encoded
    bomb[NameObject("/Filter")] = NameObject("/FlateDecode")
    contents = page.raw_get("/Contents")  # the reference: a stream is never direct
    page[NameObject("/Contents")] = ArrayObject([contents, writer._add_object(bomb)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_a_flate_bomb_is_refused_as_a_duplicate_not_a_server_error(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any, sandbox: Sandbox
) -> None:
    """A PDF that publishing accepts but whose page inflates to a gibibyte: stamping it
    runs under the sandbox's limits, and the reader gets a 422 with the reason."""
    store = FolderBlobStore(settings.blob_dir)
    pdf = flate_bomb_pdf()
    job = Job(
        Source("bomb.pdf", data=pdf), factories.metadata(), FileLimits(), clock.today(), store
    )
    accepted = await sandbox.run(inspect, job)
    assert isinstance(accepted, Candidate)  # publishing takes it
    await store.discard(accepted.staged)
    number = (
        await ClientNumber.select(ClientNumber.id)
        .where(ClientNumber.client_code == "DL20000001")
        .first()
    )["id"]
    bomb_id = await factories.document(
        number, number="BOMB-1", issue_date=clock.today(), pdf_blob_hash=await store.put(pdf)
    )
    await login(client, "anna@example.test")
    csrf = {"X-CSRF-Token": _csrf(await client.get("/documents"))}
    started = time.monotonic()
    response = await client.post(f"/api/v1/documents/{bomb_id}/duplicate", headers=csrf)
    assert response.status_code == 422, response.text
    assert "duplicate" in response.json()["detail"]
    assert time.monotonic() - started < 30
    assert await DuplicateRequest.count() == 0
    mine = await client.post(f"/api/v1/documents/{world['docs']['mine']}/duplicate", headers=csrf)
    assert mine.status_code == 200 and mine.content.startswith(b"%PDF")


async def test_csv_export_is_utf8_with_bom_and_decimal_amounts(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    response = await client.get("/api/v1/documents/export.csv?sort=number")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [row["number"] for row in rows] == ["C-1", "F-1", "F-2"]
    assert rows[0]["amount_incl_vat"] == "121.00" and rows[0]["type"] == "credit_note"


async def test_the_summary_counts_and_totals_credit_notes_negatively(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    summary = (await client.get("/api/v1/documents/summary")).json()
    assert summary["count"] == 3 and summary["more_than"] is False
    assert summary["totals"] == [
        {"currency": "EUR", "documents": 3, "total_incl_vat": str(Decimal("121.00"))}
    ]


async def test_beyond_the_cap_the_count_is_more_than_and_no_totals(
    world: dict[str, Any],
) -> None:
    from iportal.documents import reading
    from iportal.documents.reading import Filters

    reader = reading.reader_for(world["anna"])
    assert await reading.overview(reader, Filters(), cap=2) == reading.Overview(2, True, [])
    exact = await reading.overview(reader, Filters(), cap=3)
    assert (exact.count, exact.capped, len(exact.totals)) == (3, False, 1)


async def test_a_second_click_on_a_column_reverses_its_sort(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    page = (await client.get("/documents?sort=amount_incl_vat")).text
    header = page.split('aria-sort="ascending"')[1].split("</th>")[0]
    assert "sort=-amount_incl_vat" in header
    page = (await client.get("/documents?sort=-amount_incl_vat")).text
    header = page.split('aria-sort="descending"')[1].split("</th>")[0]
    assert "sort=amount_incl_vat" in header and "sort=-amount_incl_vat" not in header
    assert page.count('aria-sort="none"') == 5


async def test_structured_data_is_downloadable_and_in_the_zip(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any
) -> None:
    from iportal.accounts.tables import ClientNumber

    store = FolderBlobStore(settings.blob_dir)
    number = (
        await ClientNumber.select(ClientNumber.id)
        .where(ClientNumber.client_code == "DL20000002")
        .first()
    )["id"]
    xml = b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>"
    document_id = await factories.document(
        number,
        number="UBL-1",
        structured_kind="ubl",
        xml_blob_hash=await store.put(xml),
        pdf_blob_hash=None,
        issue_date=clock.today(),
    )
    await login(client, "anna@example.test")
    response = await client.get(f"/api/v1/documents/{document_id}/xml")
    assert response.content == xml and response.headers["content-type"].startswith(
        "application/xml"
    )
    no_xml = await client.get(f"/api/v1/documents/{world['docs']['mine']}/xml")
    assert no_xml.status_code == 404
    archive = zipfile.ZipFile(
        io.BytesIO((await client.get("/api/v1/documents/export.zip?number=UBL-1")).content)
    )
    assert "DL20000002_invoice_UBL-1.xml" in archive.namelist()


async def test_zip_export_is_a_valid_archive_of_the_pdfs_xml_and_csv(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    from iportal.accounts.tables import ClientNumber

    store = FolderBlobStore(settings.blob_dir)
    number = (
        await ClientNumber.select(ClientNumber.id)
        .where(ClientNumber.client_code == "DL20000002")
        .first()
    )["id"]
    pdf = factories.invoice_pdf("É-3")
    xml = b"<rsm:CrossIndustryInvoice xmlns:rsm='urn:un:unece:uncefact:data:standard'/>"
    await factories.document(
        number,
        number="É-3/a",
        structured_kind="factur_x",
        pdf_blob_hash=await store.put(pdf),
        xml_blob_hash=await store.put(xml),
        amount_excl_vat=Decimal("1234.5"),
        vat_amount=Decimal("259.25"),
        issue_date=clock.today(),
    )
    await login(client, "anna@example.test")
    response = await client.get("/api/v1/documents/export.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    infos = {info.filename: info for info in archive.infolist()}
    pdf_name, xml_name = "DL20000002_invoice_É-3-a.pdf", "DL20000002_invoice_É-3-a.xml"
    assert sorted(infos) == sorted(
        [
            "DL20000001_credit_note_C-1.pdf",
            "DL20000001_invoice_F-1.pdf",
            "DL20000002_invoice_F-2.pdf",
            pdf_name,
            xml_name,
            "documents.csv",
        ]
    )
    assert list(infos)[-1] == "documents.csv"
    for name, info in infos.items():
        content = archive.read(name)
        assert zlib.crc32(content) == info.CRC and info.file_size == len(content)
        if name.endswith(".pdf"):  # every PDF exactly as stored
            assert await store.exists(blob_hash(content)) and content.startswith(b"%PDF")
    assert archive.read(pdf_name) == pdf and archive.read(xml_name) == xml

    table = archive.read("documents.csv")
    assert table.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(table.decode("utf-8-sig"))))
    assert lines[0] == [
        "client_code",
        "type",
        "type_code",
        "number",
        "issue_date",
        "due_date",
        "currency",
        "amount_excl_vat",
        "vat_amount",
        "amount_incl_vat",
        "pdf_file",
        "xml_file",
    ]
    rows = {row["number"]: row for row in csv.DictReader(io.StringIO(table.decode("utf-8-sig")))}
    assert sorted(rows) == ["C-1", "F-1", "F-2", "É-3/a"]
    assert rows["É-3/a"] == {
        "client_code": "DL20000002",
        "type": "invoice",
        "type_code": "",
        "number": "É-3/a",
        "issue_date": clock.today().isoformat(),
        "due_date": "",
        "currency": "EUR",
        "amount_excl_vat": "1234.50",
        "vat_amount": "259.25",
        "amount_incl_vat": "1493.75",
        "pdf_file": pdf_name,
        "xml_file": xml_name,
    }
    assert rows["C-1"]["amount_incl_vat"] == "121.00" and rows["C-1"]["xml_file"] == ""
    assert {row["pdf_file"] for row in rows.values()} | {xml_name} == set(infos) - {"documents.csv"}

    if shutil.which("unzip"):  # Info-ZIP's own check too, where it is installed
        path = tmp_path / "export.zip"
        path.write_bytes(response.content)
        tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
        assert tested.returncode == 0, tested.stdout + tested.stderr


async def test_bad_filters_are_clear_4xx(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    await login(client, "anna@example.test")
    for query, word in (
        ("issued_from=yesterday", "issued_from"),
        ("amount_min=lots", "amount_min"),
        ("type=receipt", "receipt"),
        ("sort=colour", "colour"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("limit=5000", "200"),
    ):
        response = await client.get(f"/api/v1/documents?{query}")
        assert response.status_code in (400, 422), query
        assert word in response.json()["detail"], query
