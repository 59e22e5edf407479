"""Issuer entities and their API keys from the command line: the key is printed once,
alone on the last line; only its hash is kept; keys are listed and revoked."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg

from tests.accounts.conftest import Cli


async def _fetch(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


def test_create_prints_the_key_alone_on_the_last_line_and_keeps_only_its_hash(cli: Cli) -> None:
    done = cli("issuer", "create", "TST", "Test Benefits", "--language", "nl")
    assert done.returncode == 0, done.stderr
    key = done.stdout.splitlines()[-1]
    assert key.startswith("ipk_") and " " not in key and len(key) > 50
    rows = asyncio.run(
        _fetch(
            cli.dsn,
            "SELECT k.key_hash FROM issuer_api_key k "
            "JOIN issuer i ON i.id = k.issuer_id WHERE i.prefix = 'TST'",
        )
    )
    assert [row["key_hash"] for row in rows] == [hashlib.sha256(key.encode()).hexdigest()]
    dump = asyncio.run(_fetch(cli.dsn, "SELECT row_to_json(k)::text AS t FROM issuer_api_key k"))
    assert all(key not in row["t"] for row in dump)


def test_keys_are_listed_and_revoked(cli: Cli) -> None:
    added = cli("issuer", "new-key", "DL2", "--name", "billing system")
    assert added.returncode == 0
    key_id = added.stdout.strip().split("_")[1]
    listed = cli("issuer", "keys", "DL2")
    assert key_id in listed.stdout and "billing system" in listed.stdout
    assert cli("issuer", "revoke-key", "DL2", key_id).returncode == 0
    revoked = asyncio.run(
        _fetch(cli.dsn, "SELECT revoked_at FROM issuer_api_key WHERE key_id = $1", key_id)
    )
    assert revoked[0]["revoked_at"] is not None
    again = cli("issuer", "revoke-key", "DL2", key_id)
    assert again.returncode == 2 and "no active key" in again.stderr


def test_bad_input_is_one_line_without_a_traceback(cli: Cli) -> None:
    for args, message in (
        (("issuer", "create", "DL2", "Again"), "already exists"),
        (("issuer", "create", "DL20", "Nested"), "overlaps issuer prefix DL2"),
        (("issuer", "create", "d-2!", "Bad"), "is not a valid issuer prefix"),
        (("issuer", "keys", "ZZZ"), "There is no issuer with prefix ZZZ"),
    ):
        done = cli(*args)
        assert done.returncode == 2, args
        assert message in done.stderr and "Traceback" not in done.stderr
