"""Who may do what with shared users, generated: every person of a small world (two
B2B accounts, a B2C account, shared users, an outsider, nobody logged in) × every
shared-users operation × every shared-user id (and one that does not exist), each
answer checked against the rule: only a B2B account's main contact manages, and only
their own account's shared users (another account's id is "not found")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests import factories
from tests.accounts.opt_in_helpers import api_login

API = "/api/v1/shared-users"
NEW_PERSON = {
    "email": "new.person@example.test",
    "first_name": "New",
    "last_name": "Person",
    "language": "en",
    "client_codes": [],
}


@dataclass(frozen=True)
class Person:
    email: str | None  # None: nobody logged in
    manages: int | None  # the B2B account they are main contact of


async def small_world() -> tuple[list[Person], dict[int, int]]:
    """The people, and each shared user's id → its account's id."""
    numbers = [await factories.client_number() for _ in range(4)]
    emails = ["anna@a.example", "bert@b.example", "carl@c.example", "luc@l.example"]
    anna, bert, carl, luc = [await factories.user(email) for email in emails]
    eva = await factories.user("eva@e.example")
    await factories.user("oscar@outsider.example")
    a = await factories.account(anna, numbers[0], numbers[1])
    b = await factories.account(bert, numbers[2])
    await factories.account(carl, numbers[3], kind="b2c")
    owners = {
        await factories.shared_user(a, luc, numbers[0]): a,
        await factories.shared_user(a, eva, numbers[1]): a,
        await factories.shared_user(b, luc, numbers[2]): b,
        # Bert is also a shared user of Anna's account: managing his own does not help.
        await factories.shared_user(a, bert): a,
    }
    people = [
        Person("anna@a.example", a),
        Person("bert@b.example", b),
        Person("carl@c.example", None),
        Person("luc@l.example", None),
        Person("eva@e.example", None),
        Person("oscar@outsider.example", None),
        Person(None, None),
    ]
    return people, owners


def expected(person: Person, operation: str, owner: int | None) -> int:
    allowed = {"list": 200, "create": 201, "update": 200, "delete": 204}[operation]
    if person.email is None:
        return 401
    if person.manages is None:
        return 403
    if operation in ("list", "create"):
        return allowed
    return allowed if owner == person.manages else 404


async def test_every_person_every_operation_every_id(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    document = (await client.get("/schema/openapi.json")).json()["paths"]
    people, owners = await small_world()
    missing = max(owners) + 1000
    ids: list[int] = [*owners, missing]
    checked = 0
    for person in people:
        client.cookies.clear()
        headers = await api_login(client, person.email) if person.email else {}
        cases: list[tuple[str, str, str, Any, int | None]] = [
            ("list", "GET", API, None, None),
            ("create", "POST", API, NEW_PERSON, None),
        ]
        for shared_user_id in ids:
            path = f"{API}/{shared_user_id}"
            owner = owners.get(shared_user_id)
            cases.append(("update", "PATCH", path, {"client_codes": []}, owner))
            cases.append(("delete", "DELETE", path, None, owner))
        for operation, method, path, body, owner in cases:
            # Each case on the same world: what an allowed change did is undone.
            savepoint = await transaction.savepoint()
            answer = await client.request(method, path, json=body, headers=headers)
            await savepoint.rollback_to()
            wanted = expected(person, operation, owner)
            assert answer.status_code == wanted, (person, method, path, answer.text)
            # Every answer is one the OpenAPI document gives for the operation.
            template = API if path == API else f"{API}/{{shared_user_id}}"
            assert str(wanted) in document[template][method.lower()]["responses"], (method, path)
            if wanted >= 400:
                assert answer.json()["detail"], answer.text
            checked += 1
    print(f"shared-users authorization matrix: {checked} cases checked")
    assert checked == len(people) * (2 + 2 * len(ids))
