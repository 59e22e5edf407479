"""`iportal demo`: load the demo data, then run the web app, the worker and a mail
catcher in one process, and tell the person at the terminal how to log in."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import time

import click
import uvicorn
from rich.console import Console
from rich.table import Table

from iportal import db
from iportal.accounts.services import send_password_reset_links
from iportal.demo.data import ACCOUNTS, DEMO_PASSWORD, USERS, demo_numbers
from iportal.demo.loading import load_demo
from iportal.demo.mailcatcher import start_mail_catcher
from iportal.documents.storage import FolderBlobStore
from iportal.notifications.worker import run_worker
from iportal.settings import Settings


def demo_logins() -> list[tuple[str, str, str]]:
    """(login, password, who) for every demo user, as the login page expects them."""
    from iportal import clock

    by_code = {number.client_code: number for number in demo_numbers(clock.today())}
    logins = {}
    for kind, email, codes in ACCOUNTS.values():
        number = by_code[codes[0]]
        logins[email] = (number.enterprise_number if kind == "b2b" else None) or email
    return [(logins.get(user.email, user.email), DEMO_PASSWORD, user.role) for user in USERS]


def _print_logins(console: Console) -> None:
    table = Table(title="Demo logins", show_lines=False)
    table.add_column("login", no_wrap=True)
    table.add_column("password", no_wrap=True)
    table.add_column("who")
    for login, password, who in demo_logins():
        table.add_row(login, password, who)
    console.print(table)


def _print_welcome(console: Console, settings: Settings, url: str) -> None:
    console.print(f"Portal:    [bold]{url}/[/bold]")
    console.print(f"Mail page: [bold]{url}/dev/mail[/bold]  (e-mails also in {settings.mail_dir})")
    console.print(f"API docs:  {url}/schema")
    console.print("Stop with Ctrl-C; the data stays in the data folder for the next start.")


async def run_demo(
    settings: Settings, *, host: str, port: int, smtp_port: int | None, load_only: bool
) -> None:
    console = Console(width=None if sys.stdout.isatty() else 120)
    settings = dataclasses.replace(settings, demo_mode=True)
    started = time.perf_counter()
    await db.migrate()
    await db.open_pool()
    try:
        with console.status("Loading demo data (PDFs are rendered once)…"):
            report = await load_demo(FolderBlobStore(settings.blob_dir))
        console.print(
            f"Demo data ready in {time.perf_counter() - started:.1f} s: "
            f"{report.client_numbers} client numbers, {report.documents_total} documents "
            f"({report.documents_added} new)."
        )
        _print_logins(console)
        if not load_only:
            await _serve(console, settings, host, port, smtp_port or settings.smtp_port)
    finally:
        await db.close_pool()


async def _serve(
    console: Console, settings: Settings, host: str, port: int, smtp_port: int
) -> None:
    from iportal.app import create_app
    from iportal.demo.controllers import router as demo_router

    try:
        catcher = start_mail_catcher(settings.mail_dir, settings.smtp_host, smtp_port)
    except (OSError, RuntimeError) as error:
        raise click.ClickException(
            f"the demo mail catcher cannot listen on {settings.smtp_host}:{smtp_port} ({error}); "
            "set IPORTAL_SMTP_PORT to a free port"
        ) from None
    settings = dataclasses.replace(settings, smtp_port=smtp_port)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, manage_pool=False, extra_routers=[demo_router]),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop, jobs=[send_password_reset_links]))
    _print_welcome(console, settings, f"http://{host}:{port}")
    try:
        await server.serve()
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        catcher.stop()
