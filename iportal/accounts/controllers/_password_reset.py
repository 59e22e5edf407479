"""A forgotten password: ask for a link by e-mail, then choose a new password with it.

The answer to "send me a link" is the same for every address (202, and the same
page), so neither tells whether someone has an account.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Template
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from iportal.accounts import services
from iportal.accounts.schemas import Accepted, PasswordResetConfirm, PasswordResetRequest
from iportal.errors import Gone, InvalidInput, TooManyAttempts
from iportal.i18n import N_, gettext
from iportal.web.context import client_ip, settings_of
from iportal.web.pages import page

LINK_SENT = N_(
    "If an account uses this address, we have sent it a link to choose a new password. "
    "The link is valid for one hour. Check your spam folder if it does not arrive."
)


@get("/password-reset", name="accounts.password_reset_page", include_in_schema=False)
async def password_reset_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "accounts/password_reset.html", sent=False, error=None, email="")


@post("/password-reset", name="accounts.password_reset", include_in_schema=False)
async def password_reset_form(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    email = data.get("email", "")
    try:
        await services.request_password_reset(settings_of(request), email, ip=client_ip(request))
    except TooManyAttempts as error:
        response = page(
            request,
            "accounts/password_reset.html",
            status_code=429,
            sent=False,
            error=error.translated(),
            email=email,
        )
        response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response
    return page(request, "accounts/password_reset.html", sent=True, error=None, email="")


@get(
    "/password-reset/confirm",
    name="accounts.password_reset_confirm_page",
    include_in_schema=False,
)
async def password_reset_confirm_page(
    request: Request[Any, Any, Any],
    token: Annotated[str, QueryParameter()] = "",
) -> Template:
    valid = await services.reset_token_is_valid(settings_of(request), token)
    response = page(
        request,
        "accounts/password_reset_confirm.html",
        status_code=200 if valid else 410,
        token=token,
        valid=valid,
        done=False,
        error=None,
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


@post("/password-reset/confirm", name="accounts.password_reset_confirm", include_in_schema=False)
async def password_reset_confirm_form(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    token = data.get("token", "")
    try:
        await services.confirm_password_reset(
            settings_of(request), token, data.get("password", ""), ip=client_ip(request)
        )
    except (InvalidInput, Gone, TooManyAttempts) as error:
        return page(
            request,
            "accounts/password_reset_confirm.html",
            status_code=error.status_code,
            token=token,
            valid=not isinstance(error, Gone),
            done=False,
            error=error.translated(),
        )
    return page(
        request,
        "accounts/password_reset_confirm.html",
        token="",
        valid=True,
        done=True,
        error=None,
    )


@post(
    "/api/v1/auth/password-reset",
    name="accounts.api_password_reset",
    status_code=HTTP_202_ACCEPTED,
    tags=["session"],
)
async def api_password_reset(
    request: Request[Any, Any, Any], data: JSONBody[PasswordResetRequest]
) -> Response[Accepted]:
    """E-mail a link (valid one hour) to choose a new password. Always 202 with the
    same body, in the same time, whether or not an account uses the address (the
    worker sends the e-mail); 429 when throttled."""
    await services.request_password_reset(settings_of(request), data.email, ip=client_ip(request))
    return Response(
        Accepted(gettext(LINK_SENT)),
        status_code=HTTP_202_ACCEPTED,
        headers={"Cache-Control": "no-store"},
    )


@post(
    "/api/v1/auth/password-reset/confirm",
    name="accounts.api_password_reset_confirm",
    status_code=HTTP_204_NO_CONTENT,
    tags=["session"],
)
async def api_password_reset_confirm(
    request: Request[Any, Any, Any], data: JSONBody[PasswordResetConfirm]
) -> None:
    """Set the new password with the token from the e-mailed link: once, within the
    hour (410 otherwise). Unlocks the account and ends every session and every personal
    API token; an e-mail tells the person."""
    await services.confirm_password_reset(
        settings_of(request), data.token, data.password, ip=client_ip(request)
    )
