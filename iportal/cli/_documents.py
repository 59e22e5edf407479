"""Publishing in bulk (`iportal ingest`) and blob housekeeping (`iportal blobs clean`)."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from iportal.cli import load_settings, main, run_with_pool
from iportal.columns import LANGUAGES
from iportal.i18n import N_, translate

# The words of the report, in the run's language like the reasons they sit beside.
STATUS_WORDS = {
    "published": N_("published"),
    "already_published": N_("already published"),
    "conflict": N_("conflict"),
    "rejected": N_("rejected"),
}
TYPE_WORDS = {"invoice": N_("Invoice"), "credit_note": N_("Credit note")}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--issuer",
    "prefix",
    help="Only this issuer's client numbers (e.g. DL2). "
    "Without it, each document's issuer is found from its client code.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes that read the files [default: the number of cores].",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result of every file to this CSV file.",
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(LANGUAGES),
    default=None,
    help="The report's language [default: the issuer's; English when issuers differ].",
)
def ingest(
    paths: tuple[Path, ...],
    prefix: str | None,
    jobs: int | None,
    report_path: Path | None,
    language: str | None,
) -> None:
    """Publish documents from PDFs, Factur-X PDFs, UBL XML, folders or ZIPs with a
    manifest.csv; prints a per-file report; exit 0 only if nothing was rejected."""
    from iportal.documents.sandbox import Workers

    settings = load_settings()
    report = _open_report(report_path)
    # The workers start first: their server loads the PDF stack while this process
    # imports its own modules and opens the database.
    workers = Workers(jobs or os.cpu_count())
    workers.start_soon()
    from iportal.documents.publishing import Summary

    summary = Summary()
    spoken: list[str] = []  # the run's language, once the issuers are known
    try:
        with workers:
            run_with_pool(
                lambda: _ingest(
                    settings, list(paths), prefix, workers, summary, report, language, spoken
                ),
                max_size=8,
            )
    finally:
        sys.stdout.flush()
        if report is not None:
            report[0].close()
    _print_summary(summary, spoken[0] if spoken else language or "en")
    sys.exit(1 if summary.failed else 0)


def _open_report(path: Path | None) -> tuple[TextIO, Any] | None:
    if path is None:
        return None
    from iportal.documents.publishing import REPORT_COLUMNS

    try:
        handle = path.open("w", newline="", encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"{path}: {error.strerror}") from None
    writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS)
    writer.writeheader()
    return handle, writer


async def _ingest(
    settings: Any,
    paths: list[Path],
    prefix: str | None,
    workers: Any,
    summary: Any,
    report: tuple[TextIO, Any] | None,
    asked: str | None,
    spoken: list[str],
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from iportal import clock
    from iportal.documents.publishing import (
        ClientNumbers,
        FileLimits,
        Ingest,
        IssuerDirectory,
        all_issuers,
        collect,
        report_row,
    )
    from iportal.documents.storage import FolderBlobStore

    issuers = await all_issuers(prefix)
    if prefix and not issuers:
        raise click.ClickException(f"there is no issuer with prefix {prefix.upper()}")
    language = report_language(asked, [issuer.language for issuer in issuers])
    spoken.append(language)
    console = Console(stderr=True)
    # The files are counted for the progress bar only: that is a second pass over them.
    total = sum(1 for _ in collect(paths)) if console.is_terminal else None
    limits = FileLimits(max_bytes=settings.max_upload_bytes, max_pages=settings.max_pages)
    numbers = ClientNumbers()
    run = Ingest(
        IssuerDirectory(issuers, numbers),
        FolderBlobStore(settings.blob_dir),
        settings,
        workers,
        limits,
        clock.today(),
        language,
        numbers,
    )
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(translate(N_("Publishing"), language), total=total)
        async for outcome in run.run(collect(paths)):
            summary.add(outcome)
            progress.advance(task)
            if report is not None:
                report[1].writerow(report_row(outcome))
            if not console.is_terminal or outcome.reason or outcome.warnings:
                # No flush per line (click.echo's): a line each for thousands of files.
                sys.stdout.write(report_line(outcome, language) + "\n")


def report_language(asked: str | None, issuers: list[str]) -> str:
    """The one language of a run's report: the one asked for, else the issuers' when
    they share one, else English."""
    if asked:
        return asked
    return issuers[0] if issuers and len(set(issuers)) == 1 else "en"


def report_line(outcome: Any, language: str) -> str:
    """One file's line: its result, name and document, then why (or what to know)."""
    fields = outcome.candidate.fields if outcome.candidate else None
    kind = translate(TYPE_WORDS.get(fields.type, fields.type), language) if fields else ""
    what = f"{outcome.client_code} {kind} {fields.number}" if fields else ""
    line = f"{translate(STATUS_WORDS[outcome.status], language):<17} {outcome.name}"
    if what.strip():
        line += f"  [{what}]"
    if outcome.reason:
        line += f"  {outcome.reason}"
    for warning in outcome.warnings:
        line += f"  {warning}"
    return line


def _print_summary(summary: Any, language: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=translate(N_("Ingest summary"), language))
    table.add_column(translate(N_("result"), language))
    table.add_column(translate(N_("files"), language), justify="right")
    for status, word in STATUS_WORDS.items():
        table.add_row(translate(word, language), str(summary.counts[status]))
    for reason, count in summary.reasons.most_common():
        table.add_row(f"  {translate(reason, language, **_placeholders(reason))}", str(count))
    Console(stderr=True).print(table)


def _placeholders(message: str) -> dict[str, str]:
    """Reasons are grouped by their message; show the parameters as `…`."""
    import re

    return {name: "…" for name in re.findall(r"%\((\w+)\)s", message)}


@main.group()
def blobs() -> None:
    """The store of PDF and XML files."""


@blobs.command("clean")
@click.option(
    "--older-than-hours",
    default=1.0,
    show_default=True,
    type=float,
    help="Keep younger blobs: a publication may be writing its row right now.",
)
def blobs_clean(older_than_hours: float) -> None:
    """Remove blobs that no document row references."""
    from iportal.documents.publishing import clean_blobs
    from iportal.documents.storage import FolderBlobStore

    settings = load_settings()
    store = FolderBlobStore(settings.blob_dir)
    removed, kept = run_with_pool(lambda: clean_blobs(store, older_than_hours))
    click.echo(f"{removed} unreferenced blob(s) removed, {kept} kept")
