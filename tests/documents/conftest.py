"""Fixtures shared by the documents tests (a module may define its own `issuer`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iportal.accounts.services import create_issuer
from tests import factories
from tests.helpers import form_login


@pytest.fixture
async def issuer(client: httpx.AsyncClient, transaction: Any) -> dict[str, Any]:
    """DL2 with client number DL20012345, whose main contact Anna is logged in."""
    issuer_id, key = await create_issuer("DL2", "Demo Lease Services", "en")
    number = await factories.client_number(issuer_id, "DL20012345")
    anna = await factories.user("anna@example.test")
    await factories.account(anna, number)
    assert (await form_login(client, "anna@example.test", factories.PASSWORD)).status_code == 303
    return {"id": issuer_id, "auth": {"Authorization": f"Bearer {key}"}}
