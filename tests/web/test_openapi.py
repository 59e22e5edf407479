"""The OpenAPI document at /schema is the contract: what each operation can answer,
with which body and content type, and how a caller authenticates."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SAFE = {"get", "head"}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
    ]


async def test_every_operation_documents_its_errors_with_their_body(
    document: dict[str, Any],
) -> None:
    operations = _operations(document)
    assert len(operations) > 30
    for method, path, operation in operations:
        responses = operation["responses"]
        assert "503" in responses, (method, path)
        if operation.get("requestBody"):
            assert {"400", "413", "415", "422"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if operation.get("security"):
            assert "401" in responses, (method, path)
        if method not in SAFE:
            assert "403" in responses, (method, path)
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorBody"), (method, path, code)
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"status_code", "detail"}


async def test_the_statuses_only_some_operations_answer_are_theirs(
    document: dict[str, Any],
) -> None:
    paths = document["paths"]
    assert {"401", "429"} <= set(paths["/api/v1/auth/login"]["post"]["responses"])
    assert {"404", "409", "410", "429"} <= set(
        paths["/api/v1/activation/check"]["post"]["responses"]
    )
    assert "409" in paths["/api/v1/issuer/documents"]["post"]["responses"]
    assert "409" not in paths["/api/v1/documents"]["get"]["responses"]
    assert "429" not in paths["/api/v1/documents/{document_id}"]["get"]["responses"]


async def test_files_are_documented_with_their_real_types(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def content(path: str, method: str = "get") -> set[str]:
        return set(paths[path][method]["responses"]["200"]["content"])

    assert content("/api/v1/documents/{document_id}/pdf") == {"application/pdf"}
    assert content("/api/v1/documents/{document_id}/xml") == {"application/xml"}
    assert content("/api/v1/documents/{document_id}/duplicate", "post") == {"application/pdf"}
    assert content("/api/v1/documents/export.csv") == {"text/csv"}
    assert content("/api/v1/documents/export.zip") == {"application/zip"}
    assert content("/api/v1/documents/export.xlsx") == {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    }
    assert "content" not in paths["/api/v1/auth/logout"]["post"]["responses"]["204"]


async def test_the_filters_of_the_list_are_parameters(document: dict[str, Any]) -> None:
    for path in (
        "/api/v1/documents",
        "/api/v1/documents/summary",
        "/api/v1/documents/export.csv",
        "/api/v1/documents/export.xlsx",
    ):
        names = {p["name"] for p in document["paths"][path]["get"].get("parameters", [])}
        assert {"client_code", "type", "number", "issued_from", "amount_max", "sort"} <= names
    csv_format = next(
        p
        for p in document["paths"]["/api/v1/documents/export.csv"]["get"]["parameters"]
        if p["name"] == "format"
    )
    assert csv_format["schema"]["enum"] == ["excel-eu", "excel-en"]
    assert "decimal comma" in csv_format["description"]


async def test_how_a_caller_authenticates_is_documented(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["csrf"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": schemes["csrf"]["description"],
    }
    assert schemes["bearer"]["scheme"] == "bearer"
    paths = document["paths"]
    # A read-only token may read; a change needs a session and its CSRF token.
    assert paths["/api/v1/documents"]["get"]["security"] == [{"bearer": []}, {"session": []}]
    assert paths["/api/v1/documents/mark-read"]["post"]["security"] == [{"session": [], "csrf": []}]
    assert paths["/api/v1/issuer/documents"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/api/v1/auth/login"]["post"]


async def test_a_page_size_is_documented_as_it_is_enforced(document: dict[str, Any]) -> None:
    for path in ("/api/v1/documents", "/api/v1/audit-events", "/api/v1/client-numbers"):
        limit = next(
            p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "limit"
        )
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200), path
