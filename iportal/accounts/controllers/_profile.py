"""A person's own profile and personal API tokens: as pages and as JSON API."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_204_NO_CONTENT

from iportal.accounts import services
from iportal.accounts.schemas import ProfileUpdate, TokenRequest
from iportal.accounts.services import (
    NewPersonalToken,
    ProfileInfo,
    SessionUser,
    TokenInfo,
)
from iportal.errors import InvalidInput
from iportal.notifications import services as notifications
from iportal.web.auth import USER
from iportal.web.context import client_ip
from iportal.web.inputs import SerialId
from iportal.web.pages import page

NO_STORE = {"Cache-Control": "no-store"}
# The profile form's fields, as a refusal names them.
PROFILE_FIELDS = ("first_name", "last_name", "language")


@get("/api/v1/me", name="accounts.me", tags=["profile"], dependencies=USER)
async def me(user: NamedDependency[SessionUser]) -> Response[ProfileInfo]:
    """Who is logged in (or whose personal token this is)."""
    return Response(await services.get_profile(user.user_id), headers=NO_STORE)


@patch("/api/v1/me", name="accounts.me_update", tags=["profile"], dependencies=USER)
async def me_update(
    user: NamedDependency[SessionUser], data: JSONBody[ProfileUpdate]
) -> Response[ProfileInfo]:
    """Change any of first name, last name, language (nl, fr, en, de) and how often
    new documents are announced (`immediate`, `daily`, `weekly`)."""
    profile = await services.update_profile(
        user.user_id,
        first_name=data.first_name,
        last_name=data.last_name,
        language=data.language,
        notification_frequency=data.notification_frequency,
    )
    return Response(profile, headers=NO_STORE)


async def _profile_page(
    request: Request[Any, Any, Any],
    user: SessionUser,
    profile: ProfileInfo | None = None,
    *,
    status_code: int = 200,
    error: str | None = None,
    error_field: str | None = None,
    saved: bool = False,
    address_confirmed: bool = False,
) -> Template:
    """The profile: the person's address with its delivery problem when there is one,
    their name and language."""
    profile = profile or await services.get_profile(user.user_id)
    return page(
        request,
        "accounts/profile.html",
        status_code=status_code,
        profile=profile,
        error=error,
        error_field=error_field,
        saved=saved,
        problem=await notifications.delivery_problem(profile.email),
        address_confirmed=address_confirmed,
    )


@get("/me", name="accounts.profile_page", include_in_schema=False)
async def profile_page(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Template:
    return await _profile_page(request, user)


@post("/me", name="accounts.profile_save", include_in_schema=False)
async def profile_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: URLEncodedBody[dict[str, str]],
) -> Template:
    try:
        profile = await services.update_profile(
            user.user_id,
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            language=data.get("language"),
            notification_frequency=data.get("notification_frequency"),
        )
    except InvalidInput as error:
        # The form again with what was typed, the reason above it.
        stored = await services.get_profile(user.user_id)
        typed = replace(
            stored,
            first_name=data.get("first_name", stored.first_name)[:200],
            last_name=data.get("last_name", stored.last_name)[:200],
        )
        named = error.params.get("field") or error.message
        field = next((name for name in PROFILE_FIELDS if name in str(named)), None)
        return await _profile_page(
            request,
            user,
            typed,
            status_code=422,
            error=error.translated(),
            error_field=field,
        )
    return await _profile_page(request, user, profile, saved=True)


async def _notices_page(
    request: Request[Any, Any, Any],
    user: SessionUser,
    *,
    status_code: int = 200,
    error: str | None = None,
    notices_saved: bool = False,
) -> Template:
    """How often the person is told about new documents, and their own switch per
    client number they see."""
    profile = await services.get_profile(user.user_id)
    return page(
        request,
        "accounts/notices.html",
        status_code=status_code,
        frequency=profile.notification_frequency,
        switches=await notifications.notice_switches(user.user_id),
        error=error,
        notices_saved=notices_saved,
    )


@get("/me/notices", name="accounts.notices_page", include_in_schema=False)
async def notices_page(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Template:
    return await _notices_page(request, user)


@post("/me/notices", name="accounts.notices_save", include_in_schema=False)
async def notices_form(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Template:
    """The rhythm of the person's e-mails and the tick boxes per client number."""
    form = await request.form()
    frequency = form.get("notification_frequency")
    if frequency is not None:
        try:
            await services.update_profile(user.user_id, notification_frequency=str(frequency))
        except InvalidInput as error:
            return await _notices_page(request, user, status_code=422, error=error.translated())
    await notifications.set_notice_switches(user.user_id, form.getall("shown"), form.getall("on"))
    return await _notices_page(request, user, notices_saved=True)


