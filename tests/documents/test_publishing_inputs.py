"""What an issuer may not publish, whatever the file says: a number that is not one line
of text, dates no person means, a file that only contains a PDF, metadata that is not a
flat JSON object. Each is a 422 in the issuer's language (nl here) that stores nothing."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock
from iportal.documents.tables import Document
from iportal.i18n import translate
from iportal.notifications.tables import OutboxEmail
from tests import factories
from tests.documents.test_publishing import blob_exists, issuer, post  # noqa: F401

NOT_ONE_LINE = (
    "The document number contains a control character (a line break, a tab or an "
    "invisible character); a number is one line of text."
)
TOO_EARLY = "The issue date %(date)s is before %(earliest)s: no document here is that old."
DUE_TOO_LATE = "The due date %(due)s is more than %(years)s years after the issue date %(issued)s."
NOT_A_PDF = "This is not a PDF: its content does not start like one."


async def refused(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],  # noqa: F811
    settings: Any,
    content: bytes,
    meta: dict[str, str] | str,
    message: str,
) -> None:
    if isinstance(meta, str):  # metadata sent as it is, not as JSON of a dict
        response = await client.post(
            "/api/v1/issuer/documents",
            headers=issuer["auth"],
            files={"file": ("invoice.pdf", content, "application/octet-stream")},
            data={"metadata": meta},
        )
    else:
        response = await post(client, issuer, content, meta)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == message
    assert await Document.count() == 0
    assert await OutboxEmail.count() == 0
    assert not await blob_exists(settings, content)


@pytest.mark.parametrize(
    "number", ["F2024\r\n001", "F2024\n001", "F2024\t001", "F\x00001", "F\x85001", "F\x7f"]
)
async def test_a_number_is_one_line_of_text(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],  # noqa: F811
    settings: Any,
    number: str,
) -> None:
    pdf = factories.invoice_pdf(number=repr(number))
    message = translate(NOT_ONE_LINE, "nl")
    await refused(client, issuer, settings, pdf, factories.metadata(number=number), message)


async def test_dates_no_person_means_are_refused(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],  # noqa: F811
    settings: Any,
) -> None:
    pdf = factories.invoice_pdf(number="D-1")
    for issued, due in (("0001-01-01", "0001-02-01"), ("1970-01-01", ""), ("1999-12-31", "")):
        message = translate(TOO_EARLY, "nl", date=issued, earliest="2000-01-01")
        meta = factories.metadata(number="D-1", issue_date=issued, due_date=due)
        await refused(client, issuer, settings, pdf, meta, message)
    for due in ("9999-12-31", "2034-02-01"):
        message = translate(DUE_TOO_LATE, "nl", due=due, years=10, issued="2024-01-31")
        meta = factories.metadata(number="D-1", due_date=due)
        await refused(client, issuer, settings, pdf, meta, message)
    # The edges are in: the first day of 2000, a due date ten years on, tomorrow.
    for number, issued, due in (
        ("D-2", "2000-01-01", "2010-01-01"),
        ("D-3", (clock.today() + timedelta(days=1)).isoformat(), ""),
    ):
        meta = factories.metadata(number=number, issue_date=issued, due_date=due)
        published = await post(client, issuer, factories.invoice_pdf(number=number), meta)
        assert published.status_code == 201, published.text


async def test_a_zip_that_holds_a_pdf_is_not_a_pdf(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],  # noqa: F811
    settings: Any,
) -> None:
    pdf = factories.invoice_pdf(number="Z-1")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.writestr("invoice.pdf", pdf)
    zipped = archive.getvalue()
    assert b"%PDF-" in zipped[:100]  # where a lenient reader would find it
    meta = factories.metadata(number="Z-1")
    await refused(client, issuer, settings, zipped, meta, translate(NOT_A_PDF, "nl"))
    # Text before the header (a mail header left in front) is what readers allow.
    prefixed = b"Content-Type: application/pdf\r\n\r\n" + pdf
    published = await post(client, issuer, prefixed, meta)
    assert published.status_code == 201, published.text


async def test_metadata_must_be_a_flat_json_object(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],  # noqa: F811
    settings: Any,
) -> None:
    pdf = factories.invoice_pdf(number="M-1")
    deep = '{"number": ' * 10_000 + '"M-1"' + "}" * 10_000
    message = translate("The metadata is nested too deeply: it is a flat JSON object.", "nl")
    await refused(client, issuer, settings, pdf, deep, message)
    nested = json.dumps(factories.metadata(number="M-1") | {"number": ["M-1"]})  # type: ignore[dict-item]
    message = translate(
        "The metadata field “%(field)s” is not a text or a number.", "nl", field="number"
    )
    await refused(client, issuer, settings, pdf, nested, message)
