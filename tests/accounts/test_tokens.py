"""Personal API tokens: named, shown once, stored hashed, read-only (GET and HEAD
only, any other method is 403), revoked at once, nobody else's to revoke."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from iportal.accounts.tables import AuditEvent, PersonalToken, PortalUser
from tests import factories
from tests.accounts.security_support import client_from, logged_in, make_app, person
from tests.helpers import csrf_from

TOKEN_FORMAT = re.compile(r"ipt_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")


async def new_token(http: httpx.AsyncClient, csrf: dict[str, str], name: str) -> dict[str, Any]:
    response = await http.post("/api/v1/me/tokens", json={"name": name}, headers=csrf)
    assert response.status_code == 201, response.text
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def app(settings: Any, transaction: Any) -> Any:
    return make_app(settings)


async def test_a_token_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    anna = await person()
    csrf = await logged_in(client, anna["email"])
    created = await new_token(client, csrf, "  Accounting   software ")
    assert TOKEN_FORMAT.fullmatch(created["token"])
    assert created["name"] == "Accounting software"
    listed = (await client.get("/api/v1/me/tokens")).json()
    assert [t["name"] for t in listed] == ["Accounting software"]
    assert "token" not in listed[0] and created["token"] not in str(listed)
    stored = await PersonalToken.select(PersonalToken.token_hash, PersonalToken.token_id)
    assert created["token"] not in str(stored) and len(stored[0]["token_hash"]) == 64
    nameless = await client.post("/api/v1/me/tokens", json={"name": " "}, headers=csrf)
    assert nameless.status_code == 422
    assert await AuditEvent.count().where(AuditEvent.kind == "token_created") == 1


async def test_a_token_reads_but_never_writes(app: Any) -> None:
    anna = await person()
    await factories.account(anna["id"])  # main contact: the audit is hers to read
    async with client_from(app, "192.0.2.1") as browser, client_from(app, "192.0.2.2") as script:
        csrf = await logged_in(browser, anna["email"])
        token = (await new_token(browser, csrf, "script"))["token"]
        me = await script.get("/api/v1/me", headers=bearer(token))
        assert me.status_code == 200 and me.json()["email"] == anna["email"]
        assert (await script.get("/api/v1/documents", headers=bearer(token))).status_code == 200
        assert (await script.get("/api/v1/me/tokens", headers=bearer(token))).status_code == 200
        assert (await script.get("/api/v1/audit-events", headers=bearer(token))).status_code == 200
        writes = [
            ("PATCH", "/api/v1/me", {"first_name": "Mallory"}),
            ("POST", "/api/v1/me/tokens", {"name": "another"}),
            ("DELETE", "/api/v1/me/tokens/1", None),
            ("POST", "/api/v1/me/password", {"current_password": "x", "new_password": "y"}),
            ("POST", "/api/v1/me/totp", None),
            ("POST", "/api/v1/documents/mark-read", {"ids": []}),
        ]
        for method, path, body in writes:
            response = await script.request(method, path, json=body, headers=bearer(token))
            assert response.status_code == 403, (method, path, response.text)
            assert "read-only" in response.json()["detail"]
        assert (await browser.get("/api/v1/me")).json()["first_name"] == "Anna"
        assert script.cookies.get("iportal_session") is None


async def test_revoking_takes_effect_at_once_and_only_for_the_owner(app: Any) -> None:
    anna, bert = await person(), await person()
    async with client_from(app, "192.0.2.1") as a, client_from(app, "192.0.2.2") as b:
        anna_csrf = await logged_in(a, anna["email"])
        bert_csrf = await logged_in(b, bert["email"])
        anna_token = await new_token(a, anna_csrf, "anna's script")
        not_yours = await b.delete(f"/api/v1/me/tokens/{anna_token['id']}", headers=bert_csrf)
        assert not_yours.status_code == 404
        assert (await a.get("/api/v1/me", headers=bearer(anna_token["token"]))).status_code == 200
        revoked = await a.delete(f"/api/v1/me/tokens/{anna_token['id']}", headers=anna_csrf)
        assert revoked.status_code == 204
        assert (await b.get("/api/v1/me", headers=bearer(anna_token["token"]))).status_code == 401
        assert (await a.get("/api/v1/me/tokens")).json() == []
        again = await a.delete(f"/api/v1/me/tokens/{anna_token['id']}", headers=anna_csrf)
        assert again.status_code == 404
        # A bearer token is the only credential looked at: the session cookie does not help.
        assert (await a.get("/api/v1/me", headers=bearer(anna_token["token"]))).status_code == 401
    assert await AuditEvent.count().where(AuditEvent.kind == "token_revoked") == 1


async def test_what_is_not_a_live_personal_token_is_refused(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    anna = await person()
    csrf = await logged_in(client, anna["email"])
    token = (await new_token(client, csrf, "script"))["token"]
    client.cookies.clear()
    _issuer_id, issuer_key = await factories.issuer_with_key()
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for credential in (tampered, issuer_key, "ipt_nonsense", "x" * 50):
        response = await client.get("/api/v1/me", headers=bearer(credential))
        assert response.status_code == 401, credential
    await PortalUser.update({PortalUser.locked_at: PortalUser.created_at}).where(
        PortalUser.id == anna["id"]
    )
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_the_tokens_page(client: httpx.AsyncClient, transaction: Any) -> None:
    anna = await person()
    await logged_in(client, anna["email"])
    page = await client.get("/me/tokens")
    assert page.status_code == 200 and "You have no API tokens" in page.text
    created = await client.post(
        "/me/tokens", data={"csrf_token": csrf_from(page.text), "name": "Exact Online"}
    )
    shown = TOKEN_FORMAT.findall(created.text)
    assert created.status_code == 200 and len(shown) == 1
    listed = await client.get("/me/tokens")
    assert "Exact Online" in listed.text and shown[0] not in listed.text
    token_id = (await PersonalToken.select(PersonalToken.id).first())["id"]
    revoked = await client.post(
        f"/me/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(listed.text)}
    )
    assert revoked.status_code == 303
    assert "Exact Online" not in (await client.get("/me/tokens")).text
