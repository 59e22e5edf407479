"""Who may see which client numbers.

A user sees the numbers opted in to the accounts they are main contact of, and
the numbers ticked for them as a shared user. Nothing else. The rule is one SQL
function, `entitled_client_numbers(user)`, and the database keeps its result for
every user in `visible_client_number` (and their documents in `visible_document`)
by triggers on every table it depends on: see the sharing migration
`sharing_2026_11_23t07_00_00_000000`. Every document query reads those tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from iportal.accounts.tables import ClientNumber


@dataclass(frozen=True)
class VisibleClientNumber:
    id: int
    client_code: str
    company_name: str
    contract_start: date


@dataclass(frozen=True)
class VisibleClientNumbers:
    """The client numbers a user may see, by client code, as columns: every document
    request reads them, and an accountant may see hundreds."""

    ids: tuple[int, ...]
    codes: tuple[str, ...]
    company_names: tuple[str, ...]
    contract_starts: tuple[date, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[VisibleClientNumber]:
        columns = (self.ids, self.codes, self.company_names, self.contract_starts)
        return (VisibleClientNumber(*number) for number in zip(*columns, strict=True))

    def id_of(self, client_code: str) -> int | None:
        try:
            return self.ids[self.codes.index(client_code)]
        except ValueError:
            return None


# One row of arrays (4 values to decode instead of a row per number) from the user's
# own rows, which hold each number's code and company name.
VISIBLE_CLIENT_NUMBERS_SQL = """
SELECT array_agg(v.client_number_id) AS ids, array_agg(v.client_code) AS codes,
       array_agg(v.company_name) AS company_names, array_agg(v.since) AS starts
  FROM visible_client_number v
 WHERE v.user_id = {}
"""


async def visible_client_numbers(user_id: int) -> VisibleClientNumbers:
    """The client numbers this user may see, sorted by client code."""
    row = (await ClientNumber.raw(VISIBLE_CLIENT_NUMBERS_SQL, user_id))[0]
    codes = row["codes"] or []
    # Sorted here, by code point: ordered aggregates sort once per array (PostgreSQL
    # 15), which costs more than the query itself.
    order = sorted(range(len(codes)), key=codes.__getitem__)
    return VisibleClientNumbers(
        ids=tuple(row["ids"][i] for i in order),
        codes=tuple(codes[i] for i in order),
        company_names=tuple(row["company_names"][i] for i in order),
        contract_starts=tuple(row["starts"][i] for i in order),
    )


async def visible_client_number_id(user_id: int, client_code: str) -> int | None:
    """The id of this client code if the user may see it (None for any other code)."""
    rows = await ClientNumber.raw(
        "SELECT v.client_number_id AS id FROM visible_client_number v "
        "WHERE v.user_id = {} AND v.client_code = {}",
        user_id,
        client_code,
    )
    return rows[0]["id"] if rows else None
