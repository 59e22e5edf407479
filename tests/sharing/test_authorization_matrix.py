"""Who may reach what, generated from the rules rather than written case by case.

A small world holds every kind of person the rules tell apart: a B2B account with
three numbers, a B2C account, two companies sharing with the same accountant, a
colleague, a shared user who was removed, a main contact whose only number went back
to paper, a shared user ticked on nothing, one whose access has ended, an outsider and
nobody at all. Each of them, through a browser session and through a personal token,
calls every operation and page that takes a document id, a client code or a shared-user
id, on every object of the world and on ones that do not exist. `Model` says what the
rules allow; the test checks each answer against it, prints how many cases it checked,
and checks that every denied object answers byte for byte like one that does not exist.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from iportal.accounts.services import create_api_key
from iportal.documents.storage import FolderBlobStore
from iportal.sharing import services as sharing
from iportal.sharing import shared_users
from iportal.sharing.tables import SharedUser
from tests import factories
from tests.accounts.opt_in_helpers import api_login
from tests.helpers import csrf_from

MISSING_DOCUMENT = 2_000_000_000
MISSING_CODE = "MX99999999"
# Issue dates: two recent, one with XML, one older than the seven years shown, one
# before the number's contract start (2021-01-01) but inside the seven years.
DOCUMENTS = (
    ("recent", date(2026, 3, 1), False),
    ("older", date(2025, 6, 30), False),
    ("xml", date(2024, 5, 1), True),
    ("too-old", date(2018, 1, 15), False),
    ("before-contract", date(2020, 6, 1), False),
)
CONTRACT_START = date(2021, 1, 1)
OLDEST_SHOWN = date(2019, 12, 31)
UBL = b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
XML = b'<?xml version="1.0"?><Invoice xmlns="' + UBL + b'"/>'


@dataclass
class Model:
    """The world as the rules see it."""

    numbers: dict[str, int | None] = field(default_factory=dict)  # code -> account (None: paper)
    kind: dict[int, str] = field(default_factory=dict)  # account -> b2b / b2c
    main: dict[int, str] = field(default_factory=dict)  # account -> person
    grants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # person -> codes
    shared: dict[int, int] = field(default_factory=dict)  # shared-user id -> account
    documents: dict[int, tuple[str, date, bool]] = field(
        default_factory=dict
    )  # id -> code, day, xml

    def manages(self, person: str, code: str) -> bool:
        account = self.numbers.get(code)
        return account is not None and self.main.get(account) == person

    def sees_number(self, person: str, code: str) -> bool:
        # A grant counts only while the number is in an account (it ends on opt-out).
        return self.manages(person, code) or (
            code in self.grants[person] and self.numbers.get(code) is not None
        )

    def sees_document(self, person: str, document_id: int) -> bool:
        if document_id not in self.documents:
            return False
        code, day, _ = self.documents[document_id]
        return self.sees_number(person, code) and day >= CONTRACT_START and day > OLDEST_SHOWN

    def visible_documents(self, person: str, code: str) -> set[int]:
        return {
            d
            for d, (c, _, _) in self.documents.items()
            if c == code and self.sees_document(person, d)
        }

    def b2b_account(self, person: str) -> int | None:
        return next(
            (a for a, p in self.main.items() if p == person and self.kind[a] == "b2b"), None
        )


PEOPLE = ("anna", "bert", "carl", "luc", "eva", "rita", "olga", "fay", "xavier", "oscar")


async def build_world(settings: Any) -> Model:
    model = Model()
    store = FolderBlobStore(settings.blob_dir)
    pdf_hash = await store.put(factories.invoice_pdf("F-MATRIX"))
    xml_hash = await store.put(XML)
    issuer = await factories.issuer("MX", "Matrix Lease NV")
    ids: dict[str, int] = {}
    for n in range(1, 8):
        code = f"MX000000{n}"
        ids[code] = await factories.client_number(issuer, code, contract_start=CONTRACT_START)
        for label, day, with_xml in DOCUMENTS:
            document_id = await factories.document(
                ids[code],
                number=f"{code}-{label}",
                issue_date=day,
                pdf_blob_hash=pdf_hash,
                xml_blob_hash=xml_hash if with_xml else None,
                structured_kind="ubl" if with_xml else "none",
            )
            model.documents[document_id] = (code, day, with_xml)
    person = {name: await factories.user(f"{name}@matrix.example") for name in PEOPLE}
    a = await factories.account(
        person["anna"], ids["MX0000001"], ids["MX0000002"], ids["MX0000003"], ids["MX0000006"]
    )
    b = await factories.account(person["bert"], ids["MX0000004"])
    c = await factories.account(person["carl"], ids["MX0000005"], kind="b2c")
    d = await factories.account(person["olga"], ids["MX0000007"])
    model.kind.update({a: "b2b", b: "b2b", c: "b2c", d: "b2b"})
    model.main.update({a: "anna", b: "bert", c: "carl", d: "olga"})
    for code, account in (("1", a), ("2", a), ("3", a), ("6", a), ("4", b), ("5", c), ("7", d)):
        model.numbers[f"MX000000{code}"] = account

    async def share(account: int, name: str, *codes: str) -> int:
        shared_user_id = await factories.shared_user(
            account, person[name], *(ids[c] for c in codes)
        )
        model.shared[shared_user_id] = account
        model.grants[name].update(codes)
        return shared_user_id

    # Luc is the accountant of two companies; Eva a colleague; Fay is ticked on nothing.
    await share(a, "luc", "MX0000001")
    await share(b, "luc", "MX0000004")
    await share(a, "eva", "MX0000002", "MX0000006")
    await share(b, "fay")
    # Xavier's access ended yesterday: his grant is still there, and shows nothing.
    xavier = await share(b, "xavier", "MX0000004")
    model.grants["xavier"].clear()
    await SharedUser.raw(
        "UPDATE shared_user SET access_until = {} WHERE id = {}",
        date.today() - timedelta(days=2),
        xavier,
    )
    rita = await share(a, "rita", "MX0000003")
    await shared_users.delete_shared_user(person["anna"], rita)
    del model.shared[rita]
    model.grants["rita"].clear()
    # Back to paper: one of Anna's numbers (Eva had it), and Olga's only number.
    for owner, code in (("anna", "MX0000006"), ("olga", "MX0000007")):
        await sharing.opt_out(person[owner], code)
        model.numbers[code] = None
    model.shared[rita] = -1  # an id that existed: now as unknown as any other
    return model


@dataclass(frozen=True)
class Case:
    operation: str
    method: str
    path: str
    obj: str  # the id or code in the path or query, replaced when comparing bodies
    body: Any = None
    form: bool = False


def document_cases(document_id: int, pages: bool) -> Iterator[Case]:
    api = f"/api/v1/documents/{document_id}"
    obj = str(document_id)
    yield Case("detail", "GET", api, obj)
    yield Case("pdf", "GET", f"{api}/pdf", obj)
    yield Case("xml", "GET", f"{api}/xml", obj)
    yield Case("duplicate", "POST", f"{api}/duplicate", obj)
    yield Case("mark-read", "POST", "/api/v1/documents/mark-read", obj, {"ids": [document_id]})
    if pages:
        yield Case("page-duplicate", "POST", f"/documents/{document_id}/duplicate", obj, form=True)
        yield Case("page-view", "GET", f"/documents/{document_id}", obj)


def code_cases(code: str, pages: bool) -> Iterator[Case]:
    yield Case("list", "GET", f"/api/v1/documents?client_code={code}&limit=100", code)
    yield Case("summary", "GET", f"/api/v1/documents/summary?client_code={code}", code)
    yield Case("export-csv", "GET", f"/api/v1/documents/export.csv?client_code={code}", code)
    yield Case(
        "number-patch",
        "PATCH",
        f"/api/v1/client-numbers/{code}",
        code,
        {"notifications_enabled": False},
    )
    yield Case("opt-out", "POST", f"/api/v1/client-numbers/{code}/opt-out", code)
    forwarding = f"/api/v1/client-numbers/{code}/forwarding-addresses"
    yield Case("forwarding-list", "GET", forwarding, code)
    if pages:
        yield Case("page-list", "GET", f"/documents?client_code={code}", code)
        yield Case("page-opt-out", "GET", f"/client-numbers/{code}/opt-out", code)
        yield Case(
            "page-notifications", "POST", f"/client-numbers/{code}/notifications", code, form=True
        )
        yield Case("page-number-sharing", "GET", f"/client-numbers/{code}/shared-users", code)


def shared_user_cases(shared_user_id: int) -> Iterator[Case]:
    path = f"/api/v1/shared-users/{shared_user_id}"
    yield Case("shared-update", "PATCH", path, str(shared_user_id), {"client_codes": []})
    yield Case("shared-delete", "DELETE", path, str(shared_user_id))
    body = {"shared_user_id": shared_user_id}
    yield Case("hand-over", "POST", "/api/v1/account/main-contact", str(shared_user_id), body)


def shared_user_pages(shared_user_id: int) -> Iterator[Case]:
    yield Case("page-shared-user", "GET", f"/shared-users/{shared_user_id}", str(shared_user_id))


def expected(model: Model, person: str | None, via: str, case: Case) -> int:
    """The status the rules give; 0 for "200, and the content is checked"."""
    if person is None:
        # A page asked for is the login page's job; anything else is refused.
        page = not case.path.startswith("/api/")
        return 303 if page and case.method == "GET" else 401
    if via == "token" and case.method not in ("GET", "HEAD"):
        return 403  # personal tokens only read
    op, obj = case.operation, case.obj
    if op in ("detail", "pdf", "duplicate", "page-duplicate"):
        return 200 if model.sees_document(person, int(obj)) else 404
    if op in ("xml", "page-view"):
        seen = model.sees_document(person, int(obj))
        return 200 if seen and model.documents[int(obj)][2] else 404
    if op == "mark-read":
        return 0
    if op in ("list", "summary", "export-csv", "page-list"):
        # A filter on a number one may not see is refused like an unknown one.
        return 0 if model.sees_number(person, obj) else 404
    if op in ("number-patch", "page-notifications"):
        # Each person's own switch: whoever sees the number sets theirs.
        if model.sees_number(person, obj):
            return 303 if op == "page-notifications" else 200
        return 404
    if op in ("opt-out", "page-opt-out"):
        if model.manages(person, obj):
            return 200
        return 403 if model.sees_number(person, obj) else 404
    if op == "forwarding-list":
        return 200 if model.sees_number(person, obj) else 404
    if op == "page-number-sharing":
        # Who sees a number is the business main contact's to see and change.
        if model.manages(person, obj):
            return 200 if model.kind[model.numbers[obj] or 0] == "b2b" else 403
        return 403 if model.sees_number(person, obj) else 404
    if op in ("shared-update", "shared-delete", "hand-over", "page-shared-user"):
        mine = model.b2b_account(person)
        if mine is None:
            return 403
        if model.shared.get(int(obj)) != mine:
            return 404
        return {"shared-update": 200, "shared-delete": 204, "hand-over": 202}.get(op, 200)
    raise AssertionError(op)


def check_content(model: Model, person: str, case: Case, answer: httpx.Response) -> None:
    assert answer.status_code == 200, (person, case, answer.text)
    if case.operation == "mark-read":
        seen = model.sees_document(person, int(case.obj))
        assert answer.json()["marked"] == int(seen), (person, case, answer.text)
        return
    wanted = model.visible_documents(person, case.obj)
    numbers = {f"{case.obj}-{label}" for label, _, _ in DOCUMENTS}
    if case.operation == "list":
        assert {item["id"] for item in answer.json()["items"]} == wanted, (person, case)
    elif case.operation == "summary":
        assert answer.json()["count"] == len(wanted), (person, case, answer.text)
    else:  # the CSV export and the documents page name exactly the visible documents
        shown = {n for n in numbers if n in answer.text}
        assert shown == {f"{case.obj}-{label_of(model, d)}" for d in wanted}, (person, case)


def label_of(model: Model, document_id: int) -> str:
    _, day, _ = model.documents[document_id]
    return next(label for label, d, _ in DOCUMENTS if d == day)


def denied(model: Model, person: str | None, case: Case) -> bool:
    """Whether the rules keep this object from this person (as if it did not exist)."""
    if person is None:
        return False
    documents = ("detail", "pdf", "xml", "duplicate", "page-duplicate", "page-view", "mark-read")
    if case.operation in documents:
        return not model.sees_document(person, int(case.obj))
    if case.operation.startswith("shared-") or case.operation in ("hand-over", "page-shared-user"):
        return model.b2b_account(person) is not None and model.shared.get(int(case.obj)) != (
            model.b2b_account(person)
        )
    return not model.sees_number(person, case.obj)


def difference(first: bytes, second: bytes) -> str:
    lines = difflib.unified_diff(first.decode().splitlines(), second.decode().splitlines())
    return "\n".join(lines)


def anonymised(case: Case, answer: httpx.Response) -> bytes:
    """The answer's body with the asked-for client code replaced (a refusal may name
    the code that was asked for): what a denied object's answer must equal for a
    missing one."""
    path = case.path.split("?")[0].encode()
    content = answer.content.replace(path, b"<path>")  # pages link to themselves
    if case.obj.isdigit():
        return content  # no answer names an id: it must be the same bytes
    return content.replace(case.obj.encode(), b"<obj>")


async def identities(client: httpx.AsyncClient) -> dict[tuple[str | None, str], dict[str, str]]:
    """Every person's headers through a session and through a personal token."""
    found: dict[tuple[str | None, str], dict[str, str]] = {(None, "none"): {}}
    for name in PEOPLE:
        csrf = await api_login(client, f"{name}@matrix.example")
        created = await client.post("/api/v1/me/tokens", json={"name": "matrix"}, headers=csrf)
        assert created.status_code == 201, created.text
        found[(name, "token")] = {"Authorization": f"Bearer {created.json()['token']}"}
    client.cookies.clear()
    return found


