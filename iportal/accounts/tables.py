"""Issuers, client numbers, activation codes, accounts, users, sessions, audit.

Secrets are never stored in the clear: activation codes, API keys and session
ids are kept as keyed hashes, passwords as argon2id hashes, the TOTP secret
encrypted with a key derived from the secret key.
"""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from iportal.columns import LANGUAGES, language_column, one_of, optional_timestamp, timestamp_now

ACCOUNT_KINDS = ("b2b", "b2c")
DELIVERY_CHANNELS = ("paper", "electronic")
NOTIFICATION_FREQUENCIES = ("immediate", "daily", "weekly")
MEMBERSHIP_ROLES = ("main_contact",)
AUDIT_KINDS = (
    "login_succeeded",
    "login_failed",
    "logout",
    "code_redeemed",
    "opted_out",
    "password_changed",
    "password_reset",
    "totp_enabled",
    "totp_disabled",
    "token_created",
    "token_revoked",
    "shared_user_created",
    "shared_user_updated",
    "shared_user_deleted",
    "grant_added",
    "grant_revoked",
    "document_opened",
    "duplicate_requested",
    "registration_started",
    "opted_in",
    "account_locked",
    "recovery_code_used",
    "password_reset_requested",
    "forwarding_address_added",
    "forwarding_address_confirmed",
    "forwarding_address_removed",
    "document_forwarded",
    "document_exported",
    "main_contact_handover_requested",
    "main_contact_handover_confirmed",
    "main_contact_handed_over",
)
SHA256_HEX = "~ '^[0-9a-f]{64}$'"
# Why a reset link is to be sent: asked for, or the owner told that someone is guessing.
RESET_REASONS = ("asked", "throttled", "locked")


class Issuer(Table, tablename="issuer"):
    """An issuer entity, known by the prefix of its client codes (`DL2`, `DL5`)."""

    id = Serial(primary_key=True)
    prefix = Varchar(length=8, unique=True, default=None, null=False)
    name = Varchar(length=200, default=None, null=False)
    language = language_column()
    created_at = timestamp_now()

    prefix_format = Check("prefix ~ '^[A-Z][A-Z0-9]{1,7}$'")
    language_known = Check(one_of("language", LANGUAGES))


class IssuerApiKey(Table, tablename="issuer_api_key"):
    """A key the issuer's billing system sends as a bearer token; only its hash is kept."""

    id = Serial(primary_key=True)
    issuer = ForeignKey(
        null=False, references=Issuer, on_delete=OnDelete.cascade, db_column_name="issuer_id"
    )
    key_id = Varchar(length=24, unique=True, default=None, null=False)
    key_hash = Varchar(length=64, default=None, null=False)
    name = Varchar(length=100, default="")
    created_at = timestamp_now()
    last_used_at = optional_timestamp()
    revoked_at = optional_timestamp()

    key_hash_format = Check(f"key_hash {SHA256_HEX}")


class Account(Table, tablename="account"):
    """What a client opts in with: holds client numbers; its login is shown at registration."""

    id = Serial(primary_key=True)
    kind = Varchar(length=3, default=None, null=False)
    login = Varchar(length=254, unique=True, default=None, null=False)
    created_at = timestamp_now()

    kind_known = Check(one_of("kind", ACCOUNT_KINDS))


class PortalUser(Table, tablename="portal_user"):
    """A person with an e-mail address: main contact of some accounts, shared user of others."""

    id = Serial(primary_key=True)
    email = Varchar(length=254, unique=True, default=None, null=False)
    first_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    language = language_column()
    password_hash = Varchar(length=255, null=True, default=None)
    totp_secret_encrypted = Text(null=True, default=None)
    # The last TOTP time step accepted: a code is consumed by raising it atomically.
    totp_last_step = BigInt(null=True, default=None)
    totp_enabled_at = optional_timestamp()
    notification_frequency = Varchar(length=9, default="immediate")
    failed_login_count = Integer(default=0)
    locked_at = optional_timestamp()
    # When the owner was last told that someone is guessing their password: one such
    # e-mail a day at most, however long the guessing goes on.
    guessing_noticed_at = optional_timestamp()
    email_confirmed_at = optional_timestamp()
    created_at = timestamp_now()

    email_lowercase = Check("email = lower(email) AND position('@' in email) > 1")
    language_known = Check(one_of("language", LANGUAGES))
    frequency_known = Check(one_of("notification_frequency", NOTIFICATION_FREQUENCIES))
    failed_logins_not_negative = Check("failed_login_count >= 0")


