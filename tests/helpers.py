"""Small helpers for driving the web app in tests."""

from __future__ import annotations

import re

import httpx

from tests import factories

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def form_login(
    client: httpx.AsyncClient, username: str, password: str, next: str = "/"
) -> httpx.Response:
    page = await client.get("/login")
    token = csrf_from(page.text)
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "next": next},
    )


def main_text(html: str) -> str:
    """The text of <main>, without tags, for comparing what a person reads."""
    body = html.split("<main", 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", body.split(">", 1)[1]).split())


async def log_in_afresh(client: httpx.AsyncClient, email: str) -> None:
    """Logged in through the form as `email` (with the factories' password), whoever
    was logged in before."""
    client.cookies.clear()
    assert (await form_login(client, email, factories.PASSWORD)).status_code == 303


async def listed_ids(client: httpx.AsyncClient, **params: str) -> set[int]:
    """The ids of the documents the API lists with these filters."""
    response = await client.get("/api/v1/documents", params=params)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}
