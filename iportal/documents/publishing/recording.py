"""Recording checked files as published documents, exactly once, a batch at a time.

The worker (`inspection.py`) has checked each file and staged its bytes; here the
client number is resolved for this issuer only, and in one transaction per batch
the (client number, type, number) key decides between new, already published and
conflict, the new documents' blobs are made durable, and the rows are written with
their notification events and, for a client number not yet opted in, an
invitation with a fresh activation code. One document through the API is a
batch of one.

Every way a document is recorded (the API, `iportal ingest`, the demo) goes through
`insert_documents`, so the key is decided in one place: `ON CONFLICT DO NOTHING`,
then the caller compares the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from iportal import db
from iportal.accounts.services import IssuerPrincipal
from iportal.documents.publishing.clients import (
    ClientNumbers,
    DocumentClient,
    invite_waiting,
    resolve_client_number,
)
from iportal.documents.publishing.inspection import Candidate, Rejection
from iportal.documents.publishing.metadata import DocumentFields
from iportal.documents.storage import BlobStore, StagedBlob
from iportal.errors import Conflict, InvalidInput
from iportal.i18n import N_, translate
from iportal.settings import Settings

PUBLISHED = "published"
ALREADY_PUBLISHED = "already_published"
CONFLICT = "conflict"
REJECTED = "rejected"
ANOTHER_FILE = N_(
    "Another file is already published under number %(number)s for this client number."
)
Key = tuple[int, str, str]  # client number id, type, number


def conflict(number: str) -> Conflict:
    """Another file is already published under this number (the same file is not)."""
    return Conflict(ANOTHER_FILE, number=number)


@dataclass(frozen=True)
class Outcome:
    """What became of one file; `reason` is in the issuer's language."""

    name: str
    status: str
    document_id: int | None = None
    client_code: str | None = None
    candidate: Candidate | None = None
    reason: str = ""
    reason_key: str = ""  # the untranslated message, to group rejections by reason
    # What the issuer should know about a file published anyway, in their language.
    warnings: tuple[str, ...] = ()


def rejected(name: str, language: str, message: str, params: Mapping[str, object]) -> Outcome:
    return Outcome(
        name, REJECTED, reason=translate(message, language, **params), reason_key=message
    )


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
    def key(self) -> Key:
        return (self.client_number_id, self.fields.type, self.fields.number)


@dataclass(frozen=True)
class RecordedDocument:
    """A document already recorded under a key: its id and its files."""

    id: int
    pdf_blob_hash: str | None
    xml_blob_hash: str | None


# Arrays in, one row per element out: one round trip whatever the batch's size.
# The event is written in the same statement, so a published document never lacks one.
# Rows go in by client number (then as given: of two with one key, the first is
# kept), so their key-share locks on `client_number` are taken in the order a
# visibility refresh takes its own: the two never deadlock.
_INSERT = """
WITH inserted AS (
    INSERT INTO document (client_number_id, type, type_code, number, issue_date, due_date,
                          currency, amount_excl_vat, vat_amount, amount_incl_vat, amount_due,
                          pdf_blob_hash, pdf_size, page_count, structured_kind, xml_blob_hash)
    SELECT c, t, tc, n, i, du, cu, ex, va, inc, ad, ph, ps, pc, sk, xh
      FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::date[], $6::date[],
                  $7::text[], $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[],
                  $12::text[], $13::int[], $14::int[], $15::text[], $16::text[])
           WITH ORDINALITY AS r(c, t, tc, n, i, du, cu, ex, va, inc, ad, ph, ps, pc, sk, xh, at)
     ORDER BY c, at
    ON CONFLICT ON CONSTRAINT document_unique_key DO NOTHING
    RETURNING id, client_number_id, type, number
){events}
SELECT id, client_number_id, type, number FROM inserted
"""
_EVENTS = """, events AS (
    INSERT INTO document_event (document_id, client_number_id)
    SELECT id, client_number_id FROM inserted
)"""
INSERT_SQL = _INSERT.replace("{events}", _EVENTS)
INSERT_HISTORY_SQL = _INSERT.replace("{events}", "")  # nobody is told about these

RECORDED_SQL = """
SELECT d.id, d.client_number_id, d.type, d.number, d.pdf_blob_hash, d.xml_blob_hash
  FROM unnest($1::int[], $2::text[], $3::text[]) AS k(client_number_id, type, number)
  JOIN document d USING (client_number_id, type, number)
"""


