"""The documents page: the list with unread rows in bold, filters on the right, any
column sorted, pages by cursor; it works without JavaScript and filters in place with
a few lines of it."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal
from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from iportal.accounts.services import SessionUser
from iportal.documents import reading
from iportal.documents.controllers._files import (
    FILTER_NAMES,
    blobs_of,
    document_item,
    duplicate_response,
    filter_values,
    filters_and_sort,
    reader_of,
    sandbox_of,
)
from iportal.documents.controllers._rows import (
    client_options,
    companies_of,
    company_names,
    company_options,
    document_rows,
)
from iportal.documents.reading import SORT_KEYS
from iportal.errors import DomainError
from iportal.i18n import N_, current_language, gettext
from iportal.sharing.services import VisibleClientNumbers, visible_client_numbers
from iportal.web.auth import LOGIN_GATE, PERSON
from iportal.web.context import client_ip
from iportal.web.inputs import BigSerialId
from iportal.web.pages import page

LIST_COLUMNS = ("client_code", "type", "number", "issue_date", "due_date", "amount_incl_vat")


def _link(query: dict[str, str | None], **changes: str | None) -> str:
    merged = {**query, **changes}
    return "/documents?" + urlencode({k: v for k, v in merged.items() if v})


def sort_links(query: dict[str, str | None], current: str) -> dict[str, dict[str, str]]:
    """Per column: the link that sorts by it (a second click reverses) and its aria-sort."""
    links = {}
    for column in SORT_KEYS:
        if current.lstrip("-") == column:
            target = column if current.startswith("-") else f"-{column}"
            state = "descending" if current.startswith("-") else "ascending"
        else:
            target = (
                f"-{column}" if column in ("issue_date", "due_date", "amount_incl_vat") else column
            )
            state = "none"
        links[column] = {"href": _link(query, sort=target, cursor=None), "aria": state}
    return links


# Beside a field on the page, a reason that does not repeat the field's API name.
FIELD_MESSAGES = {
    "amount_min": N_("“%(value)s” is not an amount. Write it like %(example)s."),
    "amount_max": N_("“%(value)s” is not an amount. Write it like %(example)s."),
    "issued_from": N_("“%(value)s” is not a date. Write it like 2026-01-31."),
    "issued_to": N_("“%(value)s” is not a date. Write it like 2026-01-31."),
}
# A large export streams for a while: the page says so beside the links.
LARGE_EXPORT = 2_000


def field_errors(problems: Mapping[str, DomainError]) -> dict[str, str]:
    """Each refused filter's reason, translated, by the name of its field."""
    return {
        name: gettext(FIELD_MESSAGES[name], **problem.params)
        if name in FIELD_MESSAGES
        else problem.translated()
        for name, problem in problems.items()
    }


def _columns(companies: Mapping[str, str] | None) -> tuple[str, ...]:
    """The list's columns: with the company after the client number for a person who
    sees several companies."""
    if companies is None:
        return LIST_COLUMNS
    return ("client_code", "company", *LIST_COLUMNS[1:])


@get("/documents", name="documents.page", include_in_schema=False)
async def documents_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    cursor: FromQuery[str | None] = None,
    partial: FromQuery[bool] = False,
) -> Template:
    reader = reader_of(user)
    typed = filter_values(request.query_params)
    try:
        filters, sort = await filters_and_sort(request.query_params, reader)
    except (reading.InvalidFilters, reading.UnknownClientCode) as refused:
        # The page again with everything the person typed and each reason beside its
        # field: nothing is listed for filters that could not be read. Under 422, or
        # 404 for a client code not theirs, as for one that does not exist.
        return await _refused(request, reader, typed, refused)
    view = await reading.list_view(reader, filters, sort, cursor, 50)
    listing = view.page
    query = {**typed, "sort": sort.name}
    companies = company_names(view.numbers)
    return page(
        request,
        "documents/results.html" if partial else "documents/list.html",
        documents=[document_item(row) for row in listing.items],
        next_link=_link(query, cursor=listing.next_cursor) if listing.next_cursor else None,
        first_link=_link(query, cursor=None) if cursor else None,
        summary=view.overview,
        large_export=view.overview.capped or view.overview.count > LARGE_EXPORT,
        filtered=any(typed.values()),
        errors={},
        **_filter_form(view.numbers, filters.client_number_ids, filters.company),
        companies=companies,
        document_rows=document_rows,
        query=query,
        sort=sort.name,
        sorts=sort_links(query, sort.name),
        export_query=urlencode({k: v for k, v in query.items() if v}),
        columns=_columns(companies),
    )


@functools.cache
def amount_example(language: str) -> str:
    """A thousand and a half as the amount filters' help writes it in `language`."""
    return format_decimal(Decimal("1000.50"), format="#,##0.00", locale=language)


def _filter_form(
    numbers: VisibleClientNumbers, chosen: tuple[int, ...] | None, company: str | None
) -> dict[str, Any]:
    companies = companies_of(numbers)
    return {
        "amount_example": amount_example(current_language.get()),
        "client_options": client_options(numbers, chosen),
        # The company filter is offered to a person who sees several companies.
        "company_options": company_options(companies, company)
        if len(companies) > 1 or company
        else None,
    }


async def _refused(
    request: Request[Any, Any, Any],
    reader: reading.Reader,
    typed: dict[str, str | None],
    refused: reading.InvalidFilters | reading.UnknownClientCode,
) -> Template:
    numbers = await visible_client_numbers(reader.user_id)
    code = (typed.get("client_code") or "").strip()
    chosen = tuple(i for i, c in zip(numbers.ids, numbers.codes, strict=True) if c == code)
    sort = request.query_params.get("sort") or ""
    if sort.lstrip("-") not in SORT_KEYS:
        sort = ""
    return page(
        request,
        "documents/list.html",
        status_code=refused.status_code,
        errors=field_errors(refused.problems),
        query={**typed, "sort": sort},
        sort=sort,
        **_filter_form(numbers, tuple(chosen), (typed.get("company") or "").strip() or None),
    )


@post("/documents/mark-read", name="documents.page_mark_read", include_in_schema=False)
async def mark_read_form(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Redirect:
    reader = reader_of(user)
    form = await request.form()
    # ASCII digits only: "²" is a digit to Python but no number to int().
    ids = [int(v) for v in map(str, form.getall("ids", [])) if v.isascii() and v.isdigit()]
    await reading.mark_read(reader, ids)
    back = {name: form.get(name) for name in (*FILTER_NAMES, "sort")}
    return Redirect(
        path=_link({k: str(v) if v else None for k, v in back.items()}), status_code=303
    )


@post(
    "/documents/{document_id:int}/duplicate",
    name="documents.page_duplicate",
    include_in_schema=False,
    status_code=200,
)
async def duplicate_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    document_id: FromPath[BigSerialId],
) -> Response[bytes]:
    return await duplicate_response(request, user, document_id)


@get("/documents/{document_id:int}", name="documents.page_view", include_in_schema=False)
async def document_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    document_id: FromPath[BigSerialId],
) -> Template:
    """A structured document as a person reads it, from its XML, in their language;
    404 for what is not theirs, as for what does not exist, and for one without XML."""
    document, invoice = await reading.readable_document(
        reader_of(user),
        document_id,
        blobs_of(request),
        sandbox_of(request),
        current_language.get(),
        client_ip(request),
    )
    return page(request, "documents/view.html", document=document_item(document), invoice=invoice)


page_router = Router(
    path="/",
    route_handlers=[documents_page, document_page, mark_read_form, duplicate_form],
    guards=LOGIN_GATE,
    dependencies=PERSON,
)