@post("/me/email/confirm", name="accounts.email_confirm", include_in_schema=False)
async def email_confirm(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Template:
    """ "My address is right": its delivery problem is cleared and what was held or failed
    in the last five days is sent again. The banner goes from this page on."""
    profile = await services.get_profile(user.user_id)
    await notifications.confirm_address(profile.email)
    request.state.user = replace(user, email_problem="")
    return await _profile_page(request, user, profile, address_confirmed=True)


@post("/api/v1/me/tokens", name="accounts.api_token_create", tags=["profile"], dependencies=USER)
async def api_token_create(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: JSONBody[TokenRequest],
) -> Response[NewPersonalToken]:
    """A new read-only personal API token (`Authorization: Bearer ipt_…`), shown once."""
    token = await services.create_personal_token(user.user_id, data.name, ip=client_ip(request))
    return Response(token, status_code=201, headers=NO_STORE)


@get("/api/v1/me/tokens", name="accounts.api_tokens", tags=["profile"], dependencies=USER)
async def api_tokens(user: NamedDependency[SessionUser]) -> Response[list[TokenInfo]]:
    """The live personal tokens: names and dates, never the tokens."""
    return Response(await services.list_personal_tokens(user.user_id), headers=NO_STORE)


@delete(
    "/api/v1/me/tokens/{token_id:int}",
    name="accounts.api_token_revoke",
    tags=["profile"],
    dependencies=USER,
    status_code=HTTP_204_NO_CONTENT,
)
async def api_token_revoke(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    token_id: FromPath[SerialId],
) -> None:
    """Revoke a token at once; 404 for a token that is not (or no longer) yours."""
    await services.revoke_personal_token(user.user_id, token_id, ip=client_ip(request))


@get("/me/tokens", name="accounts.tokens_page", include_in_schema=False)
async def tokens_page(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Template:
    tokens = await services.list_personal_tokens(user.user_id)
    return page(request, "accounts/tokens.html", tokens=tokens, new_token=None, error=None, name="")


@post("/me/tokens", name="accounts.token_create", include_in_schema=False)
async def token_create_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: URLEncodedBody[dict[str, str]],
) -> Template:
    new_token, error, status, typed = None, None, 200, ""
    try:
        new_token = await services.create_personal_token(
            user.user_id, data.get("name", ""), ip=client_ip(request)
        )
    except InvalidInput as refused:
        error, status = refused.translated(), refused.status_code
        typed = data.get("name", "")[:200]  # the form again with what was typed
    tokens = await services.list_personal_tokens(user.user_id)
    response = page(
        request,
        "accounts/tokens.html",
        status_code=status,
        tokens=tokens,
        new_token=new_token,
        error=error,
        name=typed,
    )
    response.headers.update(NO_STORE)
    return response


@post("/me/tokens/{token_id:int}/revoke", name="accounts.token_revoke", include_in_schema=False)
async def token_revoke_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    token_id: FromPath[SerialId],
) -> Redirect:
    await services.revoke_personal_token(user.user_id, token_id, ip=client_ip(request))
    return Redirect(path="/me/tokens", status_code=303)
