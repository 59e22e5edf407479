"""What a request may carry, checked once for every route before anything else runs:
text that PostgreSQL can store and a person meant to type, integers that fit the
columns they are compared with, JSON of a sane depth.

`check_input` is an app-wide guard (guards run before the login gate, the request hook
and the handler): it reads the path and query parameters and, for JSON and form bodies,
the body as Litestar parses it, once (the handler is given the same parsed values).
A refusal is a 422 naming the field (400 for JSON nested beyond reason), so that nothing
half-checked reaches a service and nothing is written.

Integers in paths are ids: each path declares its range with `SerialId` or
`BigSerialId`, the type of the column it names, and an id outside it is 404 (see
`web/errors.py`), like any other id that names nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.exceptions import SerializationException
from litestar.handlers import BaseRouteHandler
from litestar.params import Parameter

from iportal.errors import DomainError, InvalidInput
from iportal.i18n import N_

INTEGER_MAX = 2**31 - 1  # PostgreSQL's `integer` (`serial`)
BIGINT_MAX = 2**63 - 1  # `bigint` (`bigserial`)
# Our bodies are flat or one list deep; deeper JSON is an attack or a mistake.
MAX_JSON_DEPTH = 32

SerialId = Annotated[int, Parameter(ge=1, le=INTEGER_MAX)]
BigSerialId = Annotated[int, Parameter(ge=1, le=BIGINT_MAX)]

# Every control character but the tab (pasted from spreadsheets; services fold it into
# a space): NUL, which PostgreSQL cannot store, line breaks (no field is multi-line),
# escape sequences, DEL and the C1 controls; and lone surrogates, which UTF-8 cannot
# encode.
UNSTORABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

CONTROL_CHARACTER = N_(
    "%(field)s: contains a character that cannot be stored (a control character)."
)
OUT_OF_RANGE = N_("%(field)s: a number out of range (at most %(max)s).")
TOO_DEEP = N_("The JSON body is nested too deeply (at most %(levels)s levels).")


class Malformed(DomainError):
    """A body that cannot be read as what it claims to be."""

    status_code = 400


async def check_input(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Refuse a request whose path, query or body carries what no field accepts."""
    for name, value in connection.path_params.items():
        _check_text(name, value)
    for name, value in connection.query_params.multi_items():
        _check_text(name, name)
        _check_text(name, value)
    if not isinstance(connection, Request):
        return
    media_type = connection.content_type[0].lower()
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        await _check_json_body(connection)
    elif media_type in FORM_TYPES and not connection.url.path.startswith("/api/"):
        await _check_form(connection)  # a form sent to the JSON API is a 415, whatever it holds


def _check_text(field: str, value: object) -> None:
    if isinstance(value, str) and UNSTORABLE.search(value):
        raise InvalidInput(
            CONTROL_CHARACTER, field=UNSTORABLE.sub("\N{REPLACEMENT CHARACTER}", field)
        )


async def _check_json_body(request: Request[Any, Any, Any]) -> None:
    try:
        body = await request.json()
    except RecursionError:  # the decoder's own limit, far deeper than ours
        raise Malformed(TOO_DEEP, levels=MAX_JSON_DEPTH) from None
    except SerializationException:
        return  # not JSON at all: the handler's parsing answers 400 with the reason
    _check_json(body, "", 0)


def _check_json(value: Any, where: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise Malformed(TOO_DEEP, levels=MAX_JSON_DEPTH)
    if isinstance(value, str):
        _check_text(where or "body", value)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
            raise InvalidInput(OUT_OF_RANGE, field=where or "body", max=BIGINT_MAX)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            _check_text(name, key)
            _check_json(item, name, depth + 1)
    elif isinstance(value, list):
        for item in value:  # named by its field, as the services name a bad item
            _check_json(item, where, depth + 1)


async def _check_form(request: Request[Any, Any, Any]) -> None:
    form = await request.form()
    try:
        for name, value in form.multi_items():
            _check_text(name, name)
            _check_text(name, value.filename if isinstance(value, UploadFile) else value)
    except InvalidInput:
        await form.close()  # the route, which would close its uploads, never runs
        raise
