"""Accounts over HTTP: login and logout for people, the issuer API for billing systems."""

from litestar import Router

from iportal.accounts.controllers._audit import activity_page, api_audit_events
from iportal.accounts.controllers._issuer_api import issue_activation_code, put_client_number
from iportal.accounts.controllers._login import (
    api_login,
    api_logout,
    login_code_form,
    login_code_page,
    login_form,
    login_page,
    logout_form,
)
from iportal.accounts.controllers._password_reset import (
    api_password_reset,
    api_password_reset_confirm,
    password_reset_confirm_form,
    password_reset_confirm_page,
    password_reset_form,
    password_reset_page,
)
from iportal.accounts.controllers._profile import (
    api_token_create,
    api_token_revoke,
    api_tokens,
    email_confirm,
    me,
    me_update,
    notices_form,
    notices_page,
    profile_form,
    profile_page,
    token_create_form,
    token_revoke_form,
    tokens_page,
)
from iportal.accounts.controllers._registration import (
    activate_check,
    activate_complete,
    activate_confirm_page,
    activate_page,
    activate_start,
    api_check,
    api_complete,
    api_start,
)
from iportal.accounts.controllers._security import (
    api_password_change,
    api_totp_confirm,
    api_totp_remove,
    api_totp_start,
    password_change_form,
    password_page,
    security_page,
    totp_confirm_form,
    totp_remove_form,
    totp_start_form,
)
from iportal.web.auth import LOGIN_GATE, PERSON

# A person's own pages: behind the login gate, each handler is given the `user`.
people_pages = Router(
    path="/",
    guards=LOGIN_GATE,
    dependencies=PERSON,
    route_handlers=[
        profile_page,
        profile_form,
        notices_page,
        notices_form,
        email_confirm,
        tokens_page,
        token_create_form,
        token_revoke_form,
        security_page,
        totp_start_form,
        totp_confirm_form,
        totp_remove_form,
        password_page,
        password_change_form,
        activity_page,
    ],
)

router = Router(
    path="/",
    route_handlers=[
        people_pages,
        login_page,
        login_form,
        logout_form,
        api_login,
        api_logout,
        me,
        login_code_page,
        login_code_form,
        me_update,
        api_token_create,
        api_tokens,
        api_token_revoke,
        api_totp_start,
        api_totp_confirm,
        api_totp_remove,
        api_password_change,
        password_reset_page,
        password_reset_form,
        password_reset_confirm_page,
        password_reset_confirm_form,
        api_password_reset,
        api_password_reset_confirm,
        api_audit_events,
        put_client_number,
        issue_activation_code,
        api_check,
        api_start,
        api_complete,
        activate_page,
        activate_check,
        activate_start,
        activate_confirm_page,
        activate_complete,
    ],
)

__all__ = ["router"]
