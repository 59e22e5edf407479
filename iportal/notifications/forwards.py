"""Forwards: each new document goes to the confirmed forwarding addresses of its number,
one message per document with its PDF and XML attached, as accounting inboxes expect.

Exactly once per (document, address): the forward is an outbox row itself, written by
`queue_forwards` in the transaction that handles the document's event (`notify_due`),
and `outbox_email` holds at most one row per (document_id, forwarding_address_id). A
worker that dies before it marks the events rolls back its forwards with them; one that
handles an event again finds the row there and adds nothing (`ON CONFLICT DO NOTHING`).

The row carries the text; the files are attached when it is sent (`attacher`), read
from the blob store by the function the worker's command passes in, so that the outbox
holds no copy of the PDFs and notifications need nothing of the documents' services.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from iportal import db
from iportal.notifications.mailer import DeliveryFailed
from iportal.notifications.services import Attach, OutboxMessage, render_email

TEMPLATE = "forward_document"

# Every confirmed address of each document's number whose owner sees the document
# now: a shared user whose access ended forwards nothing more.
TARGETS_SQL = """
SELECT f.id AS address_id, f.email, u.language,
       d.id AS document_id, d.type, d.number, d.issue_date, d.amount_incl_vat, d.currency,
       d.pdf_blob_hash IS NOT NULL AS has_pdf, d.xml_blob_hash IS NOT NULL AS has_xml,
       cn.id AS client_number_id, cn.client_code, cn.company_name, cn.account_id,
       i.name AS issuer_name
  FROM document d
  JOIN forwarding_address f ON f.client_number_id = d.client_number_id
                           AND f.confirmed_at IS NOT NULL
  JOIN visible_client_number v ON v.user_id = f.user_id
                              AND v.client_number_id = d.client_number_id
                              AND d.issue_date >= v.since
                              AND still_visible(v.access_ends_at)
  JOIN portal_user u ON u.id = f.user_id
  JOIN client_number cn ON cn.id = d.client_number_id
  JOIN issuer i ON i.id = cn.issuer_id
 WHERE d.id = ANY($1::bigint[])
 ORDER BY d.id, f.id
"""
QUEUE_SQL = """
INSERT INTO outbox_email (recipient, client_number_id, language, template, subject,
                          body_text, body_html, document_id, forwarding_address_id)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::bigint[], $9::int[])
ON CONFLICT (document_id, forwarding_address_id) DO NOTHING
RETURNING id, document_id, forwarding_address_id
"""
# One audit event per forward queued, for the number's account.
AUDIT_SQL = """
INSERT INTO audit_event (kind, account_id, client_number_id, document_id, detail)
SELECT 'document_forwarded', a, c, d, jsonb_build_object('email', e, 'outbox_id', o)
  FROM unnest($1::int[], $2::int[], $3::bigint[], $4::text[], $5::bigint[]) AS t(a, c, d, e, o)
"""
FILES_SQL = "SELECT number, pdf_blob_hash, xml_blob_hash FROM document WHERE id = $1"
OVERVIEW_SQL = """
SELECT o.id, o.state, o.recipient, cn.client_code, d.number AS document_number, o.attempts,
       o.created_at, o.sent_at, o.last_error
  FROM outbox_email o
  LEFT JOIN document d ON d.id = o.document_id
  LEFT JOIN client_number cn ON cn.id = o.client_number_id
 WHERE o.document_id IS NOT NULL
 ORDER BY o.state = 'sent', o.created_at DESC, o.id DESC
 LIMIT $1
"""
COUNTS_SQL = """
SELECT state, count(*) AS count FROM outbox_email WHERE document_id IS NOT NULL GROUP BY state
"""

# A file name any mail client and accounting inbox accepts.
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")

BlobReader = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True)
class ForwardEntry:
    """One forward as `iportal outbox` shows it."""

    id: int
    state: str
    recipient: str
    client_code: str | None
    document_number: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str


async def queue_forwards(document_ids: Sequence[int], base_url: str) -> int:
    """Queue, inside the caller's transaction, one message per document and confirmed
    address of its number, unless it is queued already; returns how many were new."""
    rows = await db.fetch(TARGETS_SQL, list(document_ids))
    if not rows:
        return 0
    # No user: the message is the inbox's, and what happens to it (a refusal, a
    # bounce) says nothing about the address of the person who added the inbox.
    columns: list[list[object]] = [[] for _ in range(9)]
    for row in rows:
        rendered = render_email(TEMPLATE, row["language"], _context(row, base_url))
        values = (
            row["email"],
            row["client_number_id"],
            row["language"],
            TEMPLATE,
            rendered.subject,
            rendered.body_text,
            rendered.body_html,
            row["document_id"],
            row["address_id"],
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    queued = await db.fetch(QUEUE_SQL, *columns)
    await _audit(rows, queued)
    return len(queued)


def _context(row: db.Record, base_url: str) -> dict[str, object]:
    return {
        "type": row["type"],
        "number": row["number"],
        "issue_date": row["issue_date"],
        "amount_incl_vat": row["amount_incl_vat"],
        "currency": row["currency"],
        "client_code": row["client_code"],
        "company": row["company_name"],
        "issuer": row["issuer_name"],
        "has_pdf": row["has_pdf"],
        "has_xml": row["has_xml"],
        "manage_link": f"{base_url}/client-numbers/{row['client_code']}/forwarding",
    }


async def _audit(targets: Sequence[db.Record], queued: Sequence[db.Record]) -> None:
    by_key = {(t["document_id"], t["address_id"]): t for t in targets}
    columns: list[list[object]] = [[], [], [], [], []]
    for row in queued:
        target = by_key[(row["document_id"], row["forwarding_address_id"])]
        values = (
            target["account_id"],
            target["client_number_id"],
            row["document_id"],
            target["email"],
            row["id"],
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if queued:
        await db.execute(AUDIT_SQL, *columns)


def file_name(number: str, extension: str) -> str:
    """`F2026/001` → `F2026_001.pdf`."""
    stem = _UNSAFE_IN_NAME.sub("_", number).strip("._") or "document"
    return f"{stem[:80]}.{extension}"


def attacher(read_blob: BlobReader) -> Attach:
    """What `deliver_due` calls for a forward before sending it: attaches the stored
    PDF, byte for byte, and the XML when the document has one. A blob that cannot be
    read now is tried again later; a document that is gone cannot be forwarded."""

    async def attach(message: EmailMessage, row: OutboxMessage) -> None:
        document = await db.fetchrow(FILES_SQL, row.document_id)
        if document is None:
            raise DeliveryFailed("the document no longer exists", permanent=True)
        files = [
            (document["pdf_blob_hash"], "pdf", "pdf"),
            (document["xml_blob_hash"], "xml", "xml"),
        ]
        for digest, subtype, extension in files:
            if digest is None:
                continue
            try:
                content = await read_blob(digest)
            except OSError as error:
                raise DeliveryFailed(
                    f"{extension} not readable: {error}", permanent=False
                ) from error
            message.add_attachment(
                content,
                maintype="application",
                subtype=subtype,
                filename=file_name(document["number"], extension),
            )

    return attach


async def forward_overview(limit: int = 50) -> tuple[dict[str, int], list[ForwardEntry]]:
    """How many forwards are pending, sent and failed, and the latest of them (pending
    and failed first)."""
    counts = {state: 0 for state in ("pending", "sent", "failed")}
    for row in await db.fetch(COUNTS_SQL):
        counts[row["state"]] = row["count"]
    entries = [ForwardEntry(**row) for row in await db.fetch(OVERVIEW_SQL, limit)]
    return counts, entries
