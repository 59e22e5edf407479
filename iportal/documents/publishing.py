"""Recording checked files as published documents, exactly once, a batch at a time.

The worker (`inspection.py`) has checked each file and staged its bytes; here the
client number is resolved for this issuer only, and in one transaction per batch
the (client number, type, number) key decides between new, already published and
conflict, the new documents' blobs are made durable, and the rows are written with
their notification events and, for a client number not yet opted in, an
invitation with a fresh activation code. One document through the API is a
batch of one.

The accounts, database and e-mail modules are imported where they are used:
`iportal ingest` hands its first files to the workers before it loads them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from iportal.accounts.identifiers import normalise_client_code
from iportal.documents.blobs import BlobStore
from iportal.documents.inspection import Candidate, Rejection
from iportal.errors import Conflict, InvalidInput
from iportal.i18n import N_, translate

if TYPE_CHECKING:
    from iportal.accounts.services import IssuerPrincipal
    from iportal.documents.recording import NewDocument

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


class ClientNumbers:
    """Client numbers looked up once each: a batch of seven years of history names the
    same few hundred numbers over and over. One per run (or per request); a number
    created meanwhile is seen by the next run."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, str], dict[str, Any] | None] = {}

    async def find(self, issuer_id: int, reference: str) -> dict[str, Any] | None:
        key = (issuer_id, reference)
        if key not in self._found:
            from iportal.accounts.services import resolve_client_number as resolve_reference

            row = await resolve_reference(issuer_id, reference)
            self._found[key] = None if row is None else dict(vars(row))
        return self._found[key]


async def resolve_client_number(
    issuer: IssuerPrincipal, candidate: Candidate, numbers: ClientNumbers
) -> dict[str, Any]:
    """The metadata's client code first; otherwise a buyer reference of the e-invoice
    that is this issuer's client code or alias. Another issuer's code is unknown too."""
    if candidate.client_code is not None:
        code = normalise_client_code(candidate.client_code)
        found = await numbers.find(issuer.issuer_id, code)
        if found is None or found["client_code"] != code:
            raise InvalidInput(N_("Client code %(code)s is unknown."), code=code)
        return found
    for reference in candidate.buyer_references:
        found = await numbers.find(issuer.issuer_id, reference)
        if found is not None:
            return found
    raise InvalidInput(
        N_(
            "None of the e-invoice's buyer references (%(references)s) is a client code or "
            "alias of this issuer; give client_code in the metadata."
        ),
        references=", ".join(candidate.buyer_references) or "—",
    )


@dataclass
class _Accepted:
    """A candidate whose client number is known, on its way to a row."""

    index: int
    issuer: IssuerPrincipal
    candidate: Candidate
    client: dict[str, Any]
    document: NewDocument


def _new_document(client_number_id: int, candidate: Candidate) -> NewDocument:
    from iportal.documents.recording import NewDocument

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
    base_url: str,
    numbers: ClientNumbers | None = None,
) -> list[Outcome]:
    """Record inspected files in one transaction, outcomes in the batch's order; never
    raises for the files' own faults. The new documents' blobs are moved into place
    and made durable before the rows are committed; every other staged blob goes."""
    numbers = numbers or ClientNumbers()
    outcomes: list[Outcome | None] = [None] * len(batch)
    accepted: list[_Accepted] = []
    for index, (issuer, result) in enumerate(batch):
        if isinstance(result, Rejection):
            outcomes[index] = rejected(result.name, issuer.language, result.message, result.params)
            continue
        try:
            client = await resolve_client_number(issuer, result, numbers)
        except InvalidInput as error:
            blobs.discard(result.staged)
            outcomes[index] = rejected(result.name, issuer.language, error.message, error.params)
            continue
        document = _new_document(client["id"], result)
        accepted.append(_Accepted(index, issuer, result, client, document))
    if accepted:
        await _record_or_isolate(accepted, outcomes, blobs, base_url)
    return [outcome for outcome in outcomes if outcome is not None]


async def _record_or_isolate(
    accepted: list[_Accepted], outcomes: list[Outcome | None], blobs: BlobStore, base_url: str
) -> None:
    """Record the batch; should the database refuse a row that passed every check, record
    its documents one by one, so that only that one is turned away, with the reason."""
    from iportal import db

    try:
        async with db.transaction():
            await _record(accepted, outcomes, blobs, base_url)
        return
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
        if len(accepted) > 1:
            for one in accepted:
                await _record_or_isolate([one], outcomes, blobs, base_url)
            return
        a = accepted[0]
        blobs.discard(a.candidate.staged)
        outcomes[a.index] = rejected(
            a.candidate.name,
            a.issuer.language,
            N_("The database refused the document: %(reason)s"),
            {"reason": str(error)},
        )


