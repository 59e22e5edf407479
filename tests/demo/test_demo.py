"""`iportal demo` as a person runs it: embedded PostgreSQL, the printed logins work in
a real browser, a second run changes nothing, and the data survives a restart.
`iportal serve` against a PostgreSQL server (DATABASE_URL) works the same."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iportal.i18n import translate
from tests.browser import chromium_page
from tests.conftest import free_port

PRINTED_LOGIN = re.compile(r"│ (\S+)\s+│ (\S+)\s+│ (.+?)\s+│")
DEMO_TOTALS = re.compile(r"(\d+) client numbers, (\d+) documents \((\d+) new\)")


def iportal(*args: str) -> list[str]:
    return [sys.executable, "-m", "iportal", *args]


def demo_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_") and k != "DATABASE_URL"
    }
    env.update(IPORTAL_DATA_DIR=str(data_dir), IPORTAL_SMTP_PORT=str(free_port()))
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


class Server:
    """An `iportal` process that serves; its output is collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_up(self, timeout: float = 240) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"stopped with {self.process.returncode}:\n{self.output}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.url} did not come up:\n{self.output}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=5)


def printed_logins(output: str) -> list[tuple[str, str, str]]:
    return [m.groups() for m in PRINTED_LOGIN.finditer(output) if m.group(1) != "login"]


def stop_embedded_postgres(data_dir: Path) -> None:
    from iportal.db import pgserver_module

    pgdata = data_dir / "pgdata"
    if pgdata.exists():
        pgserver_module().get_server(pgdata, cleanup_mode="stop").cleanup()


@pytest.fixture(scope="module")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("demo") / "var"
    yield data_dir
    stop_embedded_postgres(data_dir)


@pytest.fixture(scope="module")
def running_demo(demo_data_dir: Path) -> Iterator[Server]:
    """`iportal demo` with no DATABASE_URL: the embedded PostgreSQL in the data folder."""
    port = free_port()
    server = Server(iportal("demo", "--port", str(port)), demo_env(demo_data_dir), port)
    try:
        seconds = server.wait_until_up()
        print(f"\n`iportal demo` loaded and answering in {seconds:.1f} s")
        yield server
    finally:
        server.stop()


async def test_a_printed_login_works_in_a_real_browser(
    running_demo: Server, artifacts: Path
) -> None:
    logins = printed_logins(running_demo.output)
    assert len(logins) == 4, running_demo.output
    login, password, who = logins[0]
    assert login.startswith("BE") and "Main contact" in who
    async with chromium_page(viewport={"width": 1100, "height": 800}) as page:
        await page.goto(f"{running_demo.url}/login")
        await page.screenshot(path=str(artifacts / "demo-login-page.png"))
        await page.fill("#username", login)
        await page.fill("#password", password)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{running_demo.url}/documents")
        assert await page.locator("table.documents tbody tr").count() == 50
        assert await page.locator("#f-client option").count() == 4  # all + her three numbers
        await page.screenshot(path=str(artifacts / "demo-logged-in.png"), full_page=True)
    assert (artifacts / "demo-logged-in.png").stat().st_size > 10_000


def test_every_printed_login_works(running_demo: Server) -> None:
    for login, password, _who in printed_logins(running_demo.output):
        response = httpx.post(
            f"{running_demo.url}/api/v1/auth/login", json={"username": login, "password": password}
        )
        assert response.status_code == 200, login


