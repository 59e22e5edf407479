"""With its database unreachable the portal says so: 503 with `Retry-After` and a sentence
a person understands, as a page or as JSON; `/healthz` answers 503 JSON whatever cookie
comes with it. And when the database is back, so is the portal.

`iportal serve` runs in a process of its own and reaches PostgreSQL through a small TCP
relay that the test closes: the database goes away for the portal alone, never for the
other tests that share the server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from iportal.i18n import translate
from tests.conftest import TEST_SECRET_KEY, _create_database, _drop_database, free_port
from tests.helpers import main_text

UNAVAILABLE = "The portal cannot reach its database at the moment. Please try again in a minute."
SESSION_COOKIE = {"iportal_session": "a-cookie-of-a-session-the-portal-must-look-up"}


class Relay:
    """Forwards TCP connections on a local port to PostgreSQL until closed; closing cuts
    every open connection and refuses new ones, as a database that went away would."""

    def __init__(self, upstream: str | tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.1)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        for connection in self.sockets:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            family = socket.AF_UNIX if isinstance(self.upstream, str) else socket.AF_INET
            server = socket.socket(family, socket.SOCK_STREAM)
            server.connect(self.upstream)
            self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def _upstream(dsn: str) -> str | tuple[str, int]:
    """The server's address: a TCP host and port, or the embedded server's Unix socket."""
    parts = urlsplit(dsn)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if socket_dir.startswith("/"):
        return f"{socket_dir}/.s.PGSQL.{parts.port or 5432}"
    return (parts.hostname or "127.0.0.1", parts.port or 5432)


def _through(dsn: str, port: int, database: str) -> str:
    user = urlsplit(dsn).username or "postgres"
    return f"postgresql://{user}@127.0.0.1:{port}/{database}"


@pytest.fixture(scope="module")
def portal(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """`iportal serve` on a database of its own, behind a relay the test opens and closes."""
    name = f"iportal_unavailable_{os.getpid()}"
    asyncio.run(_create_database(server_dsn, name))
    relay = Relay(_upstream(server_dsn))
    relay.open()
    folder = tmp_path_factory.mktemp("unavailable")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_")}
    web_port = free_port()
    env.update(
        DATABASE_URL=_through(server_dsn, relay.port, name),
        IPORTAL_DATA_DIR=str(folder / "var"),
        IPORTAL_SECRET_KEY=TEST_SECRET_KEY,
        IPORTAL_SMTP_PORT="1",
    )
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "iportal", "serve", "--port", str(web_port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    relay.base_url = f"http://127.0.0.1:{web_port}"  # type: ignore[attr-defined]
    relay.log = folder / "serve.log"  # type: ignore[attr-defined]
    try:
        _wait_until_healthy(relay.base_url, process)  # type: ignore[attr-defined]
        yield relay
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        relay.close()
        asyncio.run(_drop_database(server_dsn, name))


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "iportal serve stopped"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("iportal serve did not become healthy")


def test_without_its_database_the_portal_answers_503_and_recovers(portal: Relay) -> None:
    base_url: str = portal.base_url  # type: ignore[attr-defined]
    with httpx.Client(base_url=base_url, timeout=30, cookies=SESSION_COOKIE) as http:
        assert http.get("/healthz").status_code == 200
        portal.close()

        health = http.get("/healthz")
        assert health.status_code == 503, health.text
        assert health.headers["content-type"].startswith("application/json")
        assert health.json() == {"status": "database unreachable"}

        api = http.post("/api/v1/auth/login", json={"username": "anna", "password": "x"})
        assert api.status_code == 503, api.text
        assert api.json() == {"status_code": 503, "detail": UNAVAILABLE}
        assert int(api.headers["retry-after"]) > 0

        listing = http.get("/api/v1/documents")
        assert listing.status_code == 503 and listing.json()["detail"] == UNAVAILABLE

        page = http.get("/documents", headers={"Accept-Language": "nl"})
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert int(page.headers["retry-after"]) > 0
        assert translate(UNAVAILABLE, "nl") != UNAVAILABLE
        assert translate(UNAVAILABLE, "nl") in main_text(page.text)

        portal.open()
        deadline = time.monotonic() + 30
        while http.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "the portal did not come back"
            time.sleep(0.2)
        login = http.post("/api/v1/auth/login", json={"username": "anna", "password": "x"})
        assert login.status_code == 401

    # One line a request, saying why; no 500 and no traceback of ours (asyncpg's pool
    # logs its own attempts to reconnect).
    served = portal.log.read_text().splitlines()  # type: ignore[attr-defined]
    unavailable = [line for line in served if "status=503" in line and "path=/api/" in line]
    assert len(unavailable) == 2 and all("reason=" in line for line in unavailable)
    assert not [line for line in served if "unhandled error" in line or "status=500" in line]
