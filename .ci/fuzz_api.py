"""Fuzz the JSON API against its own OpenAPI document with schemathesis.

A real `iportal serve` on a database of its own, loaded with the demo data, is called
three ways — anonymously, with a person's read-only API token and with an issuer's API
key — every operation with up to `--examples` generated requests, from a fixed seed so
that a run can be repeated. A 5xx, a status code the document does not list, or a body
or content type that breaks it fails the run. Prints one summary line per caller.

    .venv/bin/python .ci/fuzz_api.py [--examples 100] [--seed 2026]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

BIN = Path(sys.executable).parent
IPORTAL, SCHEMATHESIS = str(BIN / "iportal"), str(BIN / "st")
SERVER_DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# A demo main contact (see iportal/demo/data.py): their token reads three numbers' documents.
LOGIN, PASSWORD = "BE0417000129", "demo-portal-2026"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


def _psql(statement: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(SERVER_DSN)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"fuzz: {' '.join(command[:3])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("fuzz: iportal serve stopped before it answered")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("fuzz: iportal serve did not answer /healthz within 60 s")


def _personal_token(url: str) -> str:
    with httpx.Client(base_url=url) as browser:
        login = browser.post("/api/v1/auth/login", json={"username": LOGIN, "password": PASSWORD})
        login.raise_for_status()
        headers = {"X-CSRF-Token": login.headers["X-CSRF-Token"]}
        made = browser.post("/api/v1/me/tokens", json={"name": "fuzzing"}, headers=headers)
        made.raise_for_status()
        return str(made.json()["token"])


def _fuzz(url: str, who: str, header: str | None, examples: int, seed: int) -> bool:
    command = [
        SCHEMATHESIS, "run", f"{url}/schema/openapi.json",
        "--checks", CHECKS,
        "--max-examples", str(examples),
        "--seed", str(seed),
        "--workers", "2",
        "--no-color",
        "--suppress-health-check", "all",
        "--request-timeout", "30",
        "--generation-database", "none",
    ]  # fmt: skip
    if header:
        command += ["--header", header]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    lines = output.splitlines()
    cases = [lines[i + 1].strip() for i, line in enumerate(lines[:-1]) if line == "Test cases:"]
    final = [line.strip(" =") for line in lines if re.match(r"=+ .* in [\d.]+s =+$", line)]
    took = time.perf_counter() - started
    said = "; ".join([*cases[-1:], *final[-1:]]) or "no summary"
    print(f"fuzz {who}: {said} ({took:.0f} s)")
    if done.returncode != 0 or os.environ.get('FUZZ_VERBOSE'):
        print(output[-20000:])
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    name = f"iportal_fuzz_{os.getpid()}"
    database = urlsplit(SERVER_DSN)._replace(path=f"/{name}").geturl()
    data = Path(tempfile.mkdtemp(prefix="iportal-fuzz-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_")}
    env.update(DATABASE_URL=database, IPORTAL_DATA_DIR=str(data / "var"))
    _psql(f'CREATE DATABASE "{name}"')
    server: subprocess.Popen[bytes] | None = None
    try:
        _run([IPORTAL, "demo", "--load-only"], env)
        issuer_key = _run([IPORTAL, "issuer", "new-key", "DL2"], env).strip().splitlines()[-1]
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [IPORTAL, "serve", "--port", str(port)],
            env={**env, "IPORTAL_BASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_until_up(url, server)
        token = _personal_token(url)
        callers = [
            ("anonymous", None),
            ("personal token", f"Authorization: Bearer {token}"),
            ("issuer key", f"Authorization: Bearer {issuer_key}"),
        ]
        results = [_fuzz(url, who, header, args.examples, args.seed) for who, header in callers]
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data, ignore_errors=True)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
