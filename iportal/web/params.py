"""Query parameters several APIs share, with their constraints in the OpenAPI document
as the services enforce them (a 422 in the caller's language, not Litestar's 400)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from iportal.pagination import DEFAULT_LIMIT, MAX_LIMIT

Limit = Annotated[
    int | None,
    QueryParameter(
        description=f"Items per page, 1 to {MAX_LIMIT} ({DEFAULT_LIMIT} when not given).",
        schema_extra={"minimum": 1, "maximum": MAX_LIMIT},
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(description="Where the next page starts: `next_cursor` of the last one."),
]
