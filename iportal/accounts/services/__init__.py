"""Accounts: issuers and their keys, client numbers, activation codes, login and sessions.

The rules live in the `_part` modules; this package re-exports what other layers use.
"""

from iportal.accounts.services._activation_codes import (
    IssuedCode,
    client_number_by_code,
    find_activation_code,
    issue_activation_code,
    issue_activation_code_for,
    normalise_activation_code,
)
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._client_numbers import (
    CREATED,
    UPDATED,
    ClientNumberInput,
    InvalidFields,
    issuer_for_client_code,
    resolve_client_number,
    upsert_client_number,
)
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
from iportal.accounts.services._throttle import Attempt, attempt, bucket, succeeded

__all__ = [
    "CREATED",
    "KEY_REQUIRED",
    "LOGIN_FAILED",
    "UPDATED",
    "ApiKeyInfo",
    "Attempt",
    "ClientNumberInput",
    "InvalidFields",
    "IssuedCode",
    "IssuerPrincipal",
    "NewSession",
    "SessionUser",
    "attempt",
    "authenticate",
    "authenticate_issuer",
    "bucket",
    "client_number_by_code",
    "create_api_key",
    "create_issuer",
    "end_all_sessions",
    "end_session",
    "find_activation_code",
    "find_user_for_login",
    "issue_activation_code",
    "issue_activation_code_for",
    "issuer_by_prefix",
    "issuer_for_client_code",
    "list_api_keys",
    "normalise_activation_code",
    "normalise_prefix",
    "record_audit_event",
    "resolve_client_number",
    "revoke_api_key",
    "session_user",
    "start_session",
    "succeeded",
    "upsert_client_number",
]