async def call(
    client: httpx.AsyncClient, case: Case, headers: dict[str, str], form_token: str
) -> httpx.Response:
    if case.form:
        return await client.request(
            case.method, case.path, data={"csrf_token": form_token, "enabled": "0"}, headers=headers
        )
    return await client.request(case.method, case.path, json=case.body, headers=headers)


async def test_every_person_every_operation_every_object(
    client: httpx.AsyncClient, transaction: Any, settings: Any
) -> None:
    model = await build_world(settings)
    tokens = await identities(client)
    codes = [*model.numbers, MISSING_CODE]
    documents = [*model.documents, MISSING_DOCUMENT]
    shared_ids = [*model.shared, max(model.shared) + 1000]
    missing = {MISSING_CODE, str(MISSING_DOCUMENT), str(max(model.shared) + 1000)}
    checked = 0
    denied_bodies: dict[tuple[str | None, str, str], set[bytes]] = defaultdict(set)
    for name in (*PEOPLE, None):
        for via in ("session", "token") if name else ("none",):
            client.cookies.clear()
            headers, form_token = dict(tokens.get((name, via), {})), ""
            if via == "session":
                headers = await api_login(client, f"{name}@matrix.example")
                form_token = csrf_from((await client.get("/me")).text)
            pages = via != "token"
            cases = [
                *(c for d in documents for c in document_cases(d, pages)),
                *(c for code in codes for c in code_cases(code, pages)),
                *(c for s in shared_ids for c in shared_user_cases(s)),
                *(c for s in shared_ids if pages for c in shared_user_pages(s)),
            ]
            for case in cases:
                savepoint = await transaction.savepoint()
                answer = await call(client, case, headers, form_token)
                await savepoint.rollback_to()
                wanted = expected(model, name, via, case)
                if wanted == 0:
                    check_content(model, str(name), case, answer)
                else:
                    assert answer.status_code == wanted, (name, via, case, answer.text[:300])
                # (A token's writes are refused before any object is looked at.)
                readable = via != "token" or case.method == "GET"
                if readable and (case.obj in missing or denied(model, name, case)):
                    denied_bodies[(name, via, case.operation)].add(anonymised(case, answer))
                checked += 1
    print(f"authorization matrix: {checked} (person, operation, object) cases checked")
    assert checked >= 5000
    # A denied object and a missing one answer alike, for every person and operation.
    for key, bodies in denied_bodies.items():
        first, second, *_ = [*bodies, b""]
        assert len(bodies) == 1, (key, difference(first, second))


