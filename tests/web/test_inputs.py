"""Bad input through every door answers 4xx with a detail, never 500: control characters in
any string, integers out of range in paths and bodies, JSON nested beyond reason or larger
than the limit. Each refusal logs one line (the request's) and writes nothing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from iportal import db
from iportal.i18n import translate
from tests import factories
from tests.accounts.security_support import logged_in, person
from tests.helpers import csrf_from, main_text

CONTROL = "contains a character that cannot be stored (a control character)"
BIGINT_MAX = 2**63 - 1

Call = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]


async def writes() -> int:
    """Rows this transaction (the test's, which the app runs in) inserted, updated or
    deleted so far, in any table."""
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
            " FROM pg_stat_xact_user_tables"
        )
    )


@contextmanager
def one_line(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The portal's log records of what runs inside: checked to be the request's line."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="iportal"):
        records: list[logging.LogRecord] = []
        yield records
        records += [r for r in caplog.records if r.name.startswith("iportal")]
    assert [r.getMessage() for r in records] == ["request"], [r.getMessage() for r in records]
    assert 400 <= records[0].__dict__["status"] < 500


async def refused(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    call: Call,
    csrf: dict[str, str],
    status: int,
) -> httpx.Response:
    """`call` answers `status`, logs one line and writes nothing. Anonymous forms get
    the CSRF token of the login page first."""
    if not csrf:
        csrf = {"X-CSRF-Token": csrf_from((await client.get("/login")).text)}
    before = await writes()
    with one_line(caplog):
        response = await call(client, csrf)
    assert response.status_code == status, response.text
    assert await writes() == before
    return response


def detail(response: httpx.Response) -> str:
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["detail"])
    return main_text(response.text)


async def form_post(
    client: httpx.AsyncClient, csrf: dict[str, str], target: str, fields: dict[str, str]
) -> httpx.Response:
    """A form as its page sends it, with the session's (or the CSRF cookie's) token."""
    return await client.post(target, data={"csrf_token": csrf["X-CSRF-Token"], **fields})


# (field named in the detail, needs a logged-in person, the request)
CONTROL_CASES: dict[str, tuple[str, bool, Call]] = {
    "api login": (
        "username",
        False,
        lambda c, _: c.post("/api/v1/auth/login", json={"username": "a\x00b", "password": "x"}),
    ),
    "login form": (
        "username",
        False,
        lambda c, csrf: form_post(c, csrf, "/login", {"username": "anna\x00", "password": "x"}),
    ),
    "password reset": (
        "email",
        False,
        lambda c, _: c.post("/api/v1/auth/password-reset", json={"email": "a\x00@example.test"}),
    ),
    "password reset form": (
        "email",
        False,
        lambda c, csrf: form_post(c, csrf, "/password-reset", {"email": "a\x1b@example.test"}),
    ),
    "list filter": (
        "number",
        True,
        lambda c, _: c.get("/api/v1/documents", params={"number": "F\x00"}),
    ),
    "page filter": ("number", True, lambda c, _: c.get("/documents?number=F%00")),
    "profile, NUL": (
        "first_name",
        True,
        lambda c, csrf: c.patch("/api/v1/me", json={"first_name": "A\x00"}, headers=csrf),
    ),
    "profile, bell": (
        "last_name",
        True,
        lambda c, csrf: c.patch("/api/v1/me", json={"last_name": "B\x07"}, headers=csrf),
    ),
    "profile, C1 control": (
        "first_name",
        True,
        lambda c, csrf: c.patch("/api/v1/me", json={"first_name": "A\x85"}, headers=csrf),
    ),
    "profile form": (
        "first_name",
        True,
        lambda c, csrf: form_post(c, csrf, "/me", {"first_name": "A\x00", "last_name": "B"}),
    ),
    "token name": (
        "name",
        True,
        lambda c, csrf: c.post("/api/v1/me/tokens", json={"name": "laptop\x00"}, headers=csrf),
    ),
    "token name, line break": (
        "name",
        True,
        lambda c, csrf: c.post("/api/v1/me/tokens", json={"name": "a\nb"}, headers=csrf),
    ),
}


@pytest.mark.parametrize("case", list(CONTROL_CASES))
async def test_a_control_character_in_any_string_is_refused(
    client: httpx.AsyncClient, transaction: Any, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    field, needs_login, call = CONTROL_CASES[case]
    csrf = await logged_in(client, (await person())["email"]) if needs_login else {}
    response = await refused(client, caplog, call, csrf, 422)
    assert CONTROL in detail(response) and field in detail(response)


async def test_the_refusal_is_in_the_readers_language(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": "a\x00", "password": "x"},
        headers={"Accept-Language": "nl"},
    )
    assert response.status_code == 422
    english = "%(field)s: contains a character that cannot be stored (a control character)."
    assert translate(english, "nl", field="username") == response.json()["detail"]


async def test_a_tab_is_still_text(client: httpx.AsyncClient, transaction: Any) -> None:
    """Pasted from a spreadsheet: the profile folds it into a space, as before."""
    csrf = await logged_in(client, (await person())["email"])
    response = await client.patch("/api/v1/me", json={"first_name": "Anna\tMaria"}, headers=csrf)
    assert response.status_code == 200 and response.json()["first_name"] == "Anna Maria"


@pytest.fixture
async def anna(client: httpx.AsyncClient, transaction: Any) -> dict[str, str]:
    """A person with one document, logged in through the API."""
    issuer_id = await factories.issuer("DL2")
    number = await factories.client_number(issuer_id, "DL20000001")
    user_id = await factories.user("anna@example.test")
    await factories.account(user_id, number)
    await factories.document(number, issue_date=date.today())
    return await logged_in(client, "anna@example.test")


HUGE = str(BIGINT_MAX + 1)  # 9223372036854775808: no row can have it
PATH_CASES: dict[str, Call] = {
    "document": lambda c, _: c.get(f"/api/v1/documents/{HUGE}"),
    "its PDF": lambda c, _: c.get(f"/api/v1/documents/{HUGE}/pdf"),
    "its XML": lambda c, _: c.get(f"/api/v1/documents/{HUGE}/xml"),
    "its duplicate": lambda c, csrf: c.post(f"/api/v1/documents/{HUGE}/duplicate", headers=csrf),
    "a negative id": lambda c, _: c.get("/api/v1/documents/-1"),
    # Token ids are a PostgreSQL `integer`: 2**40 fits a bigint, not them.
    "a token": lambda c, csrf: c.delete(f"/api/v1/me/tokens/{2**40}", headers=csrf),
    "a token, by the page": lambda c, csrf: form_post(c, csrf, f"/me/tokens/{2**40}/revoke", {}),
    "a duplicate, by the page": lambda c, csrf: form_post(
        c, csrf, f"/documents/{HUGE}/duplicate", {}
    ),
}


@pytest.mark.parametrize("case", list(PATH_CASES))
async def test_an_id_out_of_range_in_a_path_is_not_found(
    client: httpx.AsyncClient, anna: dict[str, str], caplog: pytest.LogCaptureFixture, case: str
) -> None:
    response = await refused(client, caplog, PATH_CASES[case], anna, 404)
    assert detail(response)


BODY_CASES: dict[str, tuple[str, Call]] = {
    "2**70": (
        "ids",
        lambda c, csrf: c.post("/api/v1/documents/mark-read", json={"ids": [2**70]}, headers=csrf),
    ),
    "one past the largest bigint": (
        "ids",
        lambda c, csrf: c.post(
            "/api/v1/documents/mark-read", json={"ids": [1, BIGINT_MAX + 1]}, headers=csrf
        ),
    ),
    "the page's form": (  # read by its handler, refused by PostgreSQL: a 422 all the same
        "",
        lambda c, csrf: form_post(c, csrf, "/documents/mark-read", {"ids": "9" * 30}),
    ),
}


@pytest.mark.parametrize("case", list(BODY_CASES))
async def test_an_integer_out_of_range_in_a_body_is_refused(
    client: httpx.AsyncClient, anna: dict[str, str], caplog: pytest.LogCaptureFixture, case: str
) -> None:
    field, call = BODY_CASES[case]
    response = await refused(client, caplog, call, anna, 422)
    assert "out of range" in detail(response) and field in detail(response)


async def test_json_too_deep_or_too_large_is_refused_with_a_detail(
    client: httpx.AsyncClient, transaction: Any, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    headers = {"Content-Type": "application/json"}
    for deep in (b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):

        async def nested(c: httpx.AsyncClient, _: dict[str, str], body: bytes = deep) -> Any:
            return await c.post("/api/v1/auth/login", content=body, headers=headers)

        response = await refused(client, caplog, nested, {}, 400)
        assert "nested too deeply" in response.json()["detail"]
    limit = settings.max_upload_bytes + 1024 * 1024
    large = b'{"username": "' + b"a" * limit + b'", "password": "x"}'

    async def too_large(c: httpx.AsyncClient, _: dict[str, str]) -> Any:
        return await c.post("/api/v1/auth/login", content=large, headers=headers)

    response = await refused(client, caplog, too_large, {}, 413)
    # A login is no file: the refusal says what was sent, not "the file".
    assert response.json()["detail"].startswith("What was sent is too large.")


async def test_date_filters_take_any_date_a_person_can_type(
    client: httpx.AsyncClient, anna: dict[str, str]
) -> None:
    for query in ("issued_from=0001-01-01", "issued_to=9999-12-31", "issued_from=9999-12-31"):
        assert (await client.get(f"/api/v1/documents?{query}")).status_code == 200, query
        assert (await client.get(f"/documents?{query}")).status_code == 200, query


def test_every_integer_in_a_path_has_a_range(client: httpx.AsyncClient) -> None:
    """An id beyond its column's type would reach PostgreSQL and fail there: each integer
    path parameter says its range (`SerialId`, `BigSerialId`), and is 404 outside it."""
    from iportal.app import create_app
    from iportal.settings import read_settings

    app = create_app(read_settings({"IPORTAL_SECRET_KEY": "k" * 40}), manage_pool=False)
    unbounded = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for name, parameter in handler.parsed_fn_signature.parameters.items():
                if name in route.path_parameters and parameter.annotation is int:
                    bound = parameter.kwarg_definition
                    if bound is None or getattr(bound, "le", None) is None:
                        unbounded.append(f"{route.path} {name}")
    assert unbounded == []
