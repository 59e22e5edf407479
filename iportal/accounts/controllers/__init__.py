"""Accounts over HTTP: login and logout for people, the issuer API for billing systems."""

from litestar import Router

from iportal.accounts.controllers._issuer_api import issue_activation_code, put_client_number
from iportal.accounts.controllers._login import (
    api_login,
    api_logout,
    login_form,
    login_page,
    logout_form,
    me,
)

router = Router(
    path="/",
    route_handlers=[
        login_page,
        login_form,
        logout_form,
        api_login,
        api_logout,
        me,
        put_client_number,
        issue_activation_code,
    ],
)

__all__ = ["router"]
