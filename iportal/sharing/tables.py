"""Shared users of an account and the client numbers each may see.

A shared user sees exactly the numbers ticked for them; a number added to the
account later is shared with nobody until the main contact ticks it.
"""

from __future__ import annotations

from piccolo.columns import Date, ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from iportal.accounts.tables import SHA256_HEX, Account, ClientNumber, PortalUser
from iportal.columns import optional_timestamp, timestamp_now


class SharedUser(Table, tablename="shared_user"):
    """A colleague or accountant the main contact let into their account."""

    id = Serial(primary_key=True)
    account = ForeignKey(
        null=False, references=Account, on_delete=OnDelete.cascade, db_column_name="account_id"
    )
    user = ForeignKey(
        null=False, references=PortalUser, on_delete=OnDelete.cascade, db_column_name="user_id"
    )
    created_by = ForeignKey(
        references=PortalUser,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="created_by_id",
    )
    created_at = timestamp_now()
    # The last day they see the account (Europe/Brussels): access ends at that day's
    # end by itself. The database derives `access_ends_at` (UTC) from it.
    access_until = Date(null=True, default=None)
    # The end date the week-before warning was sent for: a new date re-arms it.
    warned_until = Date(null=True, default=None)

    shared_user_once_per_account = Unique([account, user])


class Grant(Table, tablename="client_number_grant"):
    """One client number a shared user may see."""

    id = Serial(primary_key=True)
    shared_user = ForeignKey(
        null=False,
        references=SharedUser,
        on_delete=OnDelete.cascade,
        db_column_name="shared_user_id",
    )
    client_number = ForeignKey(
        null=False,
        references=ClientNumber,
        on_delete=OnDelete.cascade,
        db_column_name="client_number_id",
    )
    granted_at = timestamp_now()

    grant_once_per_number = Unique([shared_user, client_number])


class MainContactHandover(Table, tablename="main_contact_handover"):
    """The main contact handing the role to a shared user of the account: it moves
    when both have confirmed with the link each was e-mailed (single use, five days)."""

    id = Serial(primary_key=True)
    account = ForeignKey(
        null=False, references=Account, on_delete=OnDelete.cascade, db_column_name="account_id"
    )
    from_user = ForeignKey(
        null=False, references=PortalUser, on_delete=OnDelete.cascade, db_column_name="from_user_id"
    )
    to_user = ForeignKey(
        null=False, references=PortalUser, on_delete=OnDelete.cascade, db_column_name="to_user_id"
    )
    # Keyed hashes of the two links' tokens: the current main contact's, the new one's.
    from_token_hash = Varchar(length=64, unique=True, default=None, null=False)
    to_token_hash = Varchar(length=64, unique=True, default=None, null=False)
    created_at = timestamp_now()
    expires_at = Timestamptz(default=None, null=False)
    from_confirmed_at = optional_timestamp()
    to_confirmed_at = optional_timestamp()
    completed_at = optional_timestamp()
    # Set when a newer request replaced this one, or the role could no longer move.
    cancelled_at = optional_timestamp()

    from_token_hash_format = Check(f"from_token_hash {SHA256_HEX}")
    to_token_hash_format = Check(f"to_token_hash {SHA256_HEX}")
