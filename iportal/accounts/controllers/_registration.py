"""Registration in three steps: the pages for people (no JavaScript needed) and the
anonymous JSON API (`/api/v1/activation/{check,start,complete}`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from iportal.accounts import services
from iportal.accounts.passwords import MIN_LENGTH, RECOMMENDED_LENGTH
from iportal.accounts.schemas import (
    ActivationCheck,
    ActivationCheckRequest,
    ActivationCompleted,
    ActivationCompleteRequest,
    ActivationStarted,
    ActivationStartRequest,
)
from iportal.errors import DomainError, InvalidInput, NotAuthenticated, TooManyAttempts
from iportal.i18n import N_, gettext
from iportal.web.context import client_ip, cookie, current_user, session_cookie_name, settings_of
from iportal.web.pages import page, refused_page

NO_STORE = {"Cache-Control": "no-store"}
STARTED = N_(
    "If this activation code can be used, a confirmation e-mail is on its way to this "
    "address. Its link is valid 5 days."
)
PASSWORDS_DIFFER = N_("The two passwords are not the same. Please type them again.")
# Pages whose address carries a secret token: never sent on as a Referer.
TOKEN_PAGE_HEADERS = {"Referrer-Policy": "no-referrer"}


def start_session_cookie(
    request: Request[Any, Any, Any], response: Response[Any], cookie_value: str
) -> None:
    settings = settings_of(request)
    response.set_cookie(
        cookie(
            settings,
            session_cookie_name(settings),
            cookie_value,
            max_age=settings.session_max_hours * 3600,
        )
    )


# JSON API ------------------------------------------------------------------------------


@post(
    "/api/v1/activation/check",
    name="accounts.activation_check",
    tags=["registration"],
    status_code=200,
)
async def api_check(
    request: Request[Any, Any, Any], data: JSONBody[ActivationCheckRequest]
) -> Response[ActivationCheck]:
    """Step 1: the client number an activation code opts in, its e-mail address (masked,
    `a•••@example.be`: the person confirms it by typing it at step 2, or gives another)
    and the login the account will have (masked too when it is that address). 404 unknown
    code; 410 expired, already used, or replaced by a newer code of the same number; 409
    the number is already active in an account."""
    checked = await services.check_activation_code(
        settings_of(request), data.code, ip=client_ip(request)
    )
    return Response(
        ActivationCheck(
            checked.client_code,
            checked.company_name,
            checked.email,
            checked.login_kind,
            checked.login,
        ),
        headers=NO_STORE,
    )


@post(
    "/api/v1/activation/start",
    name="accounts.activation_start",
    tags=["registration"],
    status_code=HTTP_202_ACCEPTED,
)
async def api_start(
    request: Request[Any, Any, Any], data: JSONBody[ActivationStartRequest]
) -> Response[ActivationStarted]:
    """Step 2: sends the confirmation e-mail (link valid 5 days) to the address given,
    which may differ from the one on file. Always 202 with the same body, whatever the
    code: only a malformed address is refused (422)."""
    await services.start_registration(
        settings_of(request), data.code, data.email, ip=client_ip(request)
    )
    return Response(
        ActivationStarted(gettext(STARTED)), status_code=HTTP_202_ACCEPTED, headers=NO_STORE
    )


@post(
    "/api/v1/activation/complete",
    name="accounts.activation_complete",
    tags=["registration"],
    status_code=HTTP_201_CREATED,
)
async def api_complete(
    request: Request[Any, Any, Any], data: JSONBody[ActivationCompleteRequest]
) -> Response[ActivationCompleted]:
    """Step 3: the token from the e-mail's link and the password; the account exists and
    the number is opted in. 422 for a password the rules refuse; 401 when the address
    already has a login and this is not its password; 404/410 for a link that is unknown,
    used or expired; 409/410 when the code can no longer be used."""
    done = await services.complete_registration(
        settings_of(request), data.token, data.password, ip=client_ip(request)
    )
    return Response(ActivationCompleted(done.login), status_code=HTTP_201_CREATED, headers=NO_STORE)


# Pages ---------------------------------------------------------------------------------


@get("/activate", name="accounts.activate_page", include_in_schema=False)
async def activate_page(
    request: Request[Any, Any, Any], code: Annotated[str, QueryParameter()] = ""
) -> Response[Any]:
    """Step 1, prefilled from the invitation's link. Someone already logged in adds the
    number to their account instead."""
    if current_user(request) is not None:
        query = f"?{urlencode({'code': code})}" if code else ""
        return Redirect(path=f"/client-numbers{query}", status_code=303)
    return page(request, "accounts/activate.html", code=code.strip()[:64], error=None)


@post("/activate", name="accounts.activate_check", include_in_schema=False)
async def activate_check(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    code = data.get("code", "")
    try:
        checked = await services.check_activation_code(
            settings_of(request), code, ip=client_ip(request)
        )
    except DomainError as error:
        return refused_page(request, "accounts/activate.html", error, code=code.strip()[:64])
    return page(
        request,
        "accounts/activate_details.html",
        code=code,
        checked=checked,
        email="",  # the person types it: the address on file is only shown masked
        error=None,
    )


@post("/activate/start", name="accounts.activate_start", include_in_schema=False)
async def activate_start(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    code, email = data.get("code", ""), data.get("email", "")
    try:
        await services.start_registration(settings_of(request), code, email, ip=client_ip(request))
    except InvalidInput as error:
        checked = await services.check_activation_code(
            settings_of(request), code, ip=client_ip(request)
        )
        return refused_page(
            request,
            "accounts/activate_details.html",
            error,
            code=code,
            checked=checked,
            email=email,
        )
    return page(
        request,
        "accounts/activate_sent.html",
        email=email.strip(),
        days=services.LINK_VALIDITY.days,
    )


@get("/activate/confirm", name="accounts.activate_confirm_page", include_in_schema=False)
async def activate_confirm_page(
    request: Request[Any, Any, Any], token: Annotated[str, QueryParameter()] = ""
) -> Template:
    """Step 3: the link from the e-mail; choose the password (or enter the existing one)."""
    try:
        pending = await services.pending_registration(
            settings_of(request), token, ip=client_ip(request)
        )
    except DomainError as error:
        response = refused_page(request, "accounts/activate_refused.html", error)
    else:
        response = _password_page(request, pending, None)
    response.headers.update(TOKEN_PAGE_HEADERS)
    return response


def _password_page(
    request: Request[Any, Any, Any],
    pending: services.PendingRegistration,
    error: DomainError | None,
) -> Template:
    context: dict[str, Any] = {
        "pending": pending,
        "min_length": MIN_LENGTH,
        "good_length": RECOMMENDED_LENGTH,
    }
    if error is None:
        return page(request, "accounts/activate_password.html", error=None, **context)
    return refused_page(request, "accounts/activate_password.html", error, **context)


@post("/activate/confirm", name="accounts.activate_complete", include_in_schema=False)
async def activate_complete(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Response[Any]:
    token, password = data.get("token", ""), data.get("password", "")
    settings, ip = settings_of(request), client_ip(request)
    error: DomainError
    if data.get("mode") == "choose" and password != data.get("password_repeat", ""):
        error = InvalidInput(PASSWORDS_DIFFER)
    else:
        try:
            done = await services.complete_registration(settings, token, password, ip=ip)
        except (InvalidInput, NotAuthenticated, TooManyAttempts) as refused:
            error = refused
        except DomainError as refused:
            return refused_page(request, "accounts/activate_refused.html", refused)
        else:
            return await _logged_in(request, done)
    try:  # the password page again, with the reason
        pending = await services.pending_registration(settings, token, ip=ip)
    except DomainError as refused:
        return refused_page(request, "accounts/activate_refused.html", refused)
    return _password_page(request, pending, error)


async def _logged_in(
    request: Request[Any, Any, Any], done: services.CompletedRegistration
) -> Response[Any]:
    if not done.may_log_in:  # a second factor is on: the login page asks for it
        return Redirect(path="/login?next=/", status_code=303)
    new = await services.start_session(
        settings_of(request),
        done.user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    response: Response[Any] = Redirect(path="/", status_code=303)
    start_session_cookie(request, response, new.cookie_value)
    return response
