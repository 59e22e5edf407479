"""The e-mail outbox: written in the same transaction as what causes a message.

`iportal worker` claims due rows with `FOR UPDATE SKIP LOCKED`, so any number of
workers can run, and retries transient failures with a growing delay.
"""

from __future__ import annotations

from piccolo.columns import (
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from iportal.accounts.tables import ClientNumber, PortalUser
from iportal.columns import LANGUAGES, language_column, one_of, optional_timestamp, timestamp_now
from iportal.documents.tables import Document

# `held`: not attempted, because its address has a permanent delivery problem; sent
# when the person confirms the address (see `problems.py`).
OUTBOX_STATES = ("pending", "sent", "failed", "held")
# What went wrong with an address: refused by the server (5xx), bounced afterwards (a
# 5.x.x delivery status notification), or still not delivered after five days of tries.
PROBLEM_KINDS = ("refused", "bounced", "expired")
SHA256_HEX = "~ '^[0-9a-f]{64}$'"


class ForwardingAddress(Table, tablename="forwarding_address"):
    """The purchase-invoice inbox of a client's accounting software: every new document
    of the number goes there once its owner (who added it) has clicked the link sent to
    it, for as long as the person who added it sees the number."""

    id = Serial(primary_key=True)
    client_number = ForeignKey(
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        null=False,
        db_column_name="client_number_id",
    )
    user = ForeignKey(
        references=PortalUser, on_delete=OnDelete.cascade, null=False, db_column_name="user_id"
    )
    email = Varchar(length=254, default=None, null=False)
    # The confirmation link's token, hashed; cleared when it is used.
    token_hash = Varchar(length=64, unique=True, null=True, default=None)
    token_expires_at = optional_timestamp()
    created_at = timestamp_now()
    confirmed_at = optional_timestamp()

    forwarding_address_once_per_number = Unique([client_number, email])
    token_hash_format = Check(f"token_hash IS NULL OR token_hash {SHA256_HEX}")


class OutboxEmail(Table, tablename="outbox_email"):
    """One e-mail to send, rendered in the recipient's language when it was queued."""

    id = BigSerial(primary_key=True)
    recipient = Varchar(length=254, default=None, null=False)
    user = ForeignKey(
        references=PortalUser,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="user_id",
    )
    # Set for messages about one client number (invitations), to coalesce them.
    client_number = ForeignKey(
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        null=True,
        default=None,
        db_column_name="client_number_id",
    )
    language = language_column()
    template = Varchar(length=64, default=None, null=False)
    subject = Text(default=None, null=False)
    body_text = Text(default=None, null=False)
    body_html = Text(default="")
    # A notice's one-click unsubscribe address (RFC 8058), sent as `List-Unsubscribe`.
    list_unsubscribe = Text(default="")
    state = Varchar(length=7, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = timestamp_now()
    last_error = Text(default="")
    created_at = timestamp_now()
    sent_at = optional_timestamp()

    # A forwarded document: the message carries its PDF and XML, attached when it is
    # sent; one message per (document, address), whichever worker queued it.
    document = ForeignKey(
        references=Document,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="document_id",
    )
    forwarding_address = ForeignKey(
        references=ForwardingAddress,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="forwarding_address_id",
    )

    state_known = Check(one_of("state", OUTBOX_STATES))
    language_known = Check(one_of("language", LANGUAGES))
    attempts_not_negative = Check("attempts >= 0")
    forwarded_once = Unique([document, forwarding_address])


class DocumentEvent(Table, tablename="document_event"):
    """A document was published: whoever may see its client number is to be told,
    now or in a digest. Written in the same transaction as the document."""

    id = BigSerial(primary_key=True)
    document = ForeignKey(
        references=Document, on_delete=OnDelete.cascade, null=False, db_column_name="document_id"
    )
    client_number = ForeignKey(
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        null=False,
        db_column_name="client_number_id",
    )
    created_at = timestamp_now()
    processed_at = optional_timestamp()


class NoticeOptOut(Table, tablename="notice_opt_out"):
    """A person switched off the notices of one client number they see, for themselves
    only; no row means on. Others who see the number keep theirs."""

    id = BigSerial(primary_key=True)
    user = ForeignKey(
        references=PortalUser, on_delete=OnDelete.cascade, null=False, db_column_name="user_id"
    )
    client_number = ForeignKey(
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        null=False,
        db_column_name="client_number_id",
    )
    created_at = timestamp_now()

    opt_out_once_per_number = Unique([user, client_number])


class NoticeDigest(Table, tablename="notice_digest"):
    """Where a person on a daily or weekly digest stands: since when documents wait to
    be told (set when a notice passes them by; none waits when empty), and when the
    last digest went out."""

    id = BigSerial(primary_key=True)
    user = ForeignKey(
        references=PortalUser,
        on_delete=OnDelete.cascade,
        null=False,
        unique=True,
        db_column_name="user_id",
    )
    pending_since = optional_timestamp()
    last_digest_at = optional_timestamp()


class DeliveryProblem(Table, tablename="delivery_problem"):
    """E-mail to this address does not arrive. Kept per address (lower case), so that a
    person who changes their address leaves the problem behind; at most one open
    (not cleared) problem per address."""

    id = BigSerial(primary_key=True)
    email = Varchar(length=254, default=None, null=False)
    kind = Varchar(length=7, default=None, null=False)
    detail = Text(default="")
    # The message whose failure (or bounce) opened or last renewed the problem.
    outbox_email = ForeignKey(
        references=OutboxEmail,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="outbox_email_id",
    )
    first_at = timestamp_now()
    last_at = timestamp_now()
    cleared_at = optional_timestamp()
    # Why it was cleared: `confirmed` by the person, or `delivered` later on.
    cleared_by = Varchar(length=9, default="")

    kind_known = Check(one_of("kind", PROBLEM_KINDS))
    email_lowercase = Check("email = lower(email)")


class DeliveryReport(Table, tablename="delivery_report"):
    """A delivery status notification (RFC 3464) received for one of our messages,
    matched by its signed return path; what `iportal outbox` shows as bounces."""

    id = BigSerial(primary_key=True)
    outbox_email = ForeignKey(
        references=OutboxEmail,
        on_delete=OnDelete.cascade,
        null=False,
        db_column_name="outbox_email_id",
    )
    action = Varchar(length=16, default="")
    status = Varchar(length=16, default="")
    final_recipient = Varchar(length=254, default="")
    diagnostic = Text(default="")
    permanent = Boolean(default=False)
    received_at = timestamp_now()
