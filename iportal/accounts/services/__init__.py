"""Accounts: issuers and their keys, client numbers, activation codes, login and sessions.

The rules live in the `_part` modules; this package re-exports what other layers use.
"""

from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._issuers import (
    KEY_REQUIRED,
    ApiKeyInfo,
    IssuerPrincipal,
    authenticate_issuer,
    create_api_key,
    create_issuer,
    issuer_by_prefix,
    list_api_keys,
    normalise_prefix,
    revoke_api_key,
)
from iportal.accounts.services._sessions import (
    LOGIN_FAILED,
    NewSession,
    SessionUser,
    authenticate,
    end_all_sessions,
    end_session,
    find_user_for_login,
    session_user,
    start_session,
)

__all__ = [
    "KEY_REQUIRED",
    "LOGIN_FAILED",
    "ApiKeyInfo",
    "IssuerPrincipal",
    "NewSession",
    "SessionUser",
    "authenticate",
    "authenticate_issuer",
    "create_api_key",
    "create_issuer",
    "end_all_sessions",
    "end_session",
    "find_user_for_login",
    "issuer_by_prefix",
    "list_api_keys",
    "normalise_prefix",
    "record_audit_event",
    "revoke_api_key",
    "session_user",
    "start_session",
]
