"""The issuer's documents API: publish one document, list what was published."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from iportal.accounts.services import IssuerPrincipal
from iportal.documents import publishing, reading
from iportal.documents.controllers._files import (
    blobs_of,
    file_response,
    rendering_of,
    sandbox_of,
)
from iportal.documents.publishing import (
    ALREADY_PUBLISHED,
    CONFLICT,
    PUBLISHED,
    FileLimits,
    Outcome,
)
from iportal.documents.schemas import (
    PublishedDocument,
    PublishForm,
)
from iportal.errors import Conflict, InvalidInput
from iportal.web.auth import ISSUER
from iportal.web.context import settings_of
from iportal.web.inputs import BigSerialId
from iportal.web.params import Cursor, Limit


def _already_translated(outcome: Outcome) -> dict[str, str]:
    # The reason is already in the issuer's language: pass it through as is.
    return {"message": "%(reason)s", "reason": outcome.reason}


@post(
    "/documents",
    name="documents.publish",
    tags=["issuer"],
    dependencies=ISSUER,
    status_code=HTTP_201_CREATED,
)
async def publish_document(
    request: Request[Any, Any, Any],
    issuer: NamedDependency[IssuerPrincipal],
    data: MultipartBody[PublishForm],
) -> Response[PublishedDocument]:
    """Publish one PDF (with metadata), Factur-X PDF or UBL XML. 201 published, 200 the
    same file was already published, 409 another file under that number, 422 invalid."""
    settings = settings_of(request)
    content = await data.file.read()
    outcome = await publishing.publish_upload(
        issuer,
        data.file.filename or "upload",
        content,
        data.metadata,
        sandbox=sandbox_of(request),
        blobs=blobs_of(request),
        limits=FileLimits(max_bytes=settings.max_upload_bytes, max_pages=settings.max_pages),
        settings=settings,
    )
    if outcome.status == CONFLICT:
        raise Conflict(**_already_translated(outcome))
    if outcome.status not in (PUBLISHED, ALREADY_PUBLISHED) or outcome.candidate is None:
        raise InvalidInput(**_already_translated(outcome))
    fields = outcome.candidate.fields
    body = PublishedDocument(
        id=outcome.document_id,
        client_code=outcome.client_code,
        type=fields.type,
        number=fields.number,
        issue_date=fields.issue_date,
        due_date=fields.due_date,
        currency=fields.currency,
        amount_excl_vat=fields.amount_excl_vat,
        vat_amount=fields.vat_amount,
        amount_incl_vat=fields.amount_incl_vat,
        status=outcome.status,
        warnings=list(outcome.warnings),
    )
    status = HTTP_201_CREATED if outcome.status == PUBLISHED else HTTP_200_OK
    return Response(body, status_code=status)


@get("/documents", name="documents.issuer_list", tags=["issuer"], dependencies=ISSUER)
async def list_issuer_documents(
    issuer: NamedDependency[IssuerPrincipal],
    client_code: Annotated[str | None, QueryParameter()] = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> publishing.IssuedDocuments:
    """The issuer's own published documents, newest first."""
    return await publishing.issuer_documents(issuer.issuer_id, client_code, cursor, limit)


@get(
    "/documents/{document_id:int}/pdf",
    name="documents.issuer_pdf",
    tags=["issuer"],
    dependencies=ISSUER,
)
async def issuer_pdf(
    request: Request[Any, Any, Any],
    issuer: NamedDependency[IssuerPrincipal],
    document_id: FromPath[BigSerialId],
) -> Response[bytes]:
    """One of the issuer's documents as its clients get it, to check a rendering: its
    own PDF, or for a document published as XML only the PDF made from its XML in the
    request's language (Accept-Language), as a client reading in that language gets
    it. Another issuer's document answers 404, like one that does not exist."""
    rendering = rendering_of(request)
    file = await reading.issued_pdf(issuer.issuer_id, document_id, blobs_of(request), rendering)
    return file_response(file, "application/pdf", False)


@get(
    "/documents/{document_id:int}/xml",
    name="documents.issuer_xml",
    tags=["issuer"],
    dependencies=ISSUER,
)
async def issuer_xml(
    request: Request[Any, Any, Any],
    issuer: NamedDependency[IssuerPrincipal],
    document_id: FromPath[BigSerialId],
) -> Response[bytes]:
    """The XML of one of the issuer's documents, as published."""
    file = await reading.issued_xml(issuer.issuer_id, document_id, blobs_of(request))
    return file_response(file, "application/xml", True)


issuer_router = Router(
    path="/api/v1/issuer",
    route_handlers=[publish_document, list_issuer_documents, issuer_pdf, issuer_xml],
)
