"""A person's own profile: read and change name, language and notification frequency."""

from __future__ import annotations

from typing import Any

import httpx

from tests.accounts.security_support import logged_in, person
from tests.helpers import csrf_from


async def test_the_profile_reads_and_changes_field_by_field(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    anna = await person(language="nl")
    csrf = await logged_in(client, anna["email"])
    me = (await client.get("/api/v1/me")).json()
    assert me == {
        "id": anna["id"],
        "email": anna["email"],
        "first_name": "Anna",
        "last_name": "Peeters",
        "language": "nl",
        "notification_frequency": "immediate",
        "totp_enabled": False,
    }
    changed = await client.patch(
        "/api/v1/me",
        json={"language": "fr", "notification_frequency": "weekly", "last_name": " Peeters-Maes "},
        headers=csrf,
    )
    assert changed.status_code == 200
    assert changed.json() | {"id": 0} == me | {
        "id": 0,
        "language": "fr",
        "notification_frequency": "weekly",
        "last_name": "Peeters-Maes",
    }
    for bad in (
        {"language": "es"},
        {"notification_frequency": "hourly"},
        {"first_name": "x" * 101},
    ):
        response = await client.patch("/api/v1/me", json=bad, headers=csrf)
        assert response.status_code == 422, bad
    assert (await client.patch("/api/v1/me", json={"language": "de"})).status_code == 403  # CSRF
    assert (await client.get("/api/v1/me")).json()["language"] == "fr"


async def test_the_profile_page_saves(client: httpx.AsyncClient, transaction: Any) -> None:
    anna = await person()
    await logged_in(client, anna["email"])
    page = await client.get("/me")
    assert page.status_code == 200 and anna["email"] in page.text
    saved = await client.post(
        "/me",
        data={
            "csrf_token": csrf_from(page.text),
            "first_name": "Anne",
            "last_name": "Peeters",
            "language": "de",
            "notification_frequency": "daily",
        },
    )
    assert saved.status_code == 200 and 'id="profile-saved"' in saved.text
    me = (await client.get("/api/v1/me")).json()
    assert (me["first_name"], me["language"], me["notification_frequency"]) == (
        "Anne",
        "de",
        "daily",
    )
