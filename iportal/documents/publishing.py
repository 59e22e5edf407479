"""Recording a checked file as a published document, exactly once.

The worker (`inspection.py`) has checked the file; here the client number is
resolved for this issuer only, the (client number, type, number) key decides
between new, already published and conflict, the blobs are made durable, and
then — in one transaction — the document row, its notification event and, for a
client number not yet opted in, an invitation with a fresh activation code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services import IssuerPrincipal, issue_activation_code
from iportal.accounts.services import resolve_client_number as resolve_reference
from iportal.accounts.tables import ActivationCode
from iportal.db import atomic
from iportal.documents.blobs import BlobStore, blob_hash
from iportal.documents.inspection import Candidate, Rejection
from iportal.documents.metadata import DocumentFields
from iportal.documents.tables import Document
from iportal.errors import Conflict, InvalidInput
from iportal.i18n import N_, translate
from iportal.notifications.services import queue_email
from iportal.notifications.tables import DocumentEvent, OutboxEmail

PUBLISHED = "published"
ALREADY_PUBLISHED = "already_published"
CONFLICT = "conflict"
REJECTED = "rejected"
INVITATION = "invitation"


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


def rejected(name: str, language: str, message: str, params: dict[str, Any]) -> Outcome:
    return Outcome(
        name, REJECTED, reason=translate(message, language, **params), reason_key=message
    )


CLIENT_FIELDS_SQL = """
SELECT id, client_code, account_id, email, language, company_name, first_name
  FROM client_number WHERE id = {}
"""


async def _client(found: dict[str, Any]) -> dict[str, Any]:
    rows = await Document.raw(CLIENT_FIELDS_SQL, found["id"])
    return rows[0]


async def resolve_client_number(issuer: IssuerPrincipal, candidate: Candidate) -> dict[str, Any]:
    """The metadata's client code first; otherwise a buyer reference of the e-invoice
    that is this issuer's client code or alias. Another issuer's code is unknown too."""
    if candidate.client_code is not None:
        code = normalise_client_code(candidate.client_code)
        found = await resolve_reference(issuer.issuer_id, code)
        if found is None or found["client_code"] != code:
            raise InvalidInput(N_("Client code %(code)s is unknown."), code=code)
        return await _client(found)
    for reference in candidate.buyer_references:
        found = await resolve_reference(issuer.issuer_id, reference)
        if found is not None:
            return await _client(found)
    raise InvalidInput(
        N_(
            "None of the e-invoice's buyer references (%(references)s) is a client code or "
            "alias of this issuer; give client_code in the metadata."
        ),
        references=", ".join(candidate.buyer_references) or "—",
    )


async def _existing(client_number_id: int, candidate: Candidate) -> dict[str, Any] | None:
    fields = candidate.fields
    return (
        await Document.select(Document.id, Document.pdf_blob_hash, Document.xml_blob_hash)
        .where(
            (Document.client_number == client_number_id)
            & (Document.type == fields.type)
            & (Document.number == fields.number)
        )
        .first()
    )


def _same_file(row: dict[str, Any], candidate: Candidate) -> bool:
    pdf = blob_hash(candidate.pdf) if candidate.pdf is not None else None
    xml = blob_hash(candidate.xml) if candidate.xml is not None else None
    return bool(row["pdf_blob_hash"] == pdf and row["xml_blob_hash"] == xml)


def _conflict(candidate: Candidate) -> Conflict:
    return Conflict(
        N_("Another file is already published under number %(number)s for this client number."),
        number=candidate.fields.number,
    )


async def publish(
    issuer: IssuerPrincipal, result: Candidate | Rejection, blobs: BlobStore, base_url: str
) -> Outcome:
    """Record one inspected file; never raises for the file's own faults."""
    if isinstance(result, Rejection):
        return rejected(result.name, issuer.language, result.message, result.params)
    try:
        client = await resolve_client_number(issuer, result)
    except InvalidInput as error:
        return rejected(result.name, issuer.language, error.message, error.params)
    existing = await _existing(client["id"], result)
    if existing is not None:
        return _repeat(issuer, result, client, existing)
    pdf_hash, xml_hash = await asyncio.to_thread(_store_blobs, blobs, result)
    async with atomic():
        document_id = await _insert(client["id"], result, pdf_hash, xml_hash)
        if document_id is None:  # published meanwhile by a concurrent request
            existing = await _existing(client["id"], result)
            assert existing is not None
            return _repeat(issuer, result, client, existing)
        await DocumentEvent.insert(DocumentEvent(document=document_id, client_number=client["id"]))
        if client["account_id"] is None:
            await invite(client, base_url)
    return Outcome(result.name, PUBLISHED, document_id, client["client_code"], result)


