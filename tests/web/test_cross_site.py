"""Requests a browser could send with our cookies from another site are refused before
any handler runs, anonymous ones included; the JSON API reads JSON bodies only; a
bearer header is the only credential of the request that carries it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iportal.accounts.tables import UserSession
from iportal.i18n import translate
from tests.accounts.security_support import client_from, logged_in, make_app, person
from tests.accounts.test_tokens import bearer, new_token
from tests.factories import PASSWORD
from tests.helpers import csrf_from

LOGIN_BODY = '{{"username": "{}", "password": "{}"}}'


def login_body(email: str) -> str:
    return LOGIN_BODY.format(email, PASSWORD)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # what a cross-site <form enctype="text/plain"> sends
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,  # fetch(…, {mode: "no-cors", body: new Blob([…])}) sends no type at all
    ],
)
async def test_the_json_api_reads_json_bodies_only(
    client: httpx.AsyncClient, transaction: Any, content_type: str | None
) -> None:
    anna = await person()
    headers = {"Content-Type": content_type} if content_type else {}
    request = client.build_request(
        "POST", "/api/v1/auth/login", content=login_body(anna["email"]), headers=headers
    )
    if content_type is None:
        request.headers.pop("Content-Type", None)
    response = await client.send(request)
    assert response.status_code == 415, response.text
    assert response.json() == {
        "status_code": 415,
        "detail": "Send the body of this request as application/json.",
    }
    assert "set-cookie" not in response.headers
    assert await UserSession.count() == 0


async def test_a_415_speaks_the_readers_language(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=login_body("someone@example.test"),
        headers={"Content-Type": "text/plain", "Accept-Language": "nl"},
    )
    detail = translate(
        "Send the body of this request as %(media_type)s.", "nl", media_type="application/json"
    )
    assert (
        response.json()["detail"]
        == detail
        == ("Verstuur de inhoud van dit verzoek als application/json.")
    )


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
)
async def test_json_with_or_without_its_charset_is_read(
    client: httpx.AsyncClient, transaction: Any, content_type: str
) -> None:
    anna = await person()
    response = await client.post(
        "/api/v1/auth/login",
        content=login_body(anna["email"]),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.text


async def test_an_issuer_still_publishes_multipart(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    """The one operation the contract makes multipart stays multipart; its key is
    checked (401), not its body's type."""
    response = await client.post(
        "/api/v1/issuer/documents",
        files={"file": ("a.pdf", b"%PDF-1.4", "application/pdf")},
        headers={"Authorization": "Bearer not-a-key"},
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is not us
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a data: page
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Origin": "http://testserver:8080"},
    ],
)
async def test_an_anonymous_cross_site_login_is_refused(
    client: httpx.AsyncClient, transaction: Any, headers: dict[str, str]
) -> None:
    anna = await person()
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": anna["email"], "password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == "This request did not come from this site."
    assert "set-cookie" not in response.headers
    assert await UserSession.count() == 0


async def test_a_cross_site_login_form_is_refused_even_with_a_planted_csrf_cookie(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    """A sibling subdomain can plant the anonymous CSRF cookie (no `__Host-` prefix
    over http): the site of the request is what refuses it."""
    anna = await person()
    client.cookies.set("iportal_csrf", "planted-by-a-sibling")
    response = await client.post(
        "/login",
        data={
            "username": anna["email"],
            "password": PASSWORD,
            "csrf_token": "planted-by-a-sibling",
        },
        headers={"Sec-Fetch-Site": "same-site", "Accept-Language": "fr"},
    )
    assert response.status_code == 403
    assert translate("This request did not come from this site.", "fr") in response.text
    assert await UserSession.count() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked by the person
        {"Origin": "http://testserver"},  # the request's own host, e.g. a local demo port
        {"Origin": "http://127.0.0.1:8000"},  # IPORTAL_BASE_URL (its default here)
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        {},  # a program: neither header
    ],
)
async def test_requests_from_this_site_pass(
    client: httpx.AsyncClient, transaction: Any, headers: dict[str, str]
) -> None:
    anna = await person()
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": anna["email"], "password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == 200, response.text


async def test_a_logged_in_cross_site_request_is_refused_even_with_its_token(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    anna = await person()
    csrf = await logged_in(client, anna["email"])
    refused = await client.post(
        "/api/v1/auth/logout", headers={**csrf, "Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert (await client.get("/api/v1/me")).status_code == 200  # still logged in
    safe = await client.get("/api/v1/me", headers={"Sec-Fetch-Site": "cross-site"})
    assert safe.status_code == 200  # reading is not refused (SameSite=Lax decides)


async def test_a_bearer_header_ignores_the_session_cookie(settings: Any, transaction: Any) -> None:
    anna = await person()
    async with client_from(make_app(settings), "192.0.2.1") as browser:
        csrf = await logged_in(browser, anna["email"])
        token = (await new_token(browser, csrf, "script"))["token"]
        # A page is for a browser session: with a bearer header beside the cookie, the
        # cookie counts for nothing and the person is sent to log in.
        page = await browser.get("/documents", headers=bearer(token))
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        # A bearer header that does not authenticate is a 401, never the cookie's user.
        for header in ("Bearer ", "Bearer", "bearer ipt_nonsense"):
            me = await browser.get("/api/v1/me", headers={"Authorization": header})
            assert me.status_code == 401, header
        # …and it cannot skip the session's CSRF check: the session lives on (the
        # answer may tell the browser to drop a cookie it did not use: put it back).
        session = browser.cookies["iportal_session"]
        logout = await browser.post("/api/v1/auth/logout", headers=bearer("ipt_nonsense"))
        assert logout.status_code in (204, 401)
        form_logout = await browser.post("/logout", headers=bearer("ipt_nonsense"))
        assert form_logout.status_code in (303, 401)
        browser.cookies.set("iportal_session", session)
        assert (await browser.get("/api/v1/me")).status_code == 200
        # The token itself still reads, from anywhere: it is no ambient credential.
        me = await browser.get(
            "/api/v1/me", headers={**bearer(token), "Sec-Fetch-Site": "cross-site"}
        )
        assert me.status_code == 200 and me.json()["email"] == anna["email"]


async def test_html_forms_keep_working(client: httpx.AsyncClient, transaction: Any) -> None:
    anna = await person()
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"username": anna["email"], "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303


async def test_a_text_plain_post_to_a_page_needs_its_csrf_token(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    """`<form enctype="text/plain">` from a browser that sends neither `Origin` nor
    `Sec-Fetch-Site`: the page does not take it for an anonymous JSON call."""
    anna = await person()
    body = f"username={anna['email']}&password={PASSWORD}&next=/"
    response = await client.post("/login", content=body, headers={"Content-Type": "text/plain"})
    assert response.status_code == 403
    assert await UserSession.count() == 0
