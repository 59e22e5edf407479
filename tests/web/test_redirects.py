"""After login and after the language switch a person goes back to a path on this site,
never elsewhere: the usual open-redirect payloads all come back as `/`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from iportal.web.redirects import safe_next
from tests.helpers import csrf_from

OPEN_REDIRECTS = [
    None,
    "",
    "//evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "/\\/evil.com",
    "///evil.com",
    "////evil.com",
    "/.//evil.com",
    "/./evil.com",
    "/../evil.com",
    "https://evil.com",
    "http://evil.com/documents",
    "http:evil.com",
    "HTTPS:evil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.com",
    "documents",
    "/%5Cevil.com",
    "/%5cevil.com",
    "/%2F%2Fevil.com",
    "/%2f/evil.com",
    "%2F%2Fevil.com",
    "/%252F%252Fevil.com",
    "/%2e%2e//evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r/evil.com",
    "/\x00/evil.com",
    "/documents\r\nSet-Cookie: x=1",
    "/documents\x00",
    "/%09/evil.com",
    "  /documents",
    "\t/documents",
    "/documents ",
    "/\u200b/evil.com",
    "/\u3000/evil.com",
    "/\\t/evil.com",
]

SAME_SITE = [
    "/",
    "/documents",
    "/documents?client_code=DL2&sort=-issue_date",
    "/documents?client_code=DL2%200012345&cursor=abc%3D%3D",
    "/client-numbers#x",
    "/me/security?done=totp_removed",
    "/documents?next=//evil.com",  # only a query value: it stays on this site
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_anything_but_a_path_on_this_site_goes_home(target: str | None) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", SAME_SITE)
def test_a_path_on_this_site_is_kept_as_it_is(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", ["/\\evil.com", "//evil.com", "/%5Cevil.com", "https://e.com"])
async def test_the_language_switch_and_the_login_pages_refuse_them(
    client: httpx.AsyncClient, transaction: Any, target: str
) -> None:
    switched = await client.get(f"/language/nl?next={quote(target, safe='')}")
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    login = await client.get(f"/login?next={quote(target, safe='')}")
    assert 'name="next" value="/"' in login.text
    refused = await client.post(
        "/login",
        data={
            "csrf_token": csrf_from(login.text),
            "username": "nobody@example.com",
            "password": "wrong",
            "next": target,
        },
    )
    assert refused.status_code == 401 and 'name="next" value="/"' in refused.text
    code_page = await client.get(f"/login/code?next={quote(target, safe='')}")
    assert code_page.status_code == 303 and code_page.headers["location"] == "/login?next=%2F"


async def test_a_path_on_this_site_survives_the_language_switch(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    target = "/documents?client_code=DL2&sort=-issue_date"
    switched = await client.get(f"/language/de?next={quote(target, safe='')}")
    assert switched.headers["location"] == target
