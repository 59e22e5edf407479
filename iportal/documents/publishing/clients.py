"""The client number a document is published to: found once per run for this issuer
only, by its client code or a buyer reference; for `iportal ingest`, the issuer found
from the document itself; and the invitation a number without an account gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from iportal import db
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services import ClientNumberRow, IssuerPrincipal, issue_activation_code
from iportal.accounts.services import resolve_client_number as resolve_reference
from iportal.accounts.tables import Issuer
from iportal.documents.publishing.inspection import Candidate
from iportal.errors import InvalidInput
from iportal.i18n import N_
from iportal.notifications.services import queue_email
from iportal.settings import Settings

INVITATION = "invitation"


@dataclass(frozen=True)
class DocumentClient:
    """A client number as publishing needs it: where its documents go, and whom its
    invitation is addressed to."""

    id: int
    client_code: str
    account_id: int | None
    email: str
    language: str
    company_name: str
    first_name: str


def _client(found: ClientNumberRow) -> DocumentClient:
    return DocumentClient(
        id=found.id,
        client_code=found.client_code,
        account_id=found.account_id,
        email=found.email,
        language=found.language,
        company_name=found.company_name,
        first_name=found.first_name,
    )


class ClientNumbers:
    """Client numbers looked up once each: a batch of seven years of history names the
    same few hundred numbers over and over. One per run (or per request); a number
    created meanwhile is seen by the next run."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, str], DocumentClient | None] = {}

    async def find(self, issuer_id: int, reference: str) -> DocumentClient | None:
        key = (issuer_id, reference)
        if key not in self._found:
            found = await resolve_reference(issuer_id, reference)
            self._found[key] = None if found is None else _client(found)
        return self._found[key]


async def resolve_client_number(
    issuer: IssuerPrincipal, candidate: Candidate, numbers: ClientNumbers
) -> DocumentClient:
    """The metadata's client code first; otherwise a buyer reference of the e-invoice
    that is this issuer's client code or alias. Another issuer's code is unknown too."""
    if candidate.client_code is not None:
        code = normalise_client_code(candidate.client_code)
        found = await numbers.find(issuer.issuer_id, code)
        if found is None or found.client_code != code:
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


# Numbers that get an invitation: no account (read now, not from a cached row), never
# opted in before (then opted out: paper was its choice), no invitation waiting to go
# (pending, or held because its address bounced: a new one would be held too).
TO_INVITE_SQL = """
SELECT cn.id FROM client_number cn
 WHERE cn.id = ANY($1::int[]) AND cn.account_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM activation_code a
                    WHERE a.client_number_id = cn.id AND a.redeemed_at IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM outbox_email o
                    WHERE o.client_number_id = cn.id AND o.template = 'invitation'
                      AND o.state IN ('pending', 'held'))
"""


async def invite_waiting(settings: Settings, clients: list[DocumentClient]) -> int:
    """Queue an invitation with a fresh 15-week code for each of these client numbers
    that has no account, unless one is still waiting to be sent (a batch of seven
    years of history must not send the client thousands); returns how many."""
    without_account = {c.id: c for c in clients if c.account_id is None}
    if not without_account:
        return 0
    rows = await db.fetch(TO_INVITE_SQL, list(without_account))
    for row in rows:
        await _queue_invitation(settings, without_account[row["id"]])
    return len(rows)


async def _queue_invitation(settings: Settings, client: DocumentClient) -> None:
    issued = await issue_activation_code(settings, client.id)
    await queue_email(
        INVITATION,
        client.email,
        client.language,
        {
            "company_name": client.company_name,
            "client_code": client.client_code,
            "first_name": client.first_name,
            "code": issued.code,
            "expires_at": issued.expires_at,
            "link": f"{settings.base_url}/activate?code={issued.code}",
            "base_url": settings.base_url,
        },
        client_number_id=client.id,
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
    """Every issuer (or the one with this prefix), as `iportal ingest` publishes for it."""
    query = Issuer.select(Issuer.id, Issuer.prefix, Issuer.name, Issuer.language)
    if prefix is not None:
        query = query.where(Issuer.prefix == prefix.strip().upper())
    return [
        IssuerPrincipal(row["id"], row["prefix"], row["name"], row["language"], "cli")
        for row in await query
    ]
