"""The e-mail outbox: written in the same transaction as what causes a message.

`iportal worker` claims due rows with `FOR UPDATE SKIP LOCKED`, so any number of
workers can run, and retries transient failures with a growing delay.
"""

from __future__ import annotations

from piccolo.columns import BigSerial, Boolean, ForeignKey, Integer, OnDelete, Text, Varchar
from piccolo.constraints import Check
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
    state = Varchar(length=7, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = timestamp_now()
    last_error = Text(default="")
    created_at = timestamp_now()
    sent_at = optional_timestamp()

    state_known = Check(one_of("state", OUTBOX_STATES))
    language_known = Check(one_of("language", LANGUAGES))
    attempts_not_negative = Check("attempts >= 0")


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
