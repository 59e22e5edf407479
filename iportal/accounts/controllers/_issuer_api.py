"""The issuer API for client numbers and their activation codes (issuer API key)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from iportal.accounts import services
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.schemas import ClientNumberRequest, ClientNumberSaved, IssuedActivationCode
from iportal.web.auth import ISSUER
from iportal.web.context import settings_of

NO_STORE = {"Cache-Control": "no-store"}


@put(
    "/api/v1/issuer/client-numbers/{client_code:str}",
    name="accounts.client_number_put",
    tags=["issuer"],
    dependencies=ISSUER,
    responses={
        HTTP_201_CREATED: ResponseSpec(data_container=ClientNumberSaved, description="Created")
    },
)
async def put_client_number(
    issuer: NamedDependency[services.IssuerPrincipal],
    client_code: FromPath[str],
    data: JSONBody[ClientNumberRequest],
) -> Response[ClientNumberSaved]:
    """Create (201) or update (200) one of the issuer's client numbers. 422 names each bad
    field; a code of another issuer's prefix is 404, as if it did not exist."""
    status, client_number_id = await services.upsert_client_number(
        issuer,
        client_code,
        services.ClientNumberInput(
            company_name=data.company_name,
            email=data.email,
            first_name=data.first_name,
            last_name=data.last_name,
            language=data.language,
            contract_start=data.contract_start,
            enterprise_number=data.enterprise_number,
            aliases=data.aliases,
        ),
    )
    return Response(
        ClientNumberSaved(client_number_id, normalise_client_code(client_code), status),
        status_code=HTTP_201_CREATED if status == services.CREATED else HTTP_200_OK,
        headers=NO_STORE,
    )


@post(
    "/api/v1/issuer/client-numbers/{client_code:str}/activation-codes",
    name="accounts.activation_code_issue",
    tags=["issuer"],
    dependencies=ISSUER,
    status_code=HTTP_201_CREATED,
)
async def issue_activation_code(
    request: Request[Any, Any, Any],
    issuer: NamedDependency[services.IssuerPrincipal],
    client_code: FromPath[str],
) -> Response[IssuedActivationCode]:
    """A new activation code for one of the issuer's client numbers, valid 15 weeks; the
    plain code is in this answer only. Another issuer's number is 404, like an unknown one."""
    issued = await services.issue_activation_code_for(
        settings_of(request), client_code, issuer_id=issuer.issuer_id
    )
    return Response(
        IssuedActivationCode(issued.client_code, issued.code, issued.expires_at),
        status_code=HTTP_201_CREATED,
        headers=NO_STORE,
    )
