"""The database itself refuses what must never be stored, and the tables and the
migrations agree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

from tests import factories


async def refused(transaction: Any, write: Callable[[], Awaitable[Any]]) -> asyncpg.PostgresError:
    savepoint = await transaction.savepoint()
    with pytest.raises(asyncpg.PostgresError) as raised:
        await write()
    await savepoint.rollback_to()
    return raised.value


async def test_a_client_code_exists_once(transaction: Any) -> None:
    issuer_id = await factories.issuer("DL2")
    await factories.client_number(issuer_id, "DL20012345")
    error = await refused(transaction, lambda: factories.client_number(issuer_id, "DL20012345"))
    assert isinstance(error, asyncpg.UniqueViolationError)
    assert error.constraint_name == "client_number_client_code_key"


async def test_a_document_number_exists_once_per_client_number_and_type(transaction: Any) -> None:
    number = await factories.client_number()
    other = await factories.client_number()
    await factories.document(number, number="F2024-001")
    error = await refused(transaction, lambda: factories.document(number, number="F2024-001"))
    assert isinstance(error, asyncpg.UniqueViolationError)
    assert error.constraint_name == "document_unique_key"
    # The same number is fine for a credit note, or for another client number.
    await factories.document(number, number="F2024-001", type="credit_note")
    await factories.document(other, number="F2024-001")


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        (
            {
                "amount_excl_vat": Decimal("100.00"),
                "vat_amount": Decimal("21.00"),
                "amount_incl_vat": Decimal("121.01"),
            },
            "amounts_add_up",
        ),
        ({"currency": "XXY"}, "currency_known"),
        ({"currency": "eur"}, "currency_known"),
        ({"type": "receipt"}, "type_known"),
        ({"type_code": "38"}, "type_code_format"),
        ({"number": "   "}, "number_not_blank"),
        ({"pdf_blob_hash": None}, "has_content"),
        ({"structured_kind": "ubl"}, "xml_when_structured"),
    ],
)
async def test_a_document_that_does_not_add_up_is_refused(
    transaction: Any, values: dict[str, Any], constraint: str
) -> None:
    number = await factories.client_number()
    error = await refused(transaction, lambda: factories.document(number, **values))
    assert isinstance(error, asyncpg.CheckViolationError)
    assert error.constraint_name == constraint


async def test_negative_amounts_are_stored_as_stated(transaction: Any) -> None:
    number = await factories.client_number()
    document_id = await factories.document(
        number,
        amount_excl_vat=Decimal("-7.67"),
        vat_amount=Decimal("-1.12"),
        type_code="384",
    )
    assert document_id > 0


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"client_code": "dl2 001"}, "client_code_format"),
        ({"enterprise_number": "0123456749"}, "enterprise_number_format"),
        ({"language": "es"}, "language_known"),
        ({"delivery_channel": "fax"}, "delivery_channel_known"),
        ({"delivery_channel": "electronic"}, "electronic_when_in_account"),
    ],
)
async def test_a_client_number_outside_the_rules_is_refused(
    transaction: Any, values: dict[str, Any], constraint: str
) -> None:
    issuer_id = await factories.issuer()
    error = await refused(transaction, lambda: factories.client_number(issuer_id, **values))
    assert isinstance(error, asyncpg.CheckViolationError)
    assert error.constraint_name == constraint


async def test_a_document_needs_an_existing_client_number(transaction: Any) -> None:
    error = await refused(transaction, lambda: factories.document(987654321))
    assert isinstance(error, asyncpg.ForeignKeyViolationError)


async def test_required_values_have_no_silent_default(transaction: Any) -> None:
    from iportal.documents.tables import Document

    number = await factories.client_number()
    error = await refused(
        transaction,
        lambda: Document.raw(
            "INSERT INTO document (client_number_id, type, number, pdf_blob_hash) "
            "VALUES ({}, 'invoice', 'X1', {})",
            number,
            "0" * 64,
        ),
    )
    assert isinstance(error, asyncpg.NotNullViolationError)
    assert error.column_name == "issue_date"


async def test_an_account_has_one_main_contact(transaction: Any) -> None:
    first, second = await factories.user(), await factories.user()
    account_id = await factories.account(first)
    from iportal.accounts.tables import AccountMembership

    error = await refused(
        transaction,
        lambda: AccountMembership.insert(AccountMembership(account=account_id, user=second)),
    )
    assert isinstance(error, asyncpg.UniqueViolationError)
    assert error.constraint_name == "one_main_contact"


async def test_tables_and_migrations_agree(database: str) -> None:
    """What `piccolo migrations new --auto` would write: nothing, for every app."""
    pending = {}
    for app_config in Finder().get_app_configs():
        if not app_config.app_name.startswith(
            ("accounts", "documents", "sharing", "notifications")
        ):
            continue
        statements = await AutoMigrationManager().get_alter_statements(app_config=app_config)
        pending[app_config.app_name] = sum(len(s.statements) for s in statements)
    assert pending == {"accounts": 0, "documents": 0, "sharing": 0, "notifications": 0}


async def test_the_document_list_has_its_covering_indexes(transaction: Any) -> None:
    from iportal.documents.tables import Document

    rows = await Document.raw(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'visible_document'"
    )
    definitions = {row["indexname"]: row["indexdef"] for row in rows}
    assert (
        "(user_id, issue_date, document_id) INCLUDE (type, amount_incl_vat, number, "
        "client_number_id, due_date, currency, access_ends_at)"
        in definitions["visible_document_by_issue_date"]
    )
    assert (
        "(user_id, amount_incl_vat, document_id) INCLUDE (type, issue_date, number, "
        "client_number_id, due_date, currency, access_ends_at)"
        in definitions["visible_document_by_amount"]
    )


async def test_every_audit_kind_the_code_knows_is_accepted(transaction: Any) -> None:
    """piccolo does not see a changed check condition; this does."""
    from iportal.accounts.services import record_audit_event
    from iportal.accounts.tables import AUDIT_KINDS, AuditEvent

    for kind in AUDIT_KINDS:
        await record_audit_event(kind)
    assert await AuditEvent.count() == len(AUDIT_KINDS)
    error = await refused(transaction, lambda: record_audit_event("made_up_kind"))
    assert isinstance(error, asyncpg.CheckViolationError)
