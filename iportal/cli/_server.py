"""Running the portal: serve, worker, migrate, demo, outbox."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import click

from iportal.cli import load_settings, main, migrate_now, run, stop_on_signals

if TYPE_CHECKING:
    from iportal.notifications.bounces import BounceReport
    from iportal.notifications.forwards import ForwardEntry
    from iportal.notifications.problems import DeliveryProblem
    from iportal.notifications.services import OutboxEntry


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    load_settings()
    for line in run(migrate_now):
        click.echo(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Migrate if needed, then serve the web app and API."""
    import uvicorn

    from iportal.app import create_app

    settings = load_settings()
    run(migrate_now)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


@main.command()
def worker() -> None:
    """Send due e-mails (outbox, digests, reset links, access-ending warnings, forwarded
    documents); runs until stopped."""
    from iportal import db
    from iportal.accounts.services import send_password_reset_links
    from iportal.documents.storage import FolderBlobStore
    from iportal.notifications.digests import send_digests
    from iportal.notifications.forwards import attacher
    from iportal.notifications.listener import ListenerUnavailable
    from iportal.notifications.notices import notify_due
    from iportal.notifications.worker import run_worker
    from iportal.sharing.access_ends import warn_expiring_access

    settings = load_settings()

    async def work() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await db.open_pool(max_size=4)
        housekeeping = asyncio.create_task(forget_old_attempts(stop))
        try:
            await run_worker(
                settings,
                stop,
                jobs=[send_password_reset_links, notify_due, send_digests, warn_expiring_access],
                # Forwarded documents carry their files, read from the blob store.
                attach=attacher(FolderBlobStore(settings.blob_dir).read),
            )
        finally:
            housekeeping.cancel()
            await db.close_pool()

    try:
        run(work)
    except ListenerUnavailable as error:
        click.echo(f"iportal: {error}", err=True)
        sys.exit(2)


async def forget_old_attempts(stop: asyncio.Event, every_seconds: float = 3600) -> None:
    """Throttle rows outside every window are deleted once an hour."""
    import contextlib

    from iportal.accounts.services import forget_old

    while not stop.is_set():
        with contextlib.suppress(OSError):  # the database is away for a moment: next time
            await forget_old()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)


@main.command()
@click.option(
    "--retry", "retry_id", type=int, help="Queue the failed or held e-mail with this id again."
)
@click.option(
    "--check",
    "check_address",
    metavar="ADDRESS",
    help="Queue a test e-mail to ADDRESS, to check the mail settings.",
)
@click.option(
    "--clear",
    "clear_address",
    metavar="ADDRESS",
    help="Clear the delivery problem of ADDRESS and queue again what was held or failed.",
)
def outbox(retry_id: int | None, check_address: str | None, clear_address: str | None) -> None:
    """List pending, failed and recent e-mails, the delivery problems of addresses, the
    bounces received and the documents forwarded to accounting software; retry a failed
    e-mail, clear an address's problem."""
    from iportal import db
    from iportal.notifications import bounces, problems, services
    from iportal.notifications.forwards import forward_overview

    settings = load_settings()

    async def work() -> None:
        await db.open_pool(max_size=2)
        try:
            if retry_id is not None:
                if not await services.retry_failed(retry_id):
                    raise click.ClickException(f"no failed e-mail with id {retry_id}")
                click.echo(f"e-mail {retry_id} queued again")
            if clear_address:
                queued = await problems.confirm_address(clear_address)
                click.echo(f"{clear_address}: problem cleared, {queued} e-mail(s) queued again")
            if check_address:
                queued = await services.queue_email(
                    "mail_check", check_address, "en", {"base_url": settings.base_url}
                )
                click.echo(
                    f"test e-mail {queued} queued for {check_address}; `iportal worker` sends it"
                )
            _print_outbox(await services.outbox_overview())
            _print_problems(await problems.recent_problems())
            _print_bounces(await bounces.recent_reports())
            _print_forwards(*await forward_overview())
        finally:
            await db.close_pool()

    run(work)


def _print_outbox(rows: list[OutboxEntry]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Outbox")
    for column in ("id", "state", "to", "template", "attempts", "created", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.state,
            row.recipient,
            row.template,
            str(row.attempts),
            f"{row.created_at:%Y-%m-%d %H:%M}",
            row.last_error[:60],
        )
    Console().print(table)


def _print_forwards(counts: dict[str, int], rows: list[ForwardEntry]) -> None:
    from rich.console import Console
    from rich.table import Table

    summary = ", ".join(f"{counts[state]} {state}" for state in ("pending", "sent", "failed"))
    table = Table(title=f"Forwarded documents ({summary})")
    for column in ("id", "state", "to", "client", "document", "attempts", "created", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.state,
            row.recipient,
            row.client_code or "",
            row.document_number or "",
            str(row.attempts),
            f"{row.created_at:%Y-%m-%d %H:%M}",
            row.last_error[:60],
        )
    Console().print(table)


def _print_problems(rows: list[DeliveryProblem]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Delivery problems (messages to refused or bounced addresses are held)")
    for column in ("address", "kind", "since", "last", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.email,
            row.kind,
            f"{row.first_at:%Y-%m-%d %H:%M}",
            f"{row.last_at:%Y-%m-%d %H:%M}",
            row.detail[:60],
        )
    Console().print(table)


def _print_bounces(rows: list[BounceReport]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Bounces (delivery status notifications received)")
    for column in ("e-mail", "to", "status", "action", "received", "diagnostic"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.outbox_id),
            row.recipient,
            row.status + (" permanent" if row.permanent else ""),
            row.action,
            f"{row.received_at:%Y-%m-%d %H:%M}",
            row.diagnostic[:60],
        )
    Console().print(table)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--smtp-port",
    default=None,
    type=click.IntRange(1, 65535),
    help="Port of the demo mail catcher (default: IPORTAL_SMTP_PORT).",
)
@click.option("--load-only", is_flag=True, help="Load the demo data and exit without serving.")
def demo(host: str, port: int, smtp_port: int | None, load_only: bool) -> None:
    """Load demo data (issuers DL2/DL5, client numbers, seven years of documents,
    users), then run the web app, the worker and a mail catcher; prints how to log in."""
    from iportal.demo.runner import run_demo

    settings = load_settings()
    run(lambda: run_demo(settings, host=host, port=port, smtp_port=smtp_port, load_only=load_only))
