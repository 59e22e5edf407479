"""The document list at size: the JSON API against the bare SQL floor, query by query.

    .venv/bin/python bench/documents.py [--documents 2000000] [--runs 50] [--keep]

Loads (COPY) 2,000,000 documents over 20,000 client numbers of one issuer, issued over
the last eight years (so an eighth falls out of the seven-year window), about 10 %
credit notes; an accountant who is a shared user of an account holding 200 numbers
(30 % of what they see is read) and a main contact with 3 numbers. Then it starts a
real `iportal serve` and times each query through the API with a warm keep-alive
client (a plain socket: httpx alone costs ~1 ms a request here), and its floor: the same
page or count SQL (`iportal.documents.reading.listing`, on the per-user
`visible_document`) run bare through asyncpg, prepared, with custom plans. EXPLAIN
(ANALYZE, BUFFERS) of every floor statement goes to bench/out/documents-explain.txt.
`--keep` keeps the database (`iportal_bench_documents`, or `--database NAME`) and reuses
it on the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _documents_data import ACCOUNTANT, MAIN_CONTACT, load, stamp
from _portal import (
    SERVER_DSN,
    KeepAlive,
    Server,
    create_database,
    database_comment,
    database_url,
    drop_database,
    log_in,
    machine_load,
    markdown_table,
    median_p95,
    migrate,
    portal_env,
)

from iportal.documents.reading import parse_filters, reader_for
from iportal.documents.reading.listing import (
    COUNT_CAP,
    Sort,
    count_query,
    decode_cursor_values,
    page_query,
)
from iportal.pagination import decode_cursor

NAME = "iportal_bench_documents"
OUT = Path(__file__).resolve().parent / "out"
SEQ_SCAN_ON_DOCUMENT = re.compile(r"Seq Scan on document\b")
COMPANY = "{company}"


@dataclass(frozen=True)
class Query:
    name: str
    what: str
    params: dict[str, str] = field(default_factory=dict)
    user: str = ACCOUNTANT
    path: str = "/api/v1/documents"
    page: int = 1  # which page, reached by following next_cursor


QUERIES = (
    Query("Q1", "first page, newest first"),
    Query("Q2", "type = credit note", {"type": "credit_note"}),
    Query("Q3", "amount 500–1,000", {"amount_min": "500", "amount_max": "1000"}),
    Query("Q4", "number F2024-1*", {"number": "F2024-1*"}),
    Query("Q5", "issued in 2024", {"issued_from": "2024-01-01", "issued_to": "2024-12-31"}),
    Query(
        "Q6",
        "invoice, ≥ 250, 2024",
        {
            "type": "invoice",
            "amount_min": "250",
            "issued_from": "2024-01-01",
            "issued_to": "2024-12-31",
        },
    ),
    Query("Q7", "sort by amount", {"sort": "-amount_incl_vat"}),
    Query("Q8", "page 50 by cursor", page=50),
    Query("Q9", "unread only", {"unread": "true"}),
    Query("Q10", "count (summary)", path="/api/v1/documents/summary"),
    Query("Q11", "main contact, first page", user=MAIN_CONTACT),
    # One of the accountant's companies, by its name (filled in once the data is there).
    Query("Q12", "company = one of 200", {"company": COMPANY}),
)


@dataclass
class Result:
    query: Query
    api: tuple[float, float]
    server: float  # median ms the server itself logged (request log), without HTTP
    floor: tuple[float, float]
    plan: str

    @property
    def ratio(self) -> float:
        return self.api[1] / self.floor[1]

    @property
    def met(self) -> bool:
        return self.api[1] <= 3 * self.floor[1] and self.api[1] <= 10

    @property
    def seq_scan(self) -> bool:
        return bool(SEQ_SCAN_ON_DOCUMENT.search(self.plan))


Params = dict[str, str | None]
LOGGED_MS = re.compile(r"path=(\S+) status=\d+ ms=([\d.]+)")


@dataclass
class Bench:
    """The running portal, a bare asyncpg connection beside it, and who is logged in."""

    server: Server
    db: asyncpg.Connection
    run: Callable[[Coroutine[Any, Any, Any]], Any]
    runs: int
    clients: dict[str, KeepAlive]
    user_ids: dict[str, int]
    today: date
    company: str  # the name of the accountant's first client number

    def sql(self, query: Query, params: Params) -> tuple[str, list[Any]]:
        """The statement the API runs for this query, as asyncpg takes it."""
        reader = reader_for(self.user_ids[query.user], self.today)
        filters = self.run(parse_filters(reader, params))  # no client code: no query
        if query.path.endswith("/summary"):
            sql = count_query(reader.scope, filters)
        else:
            sort = Sort.parse(params.get("sort"))
            raw = decode_cursor(params.get("cursor"))
            after = None if raw is None else decode_cursor_values(sort, raw)
            sql = page_query(reader.scope, filters, sort, after, 50)
        text, args = sql.text, sql.args
        return text, list(args)

    def time_api(self, client: KeepAlive, path: str, params: Params) -> float:
        started = time.perf_counter()
        status, _ = client.get(path, params)
        elapsed = time.perf_counter() - started
        assert status == 200, (path, params, status)
        return elapsed

    async def time_floor(self, statement: asyncpg.PreparedStatement, args: list[Any]) -> float:
        started = time.perf_counter()
        await statement.fetch(*args)
        return time.perf_counter() - started

    def logged_ms(self, path: str, since: int) -> float:
        time.sleep(0.1)  # the request log line follows the response
        found = [
            float(m[2])
            for line in self.server.lines[since:]
            if (m := LOGGED_MS.search(line)) and m[1] == path
        ]
        return statistics.median(found[-self.runs :])

    def measure(self, query: Query) -> Result:
        """API and floor in turns, five of each to warm up, so both meet the same load."""
        client = self.clients[query.user]
        params: Params = {k: self.company if v == COMPANY else v for k, v in query.params.items()}
        for _ in range(query.page - 1):
            params["cursor"] = client.json(query.path, params)["next_cursor"]
        text, args = self.sql(query, params)
        statement = self.run(self.db.prepare(text))
        since = len(self.server.lines)
        api, floor = [], []
        for _ in range(self.runs + 5):
            api.append(self.time_api(client, query.path, params))
            floor.append(self.run(self.time_floor(statement, args)))
        self.check(query, params, self.run(statement.fetch(*args)))
        plan = self.run(self.db.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {text}", *args))
        return Result(
            query,
            median_p95(api[5:]),
            self.logged_ms(query.path, since),
            median_p95(floor[5:]),
            "\n".join(row[0] for row in plan),
        )

    def check(self, query: Query, params: Params, rows: list[Any]) -> None:
        """The floor returns what the API returns."""
        answer = self.clients[query.user].json(query.path, params)
        if "count" in answer:
            assert answer["count"] == min(rows[0]["n"], COUNT_CAP), (answer, rows[0])
        else:
            assert [item["id"] for item in answer["items"]] == [r["id"] for r in rows[:50]]

    def page(self) -> tuple[tuple[float, float], float, tuple[float, float]]:
        """The HTML page of Q1 in turns with Q1's API, so both meet the same load:
        the page's client-side median and p95, its logged median, and the API's median
        and p95 in the same turns."""
        client = self.clients[ACCOUNTANT]
        since = len(self.server.lines)
        pages, api = [], []
        for _ in range(self.runs + 5):
            pages.append(self.time_api(client, "/documents", {}))
            api.append(self.time_api(client, "/api/v1/documents", {}))
        return median_p95(pages[5:]), self.logged_ms("/documents", since), median_p95(api[5:])


async def visible(url: str, user_id: int, today: date) -> str:
    scope = reader_for(user_id, today).scope
    connection = await asyncpg.connect(url)
    try:
        numbers, documents, read = await connection.fetchrow(
            "SELECT count(DISTINCT v.client_number_id), count(*), count(r.id) "
            "FROM visible_document v LEFT JOIN document_read_mark r "
            "ON r.document_id = v.document_id AND r.user_id = v.user_id "
            "WHERE v.user_id = $1 AND v.issue_date >= $2 AND still_visible(v.access_ends_at)",
            user_id,
            scope.oldest,
        )
    finally:
        await connection.close()
    return f"{numbers} client numbers, {documents:,} documents ({read:,} read)"


def report(
    results: list[Result],
    page: tuple[tuple[float, float], float, tuple[float, float]],
    explain: Path,
) -> None:
    rows = [
        [
            r.query.name,
            r.query.what,
            f"{r.api[0]:.2f} / {r.api[1]:.2f}",
            f"{r.server:.2f}",
            f"{r.floor[0]:.2f} / {r.floor[1]:.2f}",
            f"{r.ratio:.1f}×",
            "yes" if r.met else "**no**",
            "yes" if r.seq_scan else "no",
        ]
        for r in results
    ]
    header = [
        "query",
        "what",
        "API median / p95 ms",
        "server median ms",
        "floor median / p95 ms",
        "ratio p95",
        "target met",
        "seq scan on document",
    ]
    print(markdown_table(header, rows))
    (median, p95), server, beside = page
    first = results[0].api
    print(
        f"\nHTML page /documents (Q1): median {median:.2f} ms, p95 {p95:.2f} ms (server median "
        f"{server:.2f} ms) = {p95 / beside[1]:.1f}× the API's p95 timed in turns with it "
        f"({beside[0]:.2f} / {beside[1]:.2f} ms; target ≤ 2×: "
        f"{'met' if p95 <= 2 * beside[1] else 'missed'}); {p95 / first[1]:.1f}× Q1's p95 above"
    )
    scans = [r.query.name for r in results if r.seq_scan]
    others = sorted({m for r in results for m in re.findall(r"Seq Scan on (\w+)", r.plan)})
    print(
        f"EXPLAIN (ANALYZE, BUFFERS) in {explain}: sequential scan on document in "
        f"{', '.join(scans) if scans else 'none'}; sequential scans at all: "
        f"{', '.join(others) if others else 'none'}"
    )


def measure_all(runner: asyncio.Runner, url: str, data: Path, runs: int, what: str) -> None:
    """Starts the server, times every query and the page, prints the tables."""
    today = date.today()
    # The same session settings as the portal's engine (iportal.db): custom plans, no JIT.
    settings = {"plan_cache_mode": "force_custom_plan", "jit": "off"}
    db = runner.run(asyncpg.connect(url, server_settings=settings))
    load_before = machine_load()
    with Server(portal_env(url, data)) as server:
        clients: dict[str, KeepAlive] = {}
        for email in (ACCOUNTANT, MAIN_CONTACT):
            with httpx.Client(base_url=server.url) as login:
                log_in(login, email)
                clients[email] = KeepAlive(server.url, dict(login.cookies))
        ids = {
            e: runner.run(db.fetchval("SELECT id FROM portal_user WHERE email = $1", e))
            for e in clients
        }
        company = runner.run(
            db.fetchval(
                "SELECT company_name FROM visible_client_number WHERE user_id = $1 "
                "ORDER BY client_code LIMIT 1",
                ids[ACCOUNTANT],
            )
        )
        bench = Bench(server, db, runner.run, runs, clients, ids, today, company)
        results = [bench.measure(query) for query in QUERIES]
        page = bench.page()
        for client in clients.values():
            client.close()
    runner.run(db.close())
    explain = OUT / "documents-explain.txt"
    OUT.mkdir(exist_ok=True)
    explain.write_text("\n\n".join(f"-- {r.query.name} {r.query.what}\n{r.plan}" for r in results))
    print(
        f"\n{today}, {os.cpu_count()} cores, {what}; the accountant sees "
        f"{runner.run(visible(url, ids[ACCOUNTANT], today))}; {runs} runs each; "
        f"{load_before} before, {machine_load()} after\n"
    )
    report(results, page, explain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-dsn", default=SERVER_DSN)
    parser.add_argument("--documents", type=int, default=2_000_000)
    parser.add_argument("--numbers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the database for reruns")
    parser.add_argument("--database", default=NAME, help=f"the database's name ({NAME})")
    args = parser.parse_args()
    name = args.database
    url = database_url(args.server_dsn, name)
    loaded = stamp(args.documents, args.numbers)
    with asyncio.Runner() as runner, tempfile.TemporaryDirectory(prefix="iportal-bench-") as data:
        if args.keep and runner.run(database_comment(args.server_dsn, name)) == loaded:
            print(f"reusing {name} (--keep)")
        else:
            runner.run(create_database(args.server_dsn, name))
            migrate(portal_env(url, Path(data)))
            runner.run(load(url, name, args.documents, args.numbers, date.today()))
        try:
            what = f"{args.documents:,} documents over {args.numbers:,} client numbers"
            measure_all(runner, url, Path(data), args.runs, what)
        finally:
            if not args.keep:
                runner.run(drop_database(args.server_dsn, name))


if __name__ == "__main__":
    main()
