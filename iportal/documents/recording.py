"""Document rows, written several at a time: one statement inserts a batch's new
documents and their notification events, one reads back what a batch found
already there.

Every way a document is recorded (the API, `iportal ingest`, the demo) goes
through `insert_documents`, so the key (client number, type, number) is decided
in one place: `ON CONFLICT DO NOTHING`, then the caller compares the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iportal.documents.metadata import DocumentFields
from iportal.documents.tables import Document


@dataclass(frozen=True)
class NewDocument:
    client_number_id: int
    fields: DocumentFields
    pdf_hash: str | None
    pdf_size: int | None
    page_count: int | None
    structured_kind: str = "none"
    xml_hash: str | None = None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.client_number_id, self.fields.type, self.fields.number)


# Arrays in, one row per element out: one round trip whatever the batch's size.
# The event is written in the same statement, so a published document never lacks one.
# Rows go in by client number (then as given: of two with one key, the first is
# kept), so their key-share locks on `client_number` are taken in the order a
# visibility refresh takes its own: the two never deadlock.
INSERT_SQL = """
WITH inserted AS (
    INSERT INTO document (client_number_id, type, type_code, number, issue_date, due_date,
                          currency, amount_excl_vat, vat_amount, amount_incl_vat, amount_due,
                          pdf_blob_hash, pdf_size, page_count, structured_kind, xml_blob_hash)
    SELECT c, t, tc, n, i, du, cu, ex, va, inc, ad, ph, ps, pc, sk, xh
      FROM unnest({}::int[], {}::text[], {}::text[], {}::text[], {}::date[], {}::date[],
                  {}::text[], {}::numeric[], {}::numeric[], {}::numeric[], {}::numeric[],
                  {}::text[], {}::int[], {}::int[], {}::text[], {}::text[])
           WITH ORDINALITY AS r(c, t, tc, n, i, du, cu, ex, va, inc, ad, ph, ps, pc, sk, xh, at)
     ORDER BY c, at
    ON CONFLICT ON CONSTRAINT document_unique_key DO NOTHING
    RETURNING id, client_number_id, type, number
){events}
SELECT id, client_number_id, type, number FROM inserted
"""
EVENTS_SQL = """, events AS (
    INSERT INTO document_event (document_id, client_number_id)
    SELECT id, client_number_id FROM inserted
)"""

EXISTING_SQL = """
SELECT d.id, d.client_number_id, d.type, d.number, d.pdf_blob_hash, d.xml_blob_hash
  FROM unnest({}::int[], {}::text[], {}::text[]) AS k(client_number_id, type, number)
  JOIN document d USING (client_number_id, type, number)
"""


def _columns(documents: list[NewDocument]) -> list[list[Any]]:
    return [
        [d.client_number_id for d in documents],
        [d.fields.type for d in documents],
        [d.fields.type_code for d in documents],
        [d.fields.number for d in documents],
        [d.fields.issue_date for d in documents],
        [d.fields.due_date for d in documents],
        [d.fields.currency for d in documents],
        [d.fields.amount_excl_vat for d in documents],
        [d.fields.vat_amount for d in documents],
        [d.fields.amount_incl_vat for d in documents],
        [d.fields.amount_due for d in documents],
        [d.pdf_hash for d in documents],
        [d.pdf_size for d in documents],
        [d.page_count for d in documents],
        [d.structured_kind for d in documents],
        [d.xml_hash for d in documents],
    ]


async def insert_documents(
    documents: list[NewDocument], *, events: bool = True
) -> list[int | None]:
    """Each document's new id, or None where its key is taken (by an earlier row, or
    by an earlier document of the same batch). Blobs must be durable before commit.
    `events=False` records history that nobody is to be told about (the demo)."""
    if not documents:
        return []
    sql = INSERT_SQL.replace("{events}", EVENTS_SQL if events else "")
    rows = await Document.raw(sql, *_columns(documents))
    ids = {(r["client_number_id"], r["type"], r["number"]): int(r["id"]) for r in rows}
    result: list[int | None] = []
    for document in documents:
        # pop: the key's first document got the row, a repeat in the batch did not
        result.append(ids.pop(document.key, None))
    return result


async def existing_documents(
    keys: list[tuple[int, str, str]],
) -> dict[tuple[int, str, str], dict[str, Any]]:
    """The rows already recorded under these keys (id and blob hashes)."""
    if not keys:
        return {}
    rows = await Document.raw(
        EXISTING_SQL, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
    )
    return {(r["client_number_id"], r["type"], r["number"]): r for r in rows}


async def insert_document(
    client_number_id: int,
    fields: DocumentFields,
    *,
    pdf_hash: str | None,
    pdf_size: int | None,
    page_count: int | None,
    structured_kind: str = "none",
    xml_hash: str | None = None,
    events: bool = True,
) -> int | None:
    """`insert_documents` for one document."""
    document = NewDocument(
        client_number_id, fields, pdf_hash, pdf_size, page_count, structured_kind, xml_hash
    )
    return (await insert_documents([document], events=events))[0]
