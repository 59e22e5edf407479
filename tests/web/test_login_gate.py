"""People's pages pass through one login gate: every page route of the app, found by
walking its routes, is either open on purpose (listed here) or behind the gate, and an
anonymous browser asking for one is sent to the login page and back. A new page that
forgets the gate fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from iportal.web.auth import logged_in

# Pages for people who are not logged in (yet), by route name.
OPEN_PAGES = {
    "web.home",
    "web.language",
    "web.health",
    "accounts.login_page",
    "accounts.login",
    "accounts.logout",
    "accounts.login_code_page",
    "accounts.login_code",
    "accounts.password_reset_page",
    "accounts.password_reset",
    "accounts.password_reset_confirm_page",
    "accounts.password_reset_confirm",
    "accounts.activate_page",
    "accounts.activate_check",
    "accounts.activate_start",
    "accounts.activate_confirm_page",
    "accounts.activate_complete",
    # The one-click unsubscribe link of notices: its signed token is its authority.
    "notifications.unsubscribe_page",
    "notifications.unsubscribe",
    # The link sent to a forwarding address, opened by whoever reads that inbox.
    "notifications.forwarding_confirm_page",
    "notifications.forwarding_confirm",
    # The e-mailed link of a hand-over of the main contact role: the link is the proof.
    "sharing.main_contact_confirm_page",
    "sharing.main_contact_confirm",
}
# Not pages: the JSON API (its own 401), static files and the OpenAPI document.
NOT_PAGES = ("/api/", "/static/", "/schema")
PATH_VALUES = {
    "{client_code:str}": "DL20000001",
    "{document_id:int}": "1",
    "{token_id:int}": "1",
    "{token:str}": "x",
    "{shared_user_id:int}": "1",
    "{address_id:int}": "1",
}


def page_routes(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, path, handler) of every page of the app."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(NOT_PAGES):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if method not in ("HEAD", "OPTIONS"):
                yield method, route.path, handler


def gated_pages(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    return [page for page in page_routes(app) if page[2].name not in OPEN_PAGES]


def example_url(path: str) -> str:
    for pattern, value in PATH_VALUES.items():
        path = path.replace(pattern, value)
    assert "{" not in path, f"give {path} an example value in PATH_VALUES"
    return path


@pytest.fixture
def app(settings: Any) -> Litestar:
    from iportal.app import create_app

    return create_app(settings, manage_pool=False)


def test_every_page_is_open_on_purpose_or_behind_the_gate(app: Litestar) -> None:
    pages = gated_pages(app)
    names = {handler.name for _, _, handler in pages}
    # The walk finds the pages people use (so an empty walk cannot pass).
    assert {"documents.page", "accounts.client_numbers_page", "accounts.profile_page"} <= names
    assert {"accounts.client_numbers_add", "documents.page_mark_read"} <= names
    missing = [f"{method} {path}" for method, path, handler in pages if not _gated(handler)]
    assert missing == [], "pages without the login gate"
    opened = {handler.name for _, _, handler in page_routes(app)} & OPEN_PAGES
    assert opened == OPEN_PAGES  # no stale names: each open page still exists


def _gated(handler: HTTPRouteHandler) -> bool:
    return logged_in in handler.resolve_guards()


async def test_anonymous_browsers_are_sent_to_log_in_and_back(
    app: Litestar, transaction: Any
) -> None:
    pages = [(path, handler) for method, path, handler in gated_pages(app) if method == "GET"]
    assert len(pages) >= 8
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        for path, handler in pages:
            url = example_url(path)
            response = await http.get(url, params={"sort": "-issue_date"})
            target = f"{url}?sort=-issue_date"
            assert response.status_code == 303, (handler.name, response.status_code)
            assert response.headers["location"] == f"/login?{urlencode({'next': target})}"


async def test_a_form_sent_without_a_session_changes_nothing(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    """With a valid anonymous CSRF token a form reaches the gate, which answers 401."""
    from tests.helpers import csrf_from

    token = csrf_from((await client.get("/login")).text)
    for path in (
        "/me",
        "/me/password",
        "/client-numbers/activate",
        "/documents/mark-read",
        "/shared-users",
    ):
        refused = await client.post(path, data={"csrf_token": token, "name": "x", "code": "x"})
        assert refused.status_code == 401, path
        assert "Please log in first." in refused.text
