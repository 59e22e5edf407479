"""Documents: recording a published document exactly once, and simple listings.

Publishing is idempotent on (client number, type, number): the same file again
is a no-op, a different file under the same key is a conflict and overwrites
nothing. The blob is durable before the row exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from iportal.documents.blobs import BlobStore, blob_hash
from iportal.documents.tables import Document
from iportal.errors import Conflict
from iportal.i18n import N_

PUBLISHED = "published"
ALREADY_PUBLISHED = "already_published"


@dataclass(frozen=True)
class DocumentFields:
    type: str
    number: str
    issue_date: date
    currency: str
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    due_date: date | None = None
    type_code: str | None = None
    amount_due: Decimal | None = None


@dataclass(frozen=True)
class Recorded:
    status: str
    document_id: int


async def record_document(
    blobs: BlobStore,
    client_number_id: int,
    fields: DocumentFields,
    pdf: bytes,
    *,
    page_count: int | None = None,
) -> Recorded:
    """Store the PDF, then its row; `already_published` for the same bytes again,
    `Conflict` for other bytes under the same (client number, type, number)."""
    digest = await asyncio.to_thread(blobs.put, pdf)
    rows = await Document.raw(
        """
        INSERT INTO document (client_number_id, type, type_code, number, issue_date, due_date,
                              currency, amount_excl_vat, vat_amount, amount_incl_vat,
                              amount_due, pdf_blob_hash, pdf_size, page_count)
        VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
        ON CONFLICT ON CONSTRAINT document_unique_key DO NOTHING
        RETURNING id
        """,
        client_number_id,
        fields.type,
        fields.type_code,
        fields.number,
        fields.issue_date,
        fields.due_date,
        fields.currency,
        fields.amount_excl_vat,
        fields.vat_amount,
        fields.amount_incl_vat,
        fields.amount_due,
        digest,
        len(pdf),
        page_count,
    )
    if rows:
        return Recorded(PUBLISHED, rows[0]["id"])
    existing = (
        await Document.select(Document.id, Document.pdf_blob_hash)
        .where(
            (Document.client_number == client_number_id)
            & (Document.type == fields.type)
            & (Document.number == fields.number)
        )
        .first()
    )
    if existing is not None and existing["pdf_blob_hash"] == blob_hash(pdf):
        return Recorded(ALREADY_PUBLISHED, existing["id"])
    raise Conflict(
        N_("Another file is already published under number %(number)s for this client number."),
        number=fields.number,
    )


async def document_counts(client_number_ids: list[int]) -> dict[int, int]:
    """How many documents each of these client numbers has."""
    if not client_number_ids:
        return {}
    rows = await Document.raw(
        "SELECT client_number_id, count(*) AS n FROM document "
        "WHERE client_number_id = ANY({}) GROUP BY client_number_id",
        client_number_ids,
    )
    return {row["client_number_id"]: row["n"] for row in rows}
