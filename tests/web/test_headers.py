"""Security headers on every response (pages, JSON, static files, errors, the OpenAPI
document), a Content-Security-Policy that no page template needs to loosen, HSTS over
https only, and no page of a logged-in person kept by any cache."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from iportal.web.assets import static_url
from tests.accounts.security_support import logged_in, person
from tests.conftest import ROOT, TEST_SECRET_KEY

PAGE_TEMPLATES = [
    path
    for path in sorted((ROOT / "iportal").glob("*/templates/**/*.html"))
    # E-mails are read by mail programs, which want inline styles; never served as pages.
    if "/email/" not in path.as_posix()
]
INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "<style>": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def assert_secure_headers(response: httpx.Response, where: str) -> None:
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    directives = {}
    for part in filter(None, (p.strip() for p in policy.split(";"))):
        name, _, value = part.partition(" ")
        directives[name] = value
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, where
    assert directives.get("default-src") == "'self'", (where, policy)
    assert directives.get("script-src") == "'self'", (where, policy)
    assert directives.get("style-src") == "'self'", (where, policy)
    assert directives.get("object-src") == "'none'", (where, policy)
    assert directives.get("base-uri") == "'none'", (where, policy)
    assert directives.get("form-action") == "'self'", (where, policy)
    assert directives.get("frame-ancestors") == "'none'", (where, policy)
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "same-origin", where
    assert "camera=()" in headers.get("permissions-policy", ""), where
    assert "strict-transport-security" not in headers, where  # http: never pinned


async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    anna = await person()
    anonymous = {
        path: await client.get(path)
        for path in (
            "/",
            "/login",
            "/activate",
            static_url("app.css"),
            static_url("documents.js"),
            "/static/app.css",  # no fingerprint: a 404, and not cached either
            "/healthz",
            "/schema",
            "/schema/openapi.json",
            "/no/such/page",
            "/api/v1/no-such-thing",
            "/api/v1/me",
        )
    }
    anonymous["cross-site POST"] = await client.post(
        "/api/v1/auth/login", json={}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    anonymous["text/plain POST"] = await client.post(
        "/api/v1/auth/login", content="{}", headers={"Content-Type": "text/plain"}
    )
    assert anonymous["/no/such/page"].status_code == 404
    assert anonymous["cross-site POST"].status_code == 403
    for where, response in anonymous.items():
        assert_secure_headers(response, where)
    await logged_in(client, anna["email"])
    for path in ("/documents", "/client-numbers", "/me/security", "/me/tokens", "/api/v1/me"):
        assert_secure_headers(await client.get(path), path)


async def test_the_openapi_document_is_served_without_third_party_scripts(
    client: httpx.AsyncClient,
) -> None:
    """/schema is the document itself: the HTML viewers load scripts from a CDN."""
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "/api/v1/auth/login" in response.json()["paths"]
    assert (await client.get("/schema/openapi.yaml")).status_code == 200


async def test_hsts_when_the_portal_is_served_over_https(
    tmp_root: Path, database: str, transaction: Any
) -> None:
    from iportal.app import create_app
    from iportal.settings import read_settings

    settings = read_settings(
        {
            "DATABASE_URL": database,
            "IPORTAL_DATA_DIR": str(tmp_root / "data"),
            "IPORTAL_SECRET_KEY": TEST_SECRET_KEY,
            "IPORTAL_BASE_URL": "https://portal.example",
        }
    )
    app = create_app(settings, manage_pool=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.example"
    ) as http:
        for path in ("/login", static_url("app.css"), "/no/such/page"):
            response = await http.get(path)
            assert response.headers["strict-transport-security"] == (
                "max-age=31536000; includeSubDomains"
            ), path


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_template_needs_inline_script_or_style(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    found = {name: pattern.findall(text) for name, pattern in INLINE.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_the_template_walk_finds_the_pages() -> None:
    names = {path.name for path in PAGE_TEMPLATES}
    assert {"base.html", "security.html", "list.html", "client_numbers.html"} <= names
    assert not any(path.name == "body.html" for path in PAGE_TEMPLATES)


async def test_no_response_to_a_logged_in_person_is_kept_by_a_cache(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    anna = await person()
    await logged_in(client, anna["email"])
    for path in (
        "/",
        "/documents",
        "/documents?partial=1",
        "/client-numbers",
        "/me",
        "/me/security",
        "/me/tokens",
        "/me/activity",
        "/me/password",
        "/language/nl?next=/documents",
        "/api/v1/me",
        "/api/v1/me/tokens",
        "/api/v1/client-numbers",
        "/api/v1/documents",
        "/api/v1/documents/summary",
    ):
        response = await client.get(path)
        assert response.status_code in (200, 303), (path, response.status_code)
        assert response.headers.get("cache-control") == "no-store", path
    # Static files are the same for everyone: they may be cached.
    assert "no-store" not in (await client.get(static_url("app.css"))).headers["cache-control"]
    assert (await client.get("/static/app.css")).headers["cache-control"] == "no-store"
