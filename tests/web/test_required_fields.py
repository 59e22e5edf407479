"""A field the OpenAPI document marks as non-empty (`minLength: 1`) is refused empty:
the document says what the services enforce, no more and no less."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import factories
from tests.accounts.security_support import logged_in, person

PASSWORD = "a long enough password 2026"
# (caller, method, path, a body whose other fields are plausible); each field of the
# body is sent empty in turn. "anonymous", "person" (a session) or "issuer" (its key).
OPERATIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("anonymous", "POST", "/api/v1/auth/login", {"username": "someone", "password": PASSWORD}),
    ("anonymous", "POST", "/api/v1/activation/check", {"code": "ABCD-EFGH-JKMN-PQRS"}),
    # Its code may be empty: step 2 answers 202 whatever the code, telling nothing.
    ("anonymous", "POST", "/api/v1/activation/start", {"email": "a@example.be"}),
    ("anonymous", "POST", "/api/v1/activation/complete", {"token": "t" * 40, "password": PASSWORD}),
    (
        "anonymous",
        "POST",
        "/api/v1/auth/password-reset/confirm",
        {"token": "t" * 40, "password": PASSWORD},
    ),
    ("person", "POST", "/api/v1/me/tokens", {"name": "Accounting"}),
    (
        "person",
        "POST",
        "/api/v1/me/password",
        {"current_password": factories.PASSWORD, "new_password": PASSWORD},
    ),
    ("person", "POST", "/api/v1/me/totp/confirm", {"code": "123456"}),
    ("person", "POST", "/api/v1/client-numbers/activate", {"code": "ABCD-EFGH-JKMN-PQRS"}),
    ("person", "POST", "/api/v1/shared-users", {"email": "luc@example.be", "language": "nl"}),
    (
        "person",
        "POST",
        "/api/v1/client-numbers/{prefix}0000042/forwarding-addresses",
        {"email": "purchase@peeters.yuki.example"},
    ),
    (
        "issuer",
        "PUT",
        "/api/v1/issuer/client-numbers/{prefix}0000042",
        {
            "company_name": "Bakkerij Peeters BV",
            "email": "anna@peeters.example",
            "first_name": "Anna",
            "last_name": "Peeters",
            "language": "nl",
            "contract_start": "2020-01-01",
        },
    ),
]


async def _headers(client: httpx.AsyncClient, caller: str) -> tuple[dict[str, str], str]:
    if caller == "person":
        return await logged_in(client, (await person())["email"]), ""
    if caller == "issuer":
        issuer_id, key = await factories.issuer_with_key()
        from iportal.accounts.tables import Issuer

        row = await Issuer.select(Issuer.prefix).where(Issuer.id == issuer_id).first()
        return {"Authorization": f"Bearer {key}"}, str(row["prefix"])
    return {}, ""


@pytest.mark.parametrize(("caller", "method", "path", "body"), OPERATIONS)
async def test_each_field_sent_empty_is_refused(
    client: httpx.AsyncClient, caller: str, method: str, path: str, body: dict[str, Any]
) -> None:
    headers, prefix = await _headers(client, caller)
    answers = {}
    for field in body:
        sent = {**body, field: ""}
        response = await client.request(
            method, path.format(prefix=prefix), json=sent, headers=headers
        )
        answers[field] = response.status_code
    assert all(400 <= status < 500 for status in answers.values()), answers


async def test_the_document_marks_exactly_the_fields_tested_here(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    marked = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            schema = schemas[body["schema"]["$ref"].rsplit("/", 1)[-1]]
            for field, spec in schema.get("properties", {}).items():
                if spec.get("minLength") == 1:
                    marked.add((method.upper(), path, field))
    tested = {
        (method, path.replace("{prefix}0000042", "{client_code}"), field)
        for _, method, path, body in OPERATIONS
        for field in body
    }
    assert marked == tested
