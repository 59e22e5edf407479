"""Security settings of a logged-in person: two-step verification (TOTP) with its
recovery codes, and changing the password; as pages and as JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from iportal.accounts import services
from iportal.accounts.schemas import (
    PasswordChange,
    PasswordConfirmation,
    RecoveryCodes,
    TotpCode,
    TotpEnrolment,
)
from iportal.accounts.services import SessionUser
from iportal.errors import Conflict, DomainError, InvalidInput, TooManyAttempts
from iportal.web.auth import USER
from iportal.web.context import client_ip, settings_of
from iportal.web.pages import page

NO_STORE = {"Cache-Control": "no-store"}
# What the page says after a change it redirected from (`?done=`).
DONE = ("totp_removed",)


async def _security_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    *,
    status_code: int = 200,
    error: str | None = None,
    recovery_codes: list[str] | None = None,
    done: str | None = None,
) -> Template:
    status = await services.totp_status(settings_of(request).secret_key, user.user_id)
    response = page(
        request,
        "accounts/security.html",
        status_code=status_code,
        totp=status,
        error=error,
        recovery_codes=recovery_codes,
        done=done if done in DONE else None,
    )
    response.headers.update(NO_STORE)
    return response


def _failed(error: DomainError) -> tuple[int, str]:
    return error.status_code, error.translated()


@get("/me/security", name="accounts.security_page", include_in_schema=False)
async def security_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    done: Annotated[str | None, QueryParameter()] = None,
) -> Template:
    return await _security_page(request, user, done=done)


@post("/me/security/totp", name="accounts.totp_start", include_in_schema=False)
async def totp_start_form(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Response[Any]:
    try:
        await services.start_totp_enrolment(settings_of(request).secret_key, user.user_id)
    except Conflict as error:
        status, message = _failed(error)
        return await _security_page(request, user, status_code=status, error=message)
    return Redirect(path="/me/security#totp", status_code=303)


@post("/me/security/totp/confirm", name="accounts.totp_confirm", include_in_schema=False)
async def totp_confirm_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: URLEncodedBody[dict[str, str]],
) -> Template:
    try:
        codes = await services.confirm_totp(
            settings_of(request).secret_key,
            user.user_id,
            data.get("code", ""),
            session_id=user.session_id,
            ip=client_ip(request),
        )
    except (InvalidInput, Conflict, TooManyAttempts) as error:
        status, message = _failed(error)
        return await _security_page(request, user, status_code=status, error=message)
    return await _security_page(request, user, recovery_codes=codes)


@post("/me/security/totp/remove", name="accounts.totp_remove", include_in_schema=False)
async def totp_remove_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    try:
        await services.disable_totp(
            user.user_id,
            data.get("password", ""),
            session_id=user.session_id,
            ip=client_ip(request),
        )
    except (InvalidInput, Conflict, TooManyAttempts) as error:
        status, message = _failed(error)
        return await _security_page(request, user, status_code=status, error=message)
    return Redirect(path="/me/security?done=totp_removed", status_code=303)


@get("/me/password", name="accounts.password_page", include_in_schema=False)
async def password_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "accounts/password_change.html", error=None, done=False)


@post("/me/password", name="accounts.password_change", include_in_schema=False)
async def password_change_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: URLEncodedBody[dict[str, str]],
) -> Template:
    try:
        await services.change_password(
            settings_of(request),
            user.user_id,
            data.get("current_password", ""),
            data.get("new_password", ""),
            session_id=user.session_id,
            ip=client_ip(request),
        )
    except (InvalidInput, TooManyAttempts) as error:
        status, message = _failed(error)
        return page(
            request,
            "accounts/password_change.html",
            status_code=status,
            error=message,
            done=False,
        )
    return page(request, "accounts/password_change.html", error=None, done=True)


@post("/api/v1/me/totp", name="accounts.api_totp_start", tags=["profile"], dependencies=USER)
async def api_totp_start(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Response[Any]:
    """Start two-step verification: a new secret as an `otpauth://` URI, a QR code
    (SVG) and the manual key. Not in force until confirmed with a code."""
    enrolment = await services.start_totp_enrolment(settings_of(request).secret_key, user.user_id)
    return Response(
        TotpEnrolment(enrolment.otpauth_uri, enrolment.secret, enrolment.qr_svg),
        status_code=201,
        headers=NO_STORE,
    )


@post(
    "/api/v1/me/totp/confirm",
    name="accounts.api_totp_confirm",
    tags=["profile"],
    dependencies=USER,
    status_code=HTTP_200_OK,
)
async def api_totp_confirm(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser], data: JSONBody[TotpCode]
) -> Response[RecoveryCodes]:
    """Turn two-step verification on with a first code; returns ten single-use
    recovery codes, shown this once. Every other session of the user ends."""
    codes = await services.confirm_totp(
        settings_of(request).secret_key,
        user.user_id,
        data.code,
        session_id=user.session_id,
        ip=client_ip(request),
    )
    return Response(RecoveryCodes(codes), headers=NO_STORE)


@delete(
    "/api/v1/me/totp",
    name="accounts.api_totp_remove",
    tags=["profile"],
    dependencies=USER,
    status_code=HTTP_204_NO_CONTENT,
)
async def api_totp_remove(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: JSONBody[PasswordConfirmation],
) -> None:
    """Turn two-step verification off; asks for the password. Every other session ends."""
    await services.disable_totp(
        user.user_id, data.password, session_id=user.session_id, ip=client_ip(request)
    )


@post(
    "/api/v1/me/password",
    name="accounts.api_password_change",
    tags=["profile"],
    dependencies=USER,
    status_code=HTTP_204_NO_CONTENT,
)
async def api_password_change(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: JSONBody[PasswordChange],
) -> None:
    """A new password (the current one is asked for); every other session and every
    personal API token ends, and an e-mail tells the person."""
    await services.change_password(
        settings_of(request),
        user.user_id,
        data.current_password,
        data.new_password,
        session_id=user.session_id,
        ip=client_ip(request),
    )
