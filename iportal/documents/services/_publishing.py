"""Publishing and recording documents, the issuer's list, blob housekeeping.

Publishing is idempotent on (client number, type, number): the same file again
is a no-op, a different file under the same key is a conflict and overwrites
nothing. The blob is durable before the row exists.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iportal import clock
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services import IssuerPrincipal
from iportal.accounts.tables import ClientNumber
from iportal.documents.blobs import BlobStore, FolderBlobStore
from iportal.documents.inspection import FileLimits, Job, Rejection, Source, inspect
from iportal.documents.metadata import DocumentFields
from iportal.documents.publishing import ALREADY_PUBLISHED, PUBLISHED, Outcome, publish
from iportal.documents.recording import existing_documents, insert_document
from iportal.documents.sandbox import Sandbox, TaskTimedOut
from iportal.documents.tables import Document
from iportal.errors import Conflict, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.pagination import clamp_limit, decode_cursor, encode_cursor


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
    digest = await asyncio.to_thread(blobs.put, pdf)
    document_id = await insert_document(
        client_number_id,
        fields,
        pdf_hash=digest,
        pdf_size=len(pdf),
        page_count=page_count,
        events=False,
    )
    if document_id is not None:
        return Recorded(PUBLISHED, document_id)
    key = (client_number_id, fields.type, fields.number)
    existing = (await existing_documents([key])).get(key)
    if existing is not None and existing["pdf_blob_hash"] == digest:
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


async def clean_blobs(
    blob_dir: Path, older_than_hours: float = 1.0, batch: int = 1000
) -> tuple[int, int]:
    """Remove blobs no document references; returns (removed, kept).

    Young blobs are kept: a publication writes its blob first and its row just
    after, and that row must never find its blob gone.
    """
    store = FolderBlobStore(blob_dir)
    cutoff = time.time() - older_than_hours * 3600
    removed = kept = 0
    for staged in store.stale_staged(cutoff):  # left by a run killed before recording
        staged.unlink(missing_ok=True)
        removed += 1
    digests = iter(store.digests())
    while chunk := list(itertools.islice(digests, batch)):
        rows = await Document.raw(
            """
            SELECT h FROM unnest({}::text[]) AS h
             WHERE NOT EXISTS (SELECT 1 FROM document WHERE pdf_blob_hash = h)
               AND NOT EXISTS (SELECT 1 FROM document WHERE xml_blob_hash = h)
            """,
            chunk,
        )
        unreferenced = {row["h"] for row in rows}
        for digest in chunk:
            if digest in unreferenced and store.path(digest).stat().st_mtime < cutoff:
                store.delete(digest)
                removed += 1
            else:
                kept += 1
    return removed, kept


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
    if not isinstance(value, dict):
        raise InvalidInput(N_("The metadata must be a JSON object of manifest fields."))
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
    base_url: str,
) -> Outcome:
    """Publish one uploaded file: checked in the sandbox, then recorded once."""
    metadata = parse_metadata_json(metadata_json)
    job = Job(Source(name, data=data), metadata, limits, clock.today(), blobs)
    try:
        result = await sandbox.run(inspect, job)
    except TaskTimedOut:
        result = Rejection(name, N_("Reading the file took too long; it was stopped."))
    return await publish(issuer, result, blobs, base_url)


async def issuer_documents(
    issuer_id: int, client_code: str | None, cursor: str | None, limit: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The issuer's own documents, newest publication first, keyset-paginated."""
    size = clamp_limit(limit)
    after = decode_cursor(cursor)
    code = normalise_client_code(client_code) if client_code else None
    if code is not None and not await ClientNumber.exists().where(
        (ClientNumber.client_code == code) & (ClientNumber.issuer == issuer_id)
    ):
        raise NotFound(N_("Client code %(code)s is unknown."), code=code)
    rows = await Document.raw(
        """
        SELECT d.id, cn.client_code, d.type, d.type_code, d.number, d.issue_date, d.due_date,
               d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat,
               d.structured_kind, d.published_at
          FROM document d JOIN client_number cn ON cn.id = d.client_number_id
         WHERE cn.issuer_id = {} AND ({}::text IS NULL OR cn.client_code = {})
           AND ({}::bigint IS NULL OR d.id < {})
         ORDER BY d.id DESC
         LIMIT {}
        """,
        issuer_id,
        code,
        code,
        after[0] if after else None,
        after[0] if after else None,
        size + 1,
    )
    next_cursor = encode_cursor([rows[size - 1]["id"]]) if len(rows) > size else None
    return rows[:size], next_cursor
