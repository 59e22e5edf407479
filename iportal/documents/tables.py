"""Documents (invoices and credit notes), per-user read marks and duplicate requests.

The database refuses what must never be stored: a second document under the same
(client number, type, number), amounts that don't add up, an unknown currency.
The list's covering indexes are created by a hand-written migration because
piccolo columns cannot express `DESC … INCLUDE (…)`.
"""

from __future__ import annotations

from decimal import Decimal

from piccolo.columns import (
    BigSerial,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Varchar,
)
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from iportal.accounts.tables import ClientNumber, PortalUser
from iportal.columns import one_of, optional_timestamp, timestamp_now
from iportal.documents.currencies import ISO_4217

DOCUMENT_TYPES = ("invoice", "credit_note")
STRUCTURED_KINDS = ("none", "factur_x", "ubl")
AMOUNT_DIGITS = (14, 2)


def amount(null: bool = False) -> Numeric:
    return Numeric(digits=AMOUNT_DIGITS, null=null, default=None if null else Decimal("0.00"))


class Document(Table, tablename="document"):
    """An invoice or credit note of one client number, with its PDF and structured data."""

    id = BigSerial(primary_key=True)
    client_number = ForeignKey(
        null=False,
        references=ClientNumber,
        on_delete=OnDelete.restrict,
        db_column_name="client_number_id",
    )
    type = Varchar(length=11, default=None, null=False)
    # UNTDID 1001 code as published (380, 381, 384, 389…), when known.
    type_code = Varchar(length=3, null=True, default=None)
    number = Varchar(length=64, default=None, null=False)
    issue_date = Date(default=None, null=False)
    due_date = Date(null=True, default=None)
    currency = Varchar(length=3, default="EUR")
    # As the document states them: credit notes positive, corrective invoices may be negative.
    amount_excl_vat = amount()
    vat_amount = amount()
    amount_incl_vat = amount()
    amount_due = amount(null=True)
    pdf_blob_hash = Varchar(length=64, null=True, default=None)
    pdf_size = Integer(null=True, default=None)
    page_count = Integer(null=True, default=None)
    structured_kind = Varchar(length=8, default="none")
    xml_blob_hash = Varchar(length=64, null=True, default=None)
    published_at = timestamp_now()

    document_unique_key = Unique([client_number, type, number])
    type_known = Check(one_of("type", DOCUMENT_TYPES))
    type_code_format = Check("type_code IS NULL OR type_code ~ '^[0-9]{3}$'")
    number_not_blank = Check("length(btrim(number)) > 0")
    currency_known = Check(one_of("currency", ISO_4217))
    amounts_add_up = Check("amount_incl_vat = amount_excl_vat + vat_amount")
    due_not_before_issue = Check("due_date IS NULL OR due_date >= issue_date")
    structured_kind_known = Check(one_of("structured_kind", STRUCTURED_KINDS))
    xml_when_structured = Check("(structured_kind = 'none') = (xml_blob_hash IS NULL)")
    has_content = Check("pdf_blob_hash IS NOT NULL OR xml_blob_hash IS NOT NULL")
    pdf_blob_hash_format = Check("pdf_blob_hash IS NULL OR pdf_blob_hash ~ '^[0-9a-f]{64}$'")
    xml_blob_hash_format = Check("xml_blob_hash IS NULL OR xml_blob_hash ~ '^[0-9a-f]{64}$'")


class ReadMark(Table, tablename="document_read_mark"):
    """A user opened this document's PDF: it is no longer shown in bold for them."""

    id = BigSerial(primary_key=True)
    user = ForeignKey(
        null=False, references=PortalUser, on_delete=OnDelete.cascade, db_column_name="user_id"
    )
    document = ForeignKey(
        null=False, references=Document, on_delete=OnDelete.cascade, db_column_name="document_id"
    )
    read_at = timestamp_now()

    read_mark_once_per_user = Unique([user, document])


class DuplicateRequest(Table, tablename="duplicate_request"):
    """A copy stamped DUPLICATE that a user asked for."""

    id = Serial(primary_key=True)
    document = ForeignKey(
        null=False, references=Document, on_delete=OnDelete.cascade, db_column_name="document_id"
    )
    user = ForeignKey(
        references=PortalUser,
        on_delete=OnDelete.set_null,
        null=True,
        default=None,
        db_column_name="user_id",
    )
    requested_at = timestamp_now()
    delivered_at = optional_timestamp()
