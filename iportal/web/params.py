"""Query parameters several APIs share, with their constraints in the OpenAPI document
as the services enforce them (a 422 in the caller's language, not Litestar's 400)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import KwargDefinition, QueryParameter

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

# A text field the service refuses empty (with its own 4xx and message): documented as
# such, and left to the service to refuse, so the caller reads the service's reason.
NonEmpty = Annotated[str, KwargDefinition(min_length=1)]