def issuer_cases(code: str) -> Iterator[Case]:
    body = {
        "company_name": "Matrix Client BV",
        "email": "billing@client.example",
        "first_name": "Ann",
        "last_name": "Client",
        "language": "nl",
        "contract_start": "2021-01-01",
    }
    yield Case("issuer-put", "PUT", f"/api/v1/issuer/client-numbers/{code}", code, body)
    yield Case(
        "issuer-code", "POST", f"/api/v1/issuer/client-numbers/{code}/activation-codes", code
    )
    yield Case("issuer-list", "GET", f"/api/v1/issuer/documents?client_code={code}", code)


def issuer_expected(model: Model, prefix: str | None, case: Case) -> int:
    if prefix is None:
        return 401
    if not case.obj.startswith(prefix):
        return 404  # another issuer's number is as unknown as a number never made
    exists = case.obj in model.numbers
    if case.operation == "issuer-put":
        return 200 if exists else 201
    if case.operation == "issuer-code":
        # Paper or not, an existing number of the issuer gets a code; else unknown.
        return 201 if exists else 404
    return 200 if exists else 404


async def test_an_issuer_reaches_its_own_numbers_only(
    client: httpx.AsyncClient, transaction: Any, settings: Any
) -> None:
    model = await build_world(settings)
    keys: dict[str | None, dict[str, str]] = {None: {}}
    # The world's issuer (MX) and one of another prefix (MY), each with its key.
    keys["MX"] = {"Authorization": f"Bearer {await create_api_key('MX', 'matrix')}"}
    await factories.issuer("MY", "Other Lease NV")
    keys["MY"] = {"Authorization": f"Bearer {await create_api_key('MY', 'matrix')}"}
    codes = [*model.numbers, "MX00000099", "MY00000001"]
    checked = 0
    bodies: dict[tuple[str | None, str], set[bytes]] = defaultdict(set)
    for prefix, headers in (*keys.items(), ("person", {})):
        client.cookies.clear()
        if prefix == "person":  # a person's session is no issuer key
            headers = await api_login(client, "anna@matrix.example")
        for case in (c for code in codes for c in issuer_cases(code)):
            savepoint = await transaction.savepoint()
            answer = await client.request(case.method, case.path, json=case.body, headers=headers)
            await savepoint.rollback_to()
            wanted = issuer_expected(model, None if prefix == "person" else prefix, case)
            assert answer.status_code == wanted, (prefix, case, answer.text[:300])
            if wanted == 404:
                bodies[(prefix, case.operation)].add(anonymised(case, answer))
            checked += 1
    print(f"issuer authorization matrix: {checked} cases checked")
    assert checked == 4 * len(codes) * 3
    for key, found in bodies.items():
        assert len(found) == 1, (key, found)
