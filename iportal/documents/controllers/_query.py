"""The list's query string, declared parameter by parameter so that the OpenAPI
document shows every filter of the list, its count and its exports.

Each is taken as text and read by `reading.parse_filters`, which answers a value it
cannot read with a 422 that names the field, in the caller's language."""

from __future__ import annotations

from typing import Annotated

from litestar.di import Provide
from litestar.params import QueryParameter

ListQuery = dict[str, str | None]
AMOUNTS = (
    "Written as people write it: `1234.56`, or in the caller's language (`1.234,56` or "
    "`1 234,56` in nl, fr, de; `1,234.56` in en). A `.` or `,` followed by one or two "
    "digits is the decimal mark; `1.000` is a thousand in nl, fr and de and one in en."
)


async def list_query(
    client_code: Annotated[
        str | None, QueryParameter(name="client_code", description="One client code (DL20012345).")
    ] = None,
    company: Annotated[
        str | None,
        QueryParameter(
            name="company",
            description="A company name, exactly as the list shows it beside its client "
            "numbers; a company the caller does not see gives an empty list.",
        ),
    ] = None,
    kind: Annotated[
        str | None, QueryParameter(name="type", description="`invoice` or `credit_note`.")
    ] = None,
    number: Annotated[
        str | None,
        QueryParameter(
            name="number",
            description="A document number; `F2024*` for a prefix. Upper and lower case "
            "are the same (`f2024*` finds F2024-001).",
        ),
    ] = None,
    number_prefix: Annotated[
        str | None,
        QueryParameter(
            name="number_prefix",
            description="The start of the number, whatever its case (a `*` after it is allowed).",
        ),
    ] = None,
    issued_from: Annotated[
        str | None, QueryParameter(name="issued_from", description="First issue date (YYYY-MM-DD).")
    ] = None,
    issued_to: Annotated[
        str | None, QueryParameter(name="issued_to", description="Last issue date (YYYY-MM-DD).")
    ] = None,
    amount_min: Annotated[
        str | None,
        QueryParameter(name="amount_min", description="Least amount including VAT. " + AMOUNTS),
    ] = None,
    amount_max: Annotated[
        str | None,
        QueryParameter(name="amount_max", description="Greatest amount including VAT. " + AMOUNTS),
    ] = None,
    unread: Annotated[
        str | None, QueryParameter(name="unread", description="`true`: only documents not opened.")
    ] = None,
    sort: Annotated[
        str | None,
        QueryParameter(
            name="sort",
            description="A column (issue_date, due_date, amount_incl_vat, number, type, "
            "client_code, company); `-` before it for descending.",
        ),
    ] = None,
) -> ListQuery:
    return {
        "client_code": client_code,
        "company": company,
        "type": kind,
        "number": number,
        "number_prefix": number_prefix,
        "issued_from": issued_from,
        "issued_to": issued_to,
        "amount_min": amount_min,
        "amount_max": amount_max,
        "unread": unread,
        "sort": sort,
    }


LIST_QUERY = {"selection": Provide(list_query)}