def test_mail_sent_during_the_demo_can_be_read_on_its_page(
    running_demo: Server, demo_data_dir: Path
) -> None:
    env = demo_env(demo_data_dir)
    queued = subprocess.run(
        iportal("outbox", "--check", "reader@example.test"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert queued.returncode == 0, queued.stderr
    assert "queued for reader@example.test" in queued.stdout
    deadline = time.monotonic() + 30
    page = ""
    while time.monotonic() < deadline:  # the demo's worker sends it to the mail catcher
        page = httpx.get(f"{running_demo.url}/dev/mail").text
        if "reader@example.test" in page:
            break
        time.sleep(0.5)
    assert "reader@example.test" in page and "iportal: test message" in page
    saved = list((demo_data_dir / "mail").glob("*.eml"))
    assert any(b"reader@example.test" in path.read_bytes() for path in saved)


async def test_the_documents_page_in_a_real_browser(running_demo: Server, artifacts: Path) -> None:
    """Filters on the right (from 1440 px), unread rows in bold until opened, filter by
    type and amount, sort by amount; screenshots in two languages."""
    async with chromium_page(viewport={"width": 1440, "height": 900}) as page:
        await page.goto(f"{running_demo.url}/login")
        await page.fill("#username", "luc.janssens@accountants.example")
        await page.fill("#password", "demo-portal-2026")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{running_demo.url}/documents")
        results = await page.locator("#results").bounding_box()
        filters = await page.locator("aside.documents-filters").bounding_box()
        assert results and filters and filters["x"] > results["x"] + results["width"] - 1
        first = page.locator("table.documents tbody tr").first
        assert await first.get_attribute("class") == "unread"
        assert (
            await first.locator("td").nth(3).evaluate("e => getComputedStyle(e).fontWeight")
            == "700"
        )
        await page.screenshot(path=str(artifacts / "documents-nl.png"))
        # Open the first document's PDF: back on the list, its row is no longer bold.
        number = await first.locator("span[id^=n]").inner_text()
        async with page.expect_response(lambda r: "/pdf" in r.url):
            await page.evaluate(
                "url => fetch(url)", await first.locator("a.open-pdf").get_attribute("href")
            )
        await page.reload()
        row = page.locator("table.documents tbody tr", has_text=number or "")
        assert await row.get_attribute("class") == "read"
        assert (
            await row.locator("td").nth(3).evaluate("e => getComputedStyle(e).fontWeight") == "400"
        )
        # Credit notes of at least 100 euros, sorted by amount (largest first).
        await page.select_option("#f-type", "credit_note")
        await page.fill("#f-min", "100")
        await page.click("aside button[type=submit]")
        credit_note = translate("Credit note", "nl")
        await page.wait_for_function(
            "label => [...document.querySelectorAll('table.documents tbody tr')]"
            ".every(r => r.textContent.includes(label))",
            arg=credit_note,
        )
        await page.click("th a[href*='amount_incl_vat']")
        await page.wait_for_url("**sort=-amount_incl_vat**")
        cells = await page.locator("table.documents tbody tr td.num").all_inner_texts()
        amounts = [
            float(c.replace("€", "").replace(".", "").replace(",", ".").strip()) for c in cells
        ]
        assert amounts and amounts == sorted(amounts, reverse=True) and min(amounts) >= 100
        await page.goto(f"{running_demo.url}/language/en?next=/documents")
        assert await page.text_content("h1") == "Your invoices and credit notes"
        await page.screenshot(path=str(artifacts / "documents-en.png"))
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(artifacts / "documents-phone.png"))


def test_running_the_demo_again_adds_nothing_and_data_survives_a_restart(
    running_demo: Server, demo_data_dir: Path
) -> None:
    first = DEMO_TOTALS.search(running_demo.output)
    assert first, running_demo.output
    numbers, documents, new = (int(g) for g in first.groups())
    assert numbers == 20 and documents > 1000 and new == documents
    running_demo.stop()
    again = subprocess.run(
        iportal("demo", "--load-only"),
        env=demo_env(demo_data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    second = DEMO_TOTALS.search(again.stdout)
    assert second and second.groups() == (str(numbers), str(documents), "0")
    # A plain `iportal serve` on the same data folder sees everything the demo loaded.
    port = free_port()
    server = Server(iportal("serve", "--port", str(port)), demo_env(demo_data_dir), port)
    try:
        server.wait_until_up()
        with httpx.Client(base_url=server.url) as http:
            login = http.post(
                "/api/v1/auth/login",
                json={"username": "BE0417000129", "password": "demo-portal-2026"},
            )
            assert login.status_code == 200
            documents = http.get("/documents")
            assert documents.status_code == 200 and "DL20000101" in documents.text
            assert http.get("/dev/mail").status_code == 404  # demo mode only
    finally:
        server.stop()


def test_serve_against_a_postgresql_server(server_dsn: str, tmp_path: Path) -> None:
    """The same two steps with DATABASE_URL: demo data loaded, then `iportal serve`."""
    import asyncio

    from tests.conftest import _create_database, _drop_database

    name = f"iportal_serve_{os.getpid()}"
    url = asyncio.run(_create_database(server_dsn, name))
    try:
        env = demo_env(tmp_path / "var", database_url=url)
        loaded = subprocess.run(
            iportal("demo", "--load-only"), env=env, capture_output=True, text=True, timeout=300
        )
        assert loaded.returncode == 0, loaded.stderr
        port = free_port()
        server = Server(iportal("serve", "--port", str(port)), env, port)
        try:
            server.wait_until_up()
            login = httpx.post(
                f"{server.url}/api/v1/auth/login",
                json={"username": "jonas.maes@example.be", "password": "demo-portal-2026"},
            )
            assert login.status_code == 200
            assert not (tmp_path / "var" / "pgdata").exists()  # no embedded database
        finally:
            server.stop()
    finally:
        asyncio.run(_drop_database(server_dsn, name))