def _repeat(
    issuer: IssuerPrincipal, candidate: Candidate, client: dict[str, Any], existing: dict[str, Any]
) -> Outcome:
    if _same_file(existing, candidate):
        return Outcome(
            candidate.name, ALREADY_PUBLISHED, existing["id"], client["client_code"], candidate
        )
    error = _conflict(candidate)
    return Outcome(
        candidate.name,
        CONFLICT,
        existing["id"],
        client["client_code"],
        candidate,
        translate(error.message, issuer.language, **error.params),
        error.message,
    )


def _store_blobs(blobs: BlobStore, candidate: Candidate) -> tuple[str | None, str | None]:
    pdf = blobs.put(candidate.pdf) if candidate.pdf is not None else None
    xml = blobs.put(candidate.xml) if candidate.xml is not None else None
    return pdf, xml


async def _insert(
    client_number_id: int, candidate: Candidate, pdf_hash: str | None, xml_hash: str | None
) -> int | None:
    return await insert_document(
        client_number_id,
        candidate.fields,
        pdf_hash=pdf_hash,
        pdf_size=len(candidate.pdf) if candidate.pdf is not None else None,
        page_count=candidate.page_count,
        structured_kind=candidate.structured_kind,
        xml_hash=xml_hash,
    )


async def insert_document(
    client_number_id: int,
    fields: DocumentFields,
    *,
    pdf_hash: str | None,
    pdf_size: int | None,
    page_count: int | None,
    structured_kind: str = "none",
    xml_hash: str | None = None,
) -> int | None:
    """The new document's id, or None when its key (client number, type, number) is
    taken already; the blobs must be durable before this runs."""
    rows = await Document.raw(
        """
        INSERT INTO document (client_number_id, type, type_code, number, issue_date, due_date,
                              currency, amount_excl_vat, vat_amount, amount_incl_vat, amount_due,
                              pdf_blob_hash, pdf_size, page_count, structured_kind, xml_blob_hash)
        VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
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
        pdf_hash,
        pdf_size,
        page_count,
        structured_kind,
        xml_hash,
    )
    return int(rows[0]["id"]) if rows else None


async def invite(client: dict[str, Any], base_url: str) -> bool:
    """Queue an invitation with a fresh 15-week code, unless one is still waiting to be
    sent (a batch of seven years of history must not send the client thousands), or the
    number was opted in before (then opted out: paper was its choice)."""
    opted_in_before = await ActivationCode.exists().where(
        (ActivationCode.client_number == client["id"]) & ActivationCode.redeemed_at.is_not_null()
    )
    if opted_in_before:
        return False
    waiting = await OutboxEmail.exists().where(
        (OutboxEmail.client_number == client["id"])
        & (OutboxEmail.template == INVITATION)
        & (OutboxEmail.state == "pending")
    )
    if waiting:
        return False
    issued = await issue_activation_code(client["id"])
    await queue_email(
        INVITATION,
        client["email"],
        client["language"],
        {
            "company_name": client["company_name"],
            "client_code": client["client_code"],
            "first_name": client["first_name"],
            "code": issued.code,
            "expires_at": issued.expires_at,
            "link": f"{base_url}/activate?code={issued.code}",
            "base_url": base_url,
        },
        client_number_id=client["id"],
    )
    return True


class IssuerDirectory:
    """For the operator's `iportal ingest`: finds the issuer of a document by its
    client code's prefix, or by the one issuer whose code or alias a buyer reference is."""

    def __init__(self, issuers: list[IssuerPrincipal]) -> None:
        # Longest prefix first, so that DL20 is not taken for DL2.
        self.issuers = sorted(issuers, key=lambda issuer: -len(issuer.prefix))

    async def __call__(self, candidate: Candidate) -> IssuerPrincipal | None:
        if candidate.client_code is not None:
            try:
                code = normalise_client_code(candidate.client_code)
            except InvalidInput:
                return None
            owners = [i for i in self.issuers if code.startswith(i.prefix)]
            for issuer in owners:
                if await resolve_reference(issuer.issuer_id, code) is not None:
                    return issuer
            return owners[0] if owners else None
        matches = []
        for issuer in self.issuers:
            for reference in candidate.buyer_references:
                if await resolve_reference(issuer.issuer_id, reference) is not None:
                    matches.append(issuer)
                    break
        return matches[0] if len(matches) == 1 else None


async def all_issuers(prefix: str | None = None) -> list[IssuerPrincipal]:
    from iportal.accounts.tables import Issuer

    query = Issuer.select(Issuer.id, Issuer.prefix, Issuer.name, Issuer.language)
    if prefix is not None:
        query = query.where(Issuer.prefix == prefix.strip().upper())
    return [
        IssuerPrincipal(row["id"], row["prefix"], row["name"], row["language"], "cli")
        for row in await query
    ]