class AccountMembership(Table, tablename="account_membership"):
    """The main contact of an account (one per account)."""

    id = Serial(primary_key=True)
    account = ForeignKey(
        null=False, references=Account, on_delete=OnDelete.cascade, db_column_name="account_id"
    )
    user = ForeignKey(
        null=False, references=PortalUser, on_delete=OnDelete.cascade, db_column_name="user_id"
    )
    role = Varchar(length=12, default="main_contact")
    created_at = timestamp_now()

    role_known = Check(one_of("role", MEMBERSHIP_ROLES))
    one_main_contact = Unique([account, role])
    membership_once_per_user = Unique([account, user])


class ClientNumber(Table, tablename="client_number"):
    """A client of one issuer, as printed on its invoices: prefix + number (`DL20012345`)."""

    id = Serial(primary_key=True)
    issuer = ForeignKey(
        null=False, references=Issuer, on_delete=OnDelete.restrict, db_column_name="issuer_id"
    )
    client_code = Varchar(length=32, unique=True, default=None, null=False)
    company_name = Varchar(length=200, default=None, null=False)
    enterprise_number = Varchar(length=12, null=True, default=None)
    email = Varchar(length=254, default=None, null=False)
    first_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    language = language_column()
    contract_start = Date(default=None, null=False)
    delivery_channel = Varchar(length=10, default="paper")
    # Set while the number is opted in: one account at most, paper otherwise.
    account = ForeignKey(
        references=Account,
        on_delete=OnDelete.restrict,
        null=True,
        default=None,
        db_column_name="account_id",
    )
    activated_at = optional_timestamp()
    notifications_enabled = Boolean(default=True)
    created_at = timestamp_now()
    updated_at = timestamp_now()

    client_code_format = Check("client_code ~ '^[A-Z][A-Z0-9]{3,31}$'")
    enterprise_number_format = Check(
        "enterprise_number IS NULL OR enterprise_number ~ '^BE[01][0-9]{9}$'"
    )
    language_known = Check(one_of("language", LANGUAGES))
    delivery_channel_known = Check(one_of("delivery_channel", DELIVERY_CHANNELS))
    electronic_when_in_account = Check("(account_id IS NULL) = (delivery_channel = 'paper')")


class ClientNumberAlias(Table, tablename="client_number_alias"):
    """A buyer reference the issuer's e-invoices use for this number (Peppol id, VAT number…)."""

    id = Serial(primary_key=True)
    issuer = ForeignKey(
        null=False, references=Issuer, on_delete=OnDelete.cascade, db_column_name="issuer_id"
    )
    client_number = ForeignKey(
        null=False,
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        db_column_name="client_number_id",
    )
    reference = Varchar(length=200, default=None, null=False)
    created_at = timestamp_now()

    alias_unique_per_issuer = Unique([issuer, reference])
    reference_not_blank = Check("length(btrim(reference)) > 0")


class ActivationCode(Table, tablename="activation_code"):
    """A single-use code that opts one client number in; valid 15 weeks after it was sent."""

    id = Serial(primary_key=True)
    client_number = ForeignKey(
        null=False,
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        db_column_name="client_number_id",
    )
    code_hash = Varchar(length=64, unique=True, default=None, null=False)
    communicated_at = timestamp_now()
    expires_at = Timestamptz(default=None, null=False)
    redeemed_at = optional_timestamp()
    redeemed_by = ForeignKey(
        references=PortalUser,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="redeemed_by_id",
    )
    created_at = timestamp_now()

    code_hash_format = Check(f"code_hash {SHA256_HEX}")
    expires_after_communicated = Check("expires_at > communicated_at")


