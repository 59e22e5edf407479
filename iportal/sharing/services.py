"""Who may see which client numbers: the one place every document query asks.

A user sees the numbers opted in to the accounts they are main contact of, and
the numbers ticked for them as a shared user. Nothing else.
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


# One row of arrays: 4 values to decode instead of a row per number. A number seen
# both as main contact and as shared user counts once.
VISIBLE_CLIENT_NUMBERS_SQL = """
SELECT array_agg(v.id) AS ids, array_agg(v.client_code) AS codes,
       array_agg(v.company_name) AS company_names, array_agg(v.contract_start) AS starts
  FROM (SELECT cn.id, cn.client_code, cn.company_name, cn.contract_start
          FROM account_membership m
          JOIN client_number cn ON cn.account_id = m.account_id
         WHERE m.user_id = {}
        UNION
        SELECT cn.id, cn.client_code, cn.company_name, cn.contract_start
          FROM shared_user su
          JOIN client_number_grant g ON g.shared_user_id = su.id
          JOIN client_number cn ON cn.id = g.client_number_id AND cn.account_id = su.account_id
         WHERE su.user_id = {}) v
"""


async def visible_client_numbers(user_id: int) -> VisibleClientNumbers:
    """The client numbers this user may see, sorted by client code."""
    row = (await ClientNumber.raw(VISIBLE_CLIENT_NUMBERS_SQL, user_id, user_id))[0]
    codes = row["codes"] or []
    # Sorted here, by code point, rather than by the database's collation, which
    # costs more than the query itself.
    order = sorted(range(len(codes)), key=codes.__getitem__)
    return VisibleClientNumbers(
        ids=tuple(row["ids"][i] for i in order),
        codes=tuple(codes[i] for i in order),
        company_names=tuple(row["company_names"][i] for i in order),
        contract_starts=tuple(row["starts"][i] for i in order),
    )
