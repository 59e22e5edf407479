"""The web app's shared behaviour: languages, error pages, health, OpenAPI."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import get

from iportal.i18n import translate
from tests.helpers import main_text


async def test_home_page_speaks_the_browsers_language(client: httpx.AsyncClient) -> None:
    english = await client.get("/")
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    assert "Your invoices, online" in english.text
    for language in ("nl", "fr", "de"):
        page = await client.get("/", headers={"Accept-Language": f"{language}-BE,en;q=0.5"})
        assert f'<html lang="{language}">' in page.text
        translated = translate("Your invoices, online", language)
        assert translated != "Your invoices, online", f"no {language} translation"
        assert translated in page.text


async def test_the_language_switch_is_remembered(client: httpx.AsyncClient) -> None:
    switched = await client.get("/language/fr?next=/login")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login"
    page = await client.get("/login", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in page.text
    assert translate("Log in", "fr") in page.text


async def test_the_language_switch_refuses_other_sites_and_languages(
    client: httpx.AsyncClient,
) -> None:
    outside = await client.get("/language/nl?next=//evil.example/")
    assert outside.headers["location"] == "/"
    assert (await client.get("/language/es")).status_code == 404


async def test_unknown_page_is_a_readable_html_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page", headers={"Accept-Language": "nl"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert translate("This page does not exist, or it is not yours to see.", "nl") in (
        main_text(response.text)
    )


async def test_api_errors_are_json_with_a_detail(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {
        "status_code": 404,
        "detail": "This page does not exist, or it is not yours to see.",
    }


async def test_bad_json_is_a_400_that_names_the_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": "someone"})
    assert response.status_code == 400
    body = response.json()
    assert body["status_code"] == 400
    assert "password" in body["detail"]


async def test_an_unexpected_error_never_shows_a_trace(settings: Any, transaction: Any) -> None:
    from iportal.app import create_app

    @get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    @get("/api/v1/boom")
    async def api_boom() -> None:
        raise RuntimeError("secret internal detail")

    app = create_app(settings, manage_pool=False)
    app.register(boom)
    app.register(api_boom)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        page = await http.get("/boom")
        api = await http.get("/api/v1/boom")
    assert page.status_code == api.status_code == 500
    for response in (page, api):
        assert "secret internal detail" not in response.text
        assert "Traceback" not in response.text
    assert api.json()["detail"].startswith("Something went wrong on our side")


async def test_health_check_answers_when_the_database_does(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_openapi_document_lists_the_api(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/auth/login" in paths
    assert "/api/v1/me" in paths
    assert "/login" not in paths  # pages for people are not part of the API


async def test_every_response_has_a_request_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert len(first.headers["x-request-id"]) == 16
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    # Also where no route answers: an unknown path, a method the path does not take.
    unknown = await client.get("/no/such/page")
    wrong_method = await client.delete("/healthz")
    assert (unknown.status_code, wrong_method.status_code) == (404, 405)
    assert len(unknown.headers["x-request-id"]) == len(wrong_method.headers["x-request-id"]) == 16


async def test_pages_are_not_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.headers["cache-control"] == "no-store"
    assert "Cookie" in response.headers["vary"]
