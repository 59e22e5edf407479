"""Small helpers for driving the web app in tests."""

from __future__ import annotations

import re

import httpx

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
