"""The issuer's documents API: publish one document, list what was published."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import MultipartBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from iportal.accounts.services import IssuerPrincipal
from iportal.documents import services
from iportal.documents.blobs import FolderBlobStore
from iportal.documents.inspection import FileLimits
from iportal.documents.publishing import ALREADY_PUBLISHED, CONFLICT, PUBLISHED, Outcome
from iportal.documents.sandbox import Sandbox
from iportal.documents.schemas import (
    IssuerDocument,
    IssuerDocumentPage,
    PublishedDocument,
    PublishForm,
)
from iportal.errors import Conflict, InvalidInput
from iportal.web.auth import ISSUER
from iportal.web.context import settings_of


def sandbox_of(request: Request[Any, Any, Any]) -> Sandbox:
    """One pool of sandboxed workers per web process, started on first use."""
    state = request.app.state
    if state.get("sandbox") is None:
        state.sandbox = Sandbox(jobs=2)
    sandbox: Sandbox = state.sandbox
    return sandbox


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
    outcome = await services.publish_upload(
        issuer,
        data.file.filename or "upload",
        content,
        data.metadata,
        sandbox=sandbox_of(request),
        blobs=FolderBlobStore(settings.blob_dir),
        limits=FileLimits(max_bytes=settings.max_upload_bytes, max_pages=settings.max_pages),
        base_url=settings.base_url,
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
    )
    status = HTTP_201_CREATED if outcome.status == PUBLISHED else HTTP_200_OK
    return Response(body, status_code=status)


@get("/documents", name="documents.issuer_list", tags=["issuer"], dependencies=ISSUER)
async def list_issuer_documents(
    issuer: NamedDependency[IssuerPrincipal],
    client_code: Annotated[str | None, QueryParameter()] = None,
    cursor: Annotated[str | None, QueryParameter()] = None,
    limit: Annotated[int | None, QueryParameter()] = None,
) -> IssuerDocumentPage:
    """The issuer's own published documents, newest first."""
    rows, next_cursor = await services.issuer_documents(
        issuer.issuer_id, client_code, cursor, limit
    )
    return IssuerDocumentPage(
        items=[IssuerDocument(**row) for row in rows], next_cursor=next_cursor
    )


async def close_sandbox(app: Any) -> None:
    sandbox = app.state.get("sandbox")
    if sandbox is not None:
        sandbox.close()


issuer_router = Router(
    path="/api/v1/issuer", route_handlers=[publish_document, list_issuer_documents]
)
