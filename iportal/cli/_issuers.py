"""The issuer's tools: issuer entities and their API keys."""

from __future__ import annotations

import click

from iportal.cli import load_settings, main, run_with_pool


@main.group()
def issuer() -> None:
    """Issuer entities (DL2, DL5, …) and their API keys."""


@issuer.command("create")
@click.argument("prefix")
@click.argument("name")
@click.option(
    "--language",
    default="en",
    show_default=True,
    type=click.Choice(["nl", "fr", "en", "de"]),
    help="Language of the messages the issuer's billing team reads.",
)
def issuer_create(prefix: str, name: str, language: str) -> None:
    """Create an issuer entity; prints its API key once, alone on the last line."""
    from iportal.accounts.services import create_issuer

    load_settings()
    _, key = run_with_pool(lambda: create_issuer(prefix, name, language))
    click.echo(f"Issuer {prefix.upper()} created. Its API key, shown this once:", err=True)
    click.echo(key)


@issuer.command("new-key")
@click.argument("prefix")
@click.option("--name", default="", help="What the key is for, e.g. the billing system.")
def issuer_new_key(prefix: str, name: str) -> None:
    """Add an API key to an issuer; prints it once, alone on the last line."""
    from iportal.accounts.services import create_api_key

    load_settings()
    click.echo(run_with_pool(lambda: create_api_key(prefix, name)))


@issuer.command("keys")
@click.argument("prefix")
def issuer_keys(prefix: str) -> None:
    """List an issuer's API keys (never the keys themselves)."""
    from rich.console import Console
    from rich.table import Table

    from iportal.accounts.services import list_api_keys

    load_settings()
    keys = run_with_pool(lambda: list_api_keys(prefix))
    table = Table(title=f"API keys of {prefix.upper()}")
    for column in ("key id", "name", "created", "last used", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.key_id,
            key.name,
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-",
        )
    Console().print(table)


@issuer.command("revoke-key")
@click.argument("prefix")
@click.argument("key_id")
def issuer_revoke_key(prefix: str, key_id: str) -> None:
    """Revoke an API key at once."""
    from iportal.accounts.services import revoke_api_key

    load_settings()
    run_with_pool(lambda: revoke_api_key(prefix, key_id))
    click.echo(f"key {key_id} revoked")
