"""The issuer API's services: publish one uploaded file, the issuer's own list; and
recording history (the demo) and blob housekeeping (`iportal blobs clean`).

Publishing is idempotent on (client number, type, number): the same file again
is a no-op, a different file under the same key is a conflict and overwrites
nothing. The blob is durable before the row exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from iportal import clock, db
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services import IssuerPrincipal
from iportal.accounts.tables import ClientNumber
from iportal.documents.publishing.inspection import (
    TOO_LONG,
    FileLimits,
    Job,
    Rejection,
    Source,
    inspect,
)
from iportal.documents.publishing.metadata import DocumentFields
from iportal.documents.publishing.recording import (
    ALREADY_PUBLISHED,
    PUBLISHED,
    NewDocument,
    Outcome,
    conflict,
    insert_documents,
    publish,
    recorded_documents,
)
from iportal.documents.sandbox import Sandbox, TaskTimedOut
from iportal.documents.storage import BlobStore
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_
from iportal.pagination import clamp_limit, decode_cursor, encode_cursor
from iportal.settings import Settings


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
    """Store the PDF, then its row, without a notification event (history, as the demo
    loads it); `already_published` for the same bytes again, `Conflict` for other
    bytes under the same (client number, type, number)."""
    digest = await blobs.put(pdf)
    document = NewDocument(client_number_id, fields, digest, len(pdf), page_count)
    document_id = (await insert_documents([document], events=False))[0]
    if document_id is not None:
        return Recorded(PUBLISHED, document_id)
    recorded = (await recorded_documents([document.key])).get(document.key)
    if recorded is not None and recorded.pdf_blob_hash == digest:
        return Recorded(ALREADY_PUBLISHED, recorded.id)
    raise conflict(fields.number)


UNREFERENCED_SQL = """
SELECT h FROM unnest($1::text[]) AS h
 WHERE NOT EXISTS (SELECT 1 FROM document WHERE pdf_blob_hash = h)
   AND NOT EXISTS (SELECT 1 FROM document WHERE xml_blob_hash = h)
"""


async def clean_blobs(
    blobs: BlobStore, older_than_hours: float = 1.0, batch: int = 1000
) -> tuple[int, int]:
    """Remove blobs no document references; returns (removed, kept).

    Young blobs are kept: a publication writes its blob first and its row just
    after, and that row must never find its blob gone.
    """
    cutoff = time.time() - older_than_hours * 3600
    removed = await blobs.discard_staged_before(cutoff)  # left by runs killed early
    kept = 0
    async for chunk in _chunks(blobs.stored(), batch):
        gone = await _remove_unreferenced(blobs, chunk, cutoff)
        removed += gone
        kept += len(chunk) - gone
    return removed, kept


async def _chunks(
    stored: AsyncIterator[tuple[str, float]], size: int
) -> AsyncIterator[list[tuple[str, float]]]:
    chunk: list[tuple[str, float]] = []
    async for blob in stored:
        chunk.append(blob)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _remove_unreferenced(
    blobs: BlobStore, chunk: list[tuple[str, float]], cutoff: float
) -> int:
    """Delete the blobs of `chunk` stored before `cutoff` that no row references."""
    rows = await db.fetch(UNREFERENCED_SQL, [digest for digest, _ in chunk])
    unreferenced = {row["h"] for row in rows}
    removed = 0
    for digest, stored_at in chunk:
        if digest in unreferenced and stored_at < cutoff:
            await blobs.delete(digest)
            removed += 1
    return removed


def parse_metadata_json(raw: str | None) -> dict[str, str] | None:
    """The API's `metadata` part; numbers are kept exactly as written (no float)."""
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw, parse_float=str, parse_int=str)
    except ValueError as error:
        raise InvalidInput(
            N_("The metadata is not valid JSON: %(reason)s"), reason=str(error)
        ) from None
    except RecursionError:
        raise InvalidInput(
            N_("The metadata is nested too deeply: it is a flat JSON object.")
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(N_("The metadata must be a JSON object of manifest fields."))
    for name, field in value.items():
        # Numbers were parsed as text; a list or an object is no field's value.
        if not isinstance(field, str | bool | None):
            raise InvalidInput(
                N_("The metadata field “%(field)s” is not a text or a number."), field=name
            )
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


async def publish_upload(
    issuer: IssuerPrincipal,
    name: str,
    data: bytes,
    metadata_json: str | None,
    *,
    sandbox: Sandbox,
    blobs: BlobStore,
    limits: FileLimits,
    settings: Settings,
) -> Outcome:
    """Publish one uploaded file: checked in the sandbox, then recorded once."""
    metadata = parse_metadata_json(metadata_json)
    job = Job(Source(name, data=data), metadata, limits, clock.today(), blobs)
    try:
        result = await sandbox.run(inspect, job)
    except TaskTimedOut:
        result = Rejection(name, TOO_LONG)
    return await publish(issuer, result, blobs, settings)


@dataclass(frozen=True)
class IssuedDocument:
    """One of an issuer's published documents, as its own list shows it."""

    id: int
    client_code: str
    type: str
    type_code: str | None
    number: str
    issue_date: date
    due_date: date | None
    currency: str
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    structured_kind: str
    published_at: datetime


@dataclass(frozen=True)
class IssuedDocuments:
    items: list[IssuedDocument]
    next_cursor: str | None


ISSUER_DOCUMENTS_SQL = """
SELECT d.id, cn.client_code, d.type, d.type_code, d.number, d.issue_date, d.due_date,
       d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat,
       d.structured_kind, d.published_at
  FROM document d JOIN client_number cn ON cn.id = d.client_number_id
 WHERE cn.issuer_id = $1 AND ($2::text IS NULL OR cn.client_code = $2::text)
   AND ($3::bigint IS NULL OR d.id < $3)
 ORDER BY d.id DESC
 LIMIT $4
"""


async def issuer_documents(
    issuer_id: int, client_code: str | None, cursor: str | None, limit: int | None
) -> IssuedDocuments:
    """The issuer's own documents, newest publication first, keyset-paginated."""
    size = clamp_limit(limit)
    after = decode_cursor(cursor)
    code = normalise_client_code(client_code) if client_code else None
    if code is not None and not await ClientNumber.exists().where(
        (ClientNumber.client_code == code) & (ClientNumber.issuer == issuer_id)
    ):
        raise NotFound(N_("Client code %(code)s is unknown."), code=code)
    rows = await db.fetch(
        ISSUER_DOCUMENTS_SQL, issuer_id, code, after[0] if after else None, size + 1
    )
    next_cursor = encode_cursor([rows[size - 1]["id"]]) if len(rows) > size else None
    return IssuedDocuments([IssuedDocument(**row) for row in rows[:size]], next_cursor)
