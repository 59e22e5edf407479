"""Steps 1 and 2 of the one lock order of every change to who sees what in an account
(the account row, then all its client numbers in id order, `FOR UPDATE`): the order and
why it prevents both deadlocks with publishing and write skew between two changes are
explained in `iportal.sharing.shared_users`. Opting a number in or out takes it here too.
"""

from __future__ import annotations

from collections.abc import Sequence

from iportal import db

LOCK_ACCOUNT_SQL = "SELECT id FROM account WHERE id = $1 FOR UPDATE"
LOCK_NUMBERS_SQL = """
SELECT id, client_code FROM client_number
 WHERE account_id = $1 OR id = ANY($2::int[])
 ORDER BY id FOR UPDATE
"""


async def lock_account_access(account_id: int, joining: Sequence[int] = ()) -> dict[str, int]:
    """Steps 1 and 2 inside the caller's transaction; the account's numbers (and the
    `joining` ones) by client code → id, as they are once locked."""
    await db.fetchval(LOCK_ACCOUNT_SQL, account_id)
    rows = await db.fetch(LOCK_NUMBERS_SQL, account_id, list(joining))
    return {row["client_code"]: row["id"] for row in rows}
