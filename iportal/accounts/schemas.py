"""Request and response types of the accounts API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from iportal.web.params import NonEmpty


@dataclass
class LoginRequest:
    username: NonEmpty
    password: NonEmpty
    totp: str | None = None


@dataclass
class Profile:
    id: int
    email: str
    first_name: str
    last_name: str
    language: str


@dataclass
class ClientNumberRequest:
    """The issuer's client number, as `PUT /issuer/client-numbers/{client_code}` takes it.

    Values are checked by the service, so that a bad one is a 422 naming its field;
    `contract_start` is an ISO 8601 date. Without `aliases` the stored ones are kept;
    a list, even empty, replaces them.
    """

    company_name: NonEmpty
    email: NonEmpty
    first_name: NonEmpty
    last_name: NonEmpty
    language: NonEmpty
    contract_start: NonEmpty
    enterprise_number: str | None = None
    aliases: list[str] | None = None


@dataclass
class ClientNumberSaved:
    id: int
    client_code: str
    status: str  # created or updated


@dataclass
class IssuedActivationCode:
    """A new activation code: shown this once, only its hash is kept."""

    client_code: str
    code: str
    expires_at: datetime


@dataclass
class ActivationCheckRequest:
    """An activation code as typed: any case, spaces and dashes are fine."""

    code: NonEmpty


@dataclass
class ActivationCheck:
    """Step 1 of registration: the number the code opts in and the login it will have
    (`login_kind` `b2b`: the enterprise number; `b2c`: the e-mail address, or the VAT
    number of a client outside Belgium)."""

    client_code: str
    company_name: str
    email: str
    login_kind: str
    login: str


@dataclass
class ActivationStartRequest:
    """Step 2: the code again and the e-mail address, as confirmed or corrected."""

    code: str
    email: NonEmpty


@dataclass
class ActivationStarted:
    detail: str


@dataclass
class ActivationCompleteRequest:
    """Step 3: the token from the e-mail's link, and the new password (or, when the
    address already has a login, that login's password)."""

    token: NonEmpty
    password: NonEmpty


@dataclass
class ActivationCompleted:
    login: str


@dataclass
class ClientNumberActivateRequest:
    code: NonEmpty


@dataclass
class ClientNumberPatch:
    notifications_enabled: bool


@dataclass
class SharedUserSummary:
    id: int
    email: str
    first_name: str
    last_name: str
    until: date | None = None  # the last day they see the number; null: no end


@dataclass
class MyClientNumberItem:
    """One of the user's client numbers. `role` is `main_contact` or `shared_user`;
    `shared_users` (who else sees it) is listed for the main contact only;
    `access_until` is the last day a shared user sees it (null: no end)."""

    client_code: str
    company_name: str
    issuer_name: str
    role: str
    notifications_enabled: bool
    delivery_channel: str
    activated_at: datetime | None
    account_login: str
    shared_users: list[SharedUserSummary]
    access_until: date | None = None


@dataclass
class MyClientNumberPage:
    items: list[MyClientNumberItem]
    next_cursor: str | None


@dataclass
class OptedOut:
    client_code: str
    delivery_channel: str


# Login security, profile and personal tokens.


@dataclass
class Accepted:
    """A request taken in; `detail` says what happens next."""

    detail: str


@dataclass
class PasswordResetRequest:
    email: str


@dataclass
class PasswordResetConfirm:
    token: NonEmpty
    password: NonEmpty


@dataclass
class PasswordChange:
    current_password: NonEmpty
    new_password: NonEmpty


@dataclass
class PasswordConfirmation:
    password: str


@dataclass
class TotpEnrolment:
    """Add the account to an authenticator app: scan `qr_svg` (the `otpauth_uri` as a
    QR code) or type `secret`. Shown at enrolment only."""

    otpauth_uri: str
    secret: str
    qr_svg: str


@dataclass
class TotpCode:
    code: NonEmpty


@dataclass
class RecoveryCodes:
    """Ten single-use codes that stand in for the app; shown this once."""

    recovery_codes: list[str]


@dataclass
class ProfileUpdate:
    """Only the fields given change."""

    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    notification_frequency: str | None = None


@dataclass
class TokenRequest:
    name: NonEmpty
