"""Who may see which client numbers: the one place every document query asks.

A user sees the numbers opted in to the accounts they are main contact of, and
the numbers ticked for them as a shared user. Nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from iportal.accounts.tables import ClientNumber


@dataclass(frozen=True)
class VisibleClientNumber:
    id: int
    client_code: str
    company_name: str
    account_id: int
    contract_start: date
    role: str  # "main_contact" or "shared_user"


VISIBLE_CLIENT_NUMBERS_SQL = """
SELECT cn.id, cn.client_code, cn.company_name, cn.account_id, cn.contract_start,
       'main_contact' AS role
  FROM account_membership m
  JOIN client_number cn ON cn.account_id = m.account_id
 WHERE m.user_id = {}
UNION
SELECT cn.id, cn.client_code, cn.company_name, cn.account_id, cn.contract_start,
       'shared_user' AS role
  FROM shared_user su
  JOIN client_number_grant g ON g.shared_user_id = su.id
  JOIN client_number cn ON cn.id = g.client_number_id AND cn.account_id = su.account_id
 WHERE su.user_id = {}
"""


async def visible_client_numbers(user_id: int) -> list[VisibleClientNumber]:
    """The client numbers this user may see, by client code; main contact wins over shared."""
    rows = await ClientNumber.raw(VISIBLE_CLIENT_NUMBERS_SQL, user_id, user_id)
    by_id: dict[int, VisibleClientNumber] = {}
    for row in rows:
        number = VisibleClientNumber(**row)
        if number.id not in by_id or number.role == "main_contact":
            by_id[number.id] = number
    return sorted(by_id.values(), key=lambda number: number.client_code)
