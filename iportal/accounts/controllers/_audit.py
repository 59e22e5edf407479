"""What happened to my accounts: the audit events the main contact of an account reads
(with what they did themselves), as JSON API and as a page; nobody else (403)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from iportal.accounts import services
from iportal.accounts.services import AuditPage, SessionUser
from iportal.errors import Forbidden, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.web.auth import USER
from iportal.web.pages import page
from iportal.web.params import Cursor, Limit

# How the page names each kind of event.
KIND_LABELS = {
    "login_succeeded": N_("Logged in"),
    "login_failed": N_("Failed login"),
    "logout": N_("Logged out"),
    "code_redeemed": N_("Activation code used"),
    "opted_out": N_("Back to paper (opt-out)"),
    "password_changed": N_("Password changed"),
    "password_reset": N_("Password reset with an e-mailed link"),
    "totp_enabled": N_("Two-step verification turned on"),
    "totp_disabled": N_("Two-step verification turned off"),
    "token_created": N_("API token created"),
    "token_revoked": N_("API token revoked"),
    "shared_user_created": N_("Shared user added"),
    "shared_user_updated": N_("Shared user changed"),
    "shared_user_deleted": N_("Shared user removed"),
    "grant_added": N_("Access to a client number given"),
    "grant_revoked": N_("Access to a client number taken away"),
    "document_opened": N_("Document opened"),
    "duplicate_requested": N_("Duplicate requested"),
    "registration_started": N_("Registration started"),
    "opted_in": N_("Client number activated"),
    "account_locked": N_("Account locked after too many failed logins"),
    "recovery_code_used": N_("Recovery code used"),
    "password_reset_requested": N_("New password requested"),
    "forwarding_address_added": N_("Forwarding address added"),
    "forwarding_address_confirmed": N_("Forwarding address confirmed"),
    "forwarding_address_removed": N_("Forwarding address removed"),
    "document_forwarded": N_("Document forwarded to accounting software"),
    "document_exported": N_("Documents exported"),
    "main_contact_handover_requested": N_("Hand-over of the main contact role asked"),
    "main_contact_handover_confirmed": N_("Hand-over of the main contact role confirmed"),
    "main_contact_handed_over": N_("Main contact role handed over"),
}


@get("/api/v1/audit-events", name="accounts.api_audit_events", tags=["audit"], dependencies=USER)
async def api_audit_events(
    user: NamedDependency[SessionUser],
    client_code: Annotated[str | None, QueryParameter()] = None,
    kind: Annotated[str | None, QueryParameter()] = None,
    actor: Annotated[str | None, QueryParameter()] = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> Response[AuditPage]:
    """Events of the accounts you are main contact of, and your own, newest first:
    logins, code redemptions, opt-outs, password and TOTP changes, grants and
    revocations, every opening of a document (`detail.via`: `session` or `token`, with
    the token's id and name), duplicates, exports (`detail.filters` and
    `detail.count`), hand-overs of the main contact role. Filters: `client_code`,
    `kind`, `actor` (an e-mail address). 403 for anyone who is main contact of no
    account; 404 for a client code that is not in one of your accounts."""
    events = await services.audit_events(
        user.user_id,
        client_code=client_code,
        kind=kind,
        actor=actor,
        cursor=cursor,
        limit=limit,
    )
    return Response(events, headers={"Cache-Control": "no-store"})


@get("/me/activity", name="accounts.activity_page", include_in_schema=False)
async def activity_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    client_code: Annotated[str | None, QueryParameter()] = None,
    kind: Annotated[str | None, QueryParameter()] = None,
    actor: Annotated[str | None, QueryParameter()] = None,
    cursor: Cursor = None,
) -> Template:
    try:
        events = await services.audit_events(
            user.user_id,
            client_code=client_code or None,
            kind=kind or None,
            actor=actor or None,
            cursor=cursor,
        )
    except Forbidden as refused:
        # Everyone has the page in their settings; a shared user is told whose it is.
        events, note = AuditPage([], None), refused.translated()
    except (NotFound, InvalidInput) as refused:
        # A client number not theirs, an unknown kind: the filters stay as typed.
        return page(
            request,
            "accounts/activity.html",
            status_code=refused.status_code,
            events=AuditPage([], None),
            labels=KIND_LABELS,
            client_code=client_code or "",
            kind=kind or "",
            actor=actor or "",
            note="",
            error=refused.translated(),
            error_field=(
                "client_code"
                if isinstance(refused, NotFound)
                else "kind"
                if kind and kind not in KIND_LABELS
                else None
            ),
        )
    else:
        note = ""
    return page(
        request,
        "accounts/activity.html",
        error=None,
        error_field=None,
        events=events,
        labels=KIND_LABELS,
        client_code=client_code or "",
        kind=kind or "",
        actor=actor or "",
        note=note,
    )