class UserSession(Table, tablename="user_session"):
    """A browser session; the cookie carries the id, the table only its hash."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True, default=None, null=False)
    user = ForeignKey(
        null=False, references=PortalUser, on_delete=OnDelete.cascade, db_column_name="user_id"
    )
    csrf_token = Varchar(length=64, default=None, null=False)
    created_at = timestamp_now()
    last_seen_at = timestamp_now()
    expires_at = Timestamptz(default=None, null=False)
    revoked_at = optional_timestamp()
    ip = Varchar(length=45, default="")
    user_agent = Varchar(length=300, default="")

    token_hash_format = Check(f"token_hash {SHA256_HEX}")


class AuditEvent(Table, tablename="audit_event"):
    """Something a main contact may later want to know happened to their account."""

    id = Serial(primary_key=True)
    at = timestamp_now()
    kind = Varchar(length=32, default=None, null=False)
    actor = ForeignKey(
        references=PortalUser,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="actor_id",
    )
    account = ForeignKey(
        references=Account,
        on_delete=OnDelete.cascade,
        null=True,
        default=None,
        db_column_name="account_id",
    )
    client_number = ForeignKey(
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        null=True,
        default=None,
        db_column_name="client_number_id",
    )
    # No foreign key: documents live in the `documents` app, which depends on this
    # one; documents are never deleted, so the id stays meaningful.
    document_id = BigInt(null=True, default=None)
    ip = Varchar(length=45, default="")
    detail = JSONB(default={})

    kind_known = Check(one_of("kind", AUDIT_KINDS))


class Registration(Table, tablename="registration"):
    """Opting in, step by step: (1) the code entered and the e-mail confirmed on the
    page, (2) the link in the confirmation e-mail (valid 5 days), (3) the password."""

    id = Serial(primary_key=True)
    activation_code = ForeignKey(
        references=ActivationCode,
        on_delete=OnDelete.cascade,
        null=False,
        db_column_name="activation_code_id",
    )
    email = Varchar(length=254, default=None, null=False)
    language = language_column()
    token_hash = Varchar(length=64, unique=True, default=None, null=False)
    created_at = timestamp_now()
    expires_at = Timestamptz(default=None, null=False)
    confirmed_at = optional_timestamp()
    completed_at = optional_timestamp()

    token_hash_format = Check(f"token_hash {SHA256_HEX}")
    language_known = Check(one_of("language", LANGUAGES))


class PasswordReset(Table, tablename="password_reset"):
    """A single-use link to choose a new password, valid one hour."""

    id = Serial(primary_key=True)
    user = ForeignKey(
        references=PortalUser, on_delete=OnDelete.cascade, null=False, db_column_name="user_id"
    )
    token_hash = Varchar(length=64, unique=True, default=None, null=False)
    created_at = timestamp_now()
    expires_at = Timestamptz(default=None, null=False)
    used_at = optional_timestamp()

    token_hash_format = Check(f"token_hash {SHA256_HEX}")


class PasswordResetRequest(Table, tablename="password_reset_request"):
    """A reset link asked for (or a notice that someone is guessing), waiting for the
    worker: the request that wrote it did the same for every address, so neither its
    answer nor its time tells whether the address has an account."""

    id = BigSerial(primary_key=True)
    email = Varchar(length=254, default=None, null=False)
    reason = Varchar(length=9, default="asked")
    ip = Varchar(length=45, default="")
    requested_at = timestamp_now()

    reason_known = Check(one_of("reason", RESET_REASONS))


class RecoveryCode(Table, tablename="recovery_code"):
    """One of ten single-use codes that stand in for the TOTP app; hash only."""

    id = Serial(primary_key=True)
    user = ForeignKey(
        references=PortalUser, on_delete=OnDelete.cascade, null=False, db_column_name="user_id"
    )
    code_hash = Varchar(length=64, default=None, null=False)
    created_at = timestamp_now()
    used_at = optional_timestamp()

    recovery_code_once = Unique([user, code_hash])
    code_hash_format = Check(f"code_hash {SHA256_HEX}")


class PersonalToken(Table, tablename="personal_token"):
    """A named, read-only API token of a user, for accounting software; hash only."""

    id = Serial(primary_key=True)
    user = ForeignKey(
        references=PortalUser, on_delete=OnDelete.cascade, null=False, db_column_name="user_id"
    )
    name = Varchar(length=100, default=None, null=False)
    token_id = Varchar(length=24, unique=True, default=None, null=False)
    token_hash = Varchar(length=64, default=None, null=False)
    created_at = timestamp_now()
    last_used_at = optional_timestamp()
    revoked_at = optional_timestamp()

    token_hash_format = Check(f"token_hash {SHA256_HEX}")


class ThrottleAttempt(Table, tablename="throttle_attempt"):
    """One attempt (login, TOTP, activation code, reset) counted against a bucket such
    as `login:account:42` or `login:ip:192.0.2.1`; in PostgreSQL, so that every web
    process sees the same count."""

    id = BigSerial(primary_key=True)
    bucket = Varchar(length=200, default=None, null=False)
    at = timestamp_now()