def insert_statement(documents: list[NewDocument], *, events: bool = True) -> tuple[str, list[Any]]:
    """The statement that inserts these documents, and its arguments (one array per
    column)."""
    columns = [
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
    return (INSERT_SQL if events else INSERT_HISTORY_SQL), columns


async def insert_documents(
    documents: list[NewDocument], *, events: bool = True
) -> list[int | None]:
    """Each document's new id, or None where its key is taken (by an earlier row, or
    by an earlier document of the same batch). Blobs must be durable before commit.
    `events=False` records history that nobody is to be told about (the demo)."""
    if not documents:
        return []
    sql, args = insert_statement(documents, events=events)
    rows = await db.fetch(sql, *args)
    ids = {(r["client_number_id"], r["type"], r["number"]): int(r["id"]) for r in rows}
    # pop: the key's first document got the row, a repeat in the batch did not
    return [ids.pop(document.key, None) for document in documents]


async def recorded_documents(keys: list[Key]) -> dict[Key, RecordedDocument]:
    """The documents already recorded under these keys."""
    if not keys:
        return {}
    rows = await db.fetch(
        RECORDED_SQL, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
    )
    return {
        (r["client_number_id"], r["type"], r["number"]): RecordedDocument(
            r["id"], r["pdf_blob_hash"], r["xml_blob_hash"]
        )
        for r in rows
    }


@dataclass
class _Accepted:
    """A candidate whose client number is known, on its way to a row."""

    index: int
    issuer: IssuerPrincipal
    candidate: Candidate
    client: DocumentClient
    document: NewDocument
    language: str  # of every text its outcome carries


def _warnings(candidate: Candidate, language: str) -> tuple[str, ...]:
    return tuple(translate(w.message, language, **w.params) for w in candidate.warnings)


def _new_document(client_number_id: int, candidate: Candidate) -> NewDocument:
    return NewDocument(
        client_number_id,
        candidate.fields,
        pdf_hash=candidate.pdf.digest if candidate.pdf else None,
        pdf_size=candidate.pdf.size if candidate.pdf else None,
        page_count=candidate.page_count,
        structured_kind=candidate.structured_kind,
        xml_hash=candidate.xml.digest if candidate.xml else None,
    )


async def publish_batch(
    batch: list[tuple[IssuerPrincipal, Candidate | Rejection]],
    blobs: BlobStore,
    settings: Settings,
    numbers: ClientNumbers | None = None,
    language: str | None = None,
) -> list[Outcome]:
    """Record inspected files in one transaction, outcomes in the batch's order; never
    raises for the files' own faults. The new documents' blobs are moved into place
    and made durable before the rows are committed; every other staged blob goes.
    Reasons and warnings are in `language` when it is given (one report, one
    language), else in each issuer's."""
    numbers = numbers or ClientNumbers()
    outcomes: list[Outcome | None] = [None] * len(batch)
    accepted: list[_Accepted] = []
    unknown: list[StagedBlob] = []  # staged for a client number that was not found
    for index, (issuer, result) in enumerate(batch):
        speaks = language or issuer.language
        if isinstance(result, Rejection):
            outcomes[index] = rejected(result.name, speaks, result.message, result.params)
            continue
        try:
            client = await resolve_client_number(issuer, result, numbers)
        except InvalidInput as error:
            unknown += result.staged
            outcomes[index] = rejected(result.name, speaks, error.message, error.params)
            continue
        document = _new_document(client.id, result)
        accepted.append(_Accepted(index, issuer, result, client, document, speaks))
    await blobs.discard(unknown)
    if accepted:
        await _record_or_isolate(accepted, outcomes, blobs, settings)
    return [outcome for outcome in outcomes if outcome is not None]


async def _record_or_isolate(
    accepted: list[_Accepted], outcomes: list[Outcome | None], blobs: BlobStore, settings: Settings
) -> None:
    """Record the batch; should the database refuse a row that passed every check, record
    its documents one by one, so that only that one is turned away, with the reason."""
    try:
        async with db.transaction():
            await _record(accepted, outcomes, blobs, settings)
        return
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
        if len(accepted) > 1:
            for one in accepted:
                await _record_or_isolate([one], outcomes, blobs, settings)
            return
        a = accepted[0]
        await blobs.discard(a.candidate.staged)
        outcomes[a.index] = rejected(
            a.candidate.name,
            a.language,
            N_("The database refused the document: %(reason)s"),
            {"reason": str(error)},
        )


async def _record(
    accepted: list[_Accepted], outcomes: list[Outcome | None], blobs: BlobStore, settings: Settings
) -> None:
    ids = await insert_documents([a.document for a in accepted])
    new = [a for a, document_id in zip(accepted, ids, strict=True) if document_id is not None]
    repeats = [a for a, document_id in zip(accepted, ids, strict=True) if document_id is None]
    await blobs.commit([b for a in new for b in a.candidate.staged])
    await blobs.discard([b for a in repeats for b in a.candidate.staged])
    for a, document_id in zip(accepted, ids, strict=True):
        if document_id is not None:
            outcomes[a.index] = Outcome(
                a.candidate.name,
                PUBLISHED,
                document_id,
                a.client.client_code,
                a.candidate,
                warnings=_warnings(a.candidate, a.language),
            )
    recorded = await recorded_documents([a.document.key for a in repeats])
    for a in repeats:
        outcomes[a.index] = _repeat(a, recorded[a.document.key])
    await invite_waiting(settings, [a.client for a in new])


def _same_file(recorded: RecordedDocument, candidate: Candidate) -> bool:
    pdf = candidate.pdf.digest if candidate.pdf is not None else None
    xml = candidate.xml.digest if candidate.xml is not None else None
    return recorded.pdf_blob_hash == pdf and recorded.xml_blob_hash == xml


async def publish(
    issuer: IssuerPrincipal, result: Candidate | Rejection, blobs: BlobStore, settings: Settings
) -> Outcome:
    """Record one inspected file; never raises for the file's own faults."""
    return (await publish_batch([(issuer, result)], blobs, settings))[0]


def _repeat(a: _Accepted, recorded: RecordedDocument) -> Outcome:
    candidate, client_code = a.candidate, a.client.client_code
    if _same_file(recorded, candidate):
        return Outcome(
            candidate.name,
            ALREADY_PUBLISHED,
            recorded.id,
            client_code,
            candidate,
            warnings=_warnings(candidate, a.language),
        )
    error = conflict(candidate.fields.number)
    return Outcome(
        candidate.name,
        CONFLICT,
        recorded.id,
        client_code,
        candidate,
        translate(error.message, a.language, **error.params),
        error.message,
    )