async def _record(
    accepted: list[_Accepted], outcomes: list[Outcome | None], blobs: BlobStore, base_url: str
) -> None:
    from iportal.documents.recording import existing_documents, insert_documents

    ids = await insert_documents([a.document for a in accepted])
    new = [a for a, document_id in zip(accepted, ids, strict=True) if document_id is not None]
    repeats = [a for a, document_id in zip(accepted, ids, strict=True) if document_id is None]
    await asyncio.to_thread(blobs.commit, [b for a in new for b in a.candidate.staged])
    blobs.discard([b for a in repeats for b in a.candidate.staged])
    for a, document_id in zip(accepted, ids, strict=True):
        if document_id is not None:
            outcomes[a.index] = Outcome(
                a.candidate.name, PUBLISHED, document_id, a.client["client_code"], a.candidate
            )
    existing = await existing_documents([a.document.key for a in repeats])
    for a in repeats:
        outcomes[a.index] = _repeat(a.issuer, a.candidate, a.client, existing[a.document.key])
    await invite_waiting([a.client for a in new], base_url)


def _same_file(row: dict[str, Any], candidate: Candidate) -> bool:
    pdf = candidate.pdf.digest if candidate.pdf is not None else None
    xml = candidate.xml.digest if candidate.xml is not None else None
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
    return (await publish_batch([(issuer, result)], blobs, base_url))[0]


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


# Numbers that get an invitation: no account (read now, not from a cached row), never
# opted in before (then opted out: paper was its choice), no invitation waiting to go.
TO_INVITE_SQL = """
SELECT cn.id FROM client_number cn
 WHERE cn.id = ANY({}::int[]) AND cn.account_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM activation_code a
                    WHERE a.client_number_id = cn.id AND a.redeemed_at IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM outbox_email o
                    WHERE o.client_number_id = cn.id AND o.template = 'invitation'
                      AND o.state = 'pending')
"""


async def invite_waiting(clients: list[dict[str, Any]], base_url: str) -> int:
    """Queue an invitation with a fresh 15-week code for each of these client numbers
    that has no account, unless one is still waiting to be sent (a batch of seven
    years of history must not send the client thousands); returns how many."""
    without_account = {c["id"]: c for c in clients if c["account_id"] is None}
    if not without_account:
        return 0
    from iportal.documents.tables import Document

    rows = await Document.raw(TO_INVITE_SQL, list(without_account))
    for row in rows:
        await _queue_invitation(without_account[row["id"]], base_url)
    return len(rows)


async def _queue_invitation(client: dict[str, Any], base_url: str) -> None:
    from iportal.accounts.services import issue_activation_code
    from iportal.notifications.services import queue_email
    from iportal.settings import get_settings

    issued = await issue_activation_code(get_settings(), client["id"])
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


class IssuerDirectory:
    """For the operator's `iportal ingest`: finds the issuer of a document by its
    client code's prefix, or by the one issuer whose code or alias a buyer reference is."""

    def __init__(self, issuers: list[IssuerPrincipal], numbers: ClientNumbers) -> None:
        # Longest prefix first, so that DL20 is not taken for DL2.
        self.issuers = sorted(issuers, key=lambda issuer: -len(issuer.prefix))
        self.numbers = numbers

    async def __call__(self, candidate: Candidate) -> IssuerPrincipal | None:
        if candidate.client_code is not None:
            try:
                code = normalise_client_code(candidate.client_code)
            except InvalidInput:
                return None
            owners = [i for i in self.issuers if code.startswith(i.prefix)]
            for issuer in owners:
                if await self.numbers.find(issuer.issuer_id, code) is not None:
                    return issuer
            return owners[0] if owners else None
        matches = []
        for issuer in self.issuers:
            for reference in candidate.buyer_references:
                if await self.numbers.find(issuer.issuer_id, reference) is not None:
                    matches.append(issuer)
                    break
        return matches[0] if len(matches) == 1 else None


async def all_issuers(prefix: str | None = None) -> list[IssuerPrincipal]:
    from iportal.accounts.services import IssuerPrincipal
    from iportal.accounts.tables import Issuer

    query = Issuer.select(Issuer.id, Issuer.prefix, Issuer.name, Issuer.language)
    if prefix is not None:
        query = query.where(Issuer.prefix == prefix.strip().upper())
    return [
        IssuerPrincipal(row["id"], row["prefix"], row["name"], row["language"], "cli")
        for row in await query
    ]
