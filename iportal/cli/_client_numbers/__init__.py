"""The issuer's client numbers from a spreadsheet (CSV or XLSX), its template, and
activation codes for the letters.

A file is read whole before anything is written: one that cannot be read is one
line and exit status 2. Then every row is its own transaction, so a rejected row
changes nothing; the exit status is 0 only when no row was rejected.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from iportal.cli import load_settings, main, run_with_pool
from iportal.errors import DomainError, InvalidInput
from iportal.i18n import N_, gettext

if TYPE_CHECKING:
    from iportal.cli._client_numbers._files import ImportResult

OUTCOME_STYLES = {"created": "green", "updated": "cyan", "rejected": "bold red"}
CANNOT_WRITE = N_("cannot be written (%(reason)s).")


def _fail(path: Path, error: DomainError) -> NoReturn:
    click.echo(f"iportal: {path}: {error.translated()}", err=True)
    sys.exit(2)


@main.group("client-numbers")
def client_numbers() -> None:
    """The issuer's client numbers: import them from a spreadsheet, get its template."""


@client_numbers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--issuer", "prefix", metavar="PREFIX", help="Every code must be this issuer's.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report, one line per row, to this CSV file.",
)
def import_command(file: Path, prefix: str | None, report: Path | None) -> None:
    """Create or update client numbers from FILE.csv or FILE.xlsx (columns as the PUT body
    of the issuer API, plus client_code; aliases separated by `;`). Without --issuer, each
    code goes to the issuer whose prefix it starts with. Exit status 0 only when no row was
    rejected; a rejected row changes nothing."""
    from iportal.cli._client_numbers._files import import_rows, read_client_numbers, write_report

    load_settings()
    try:
        rows = read_client_numbers(file)
    except InvalidInput as error:
        _fail(file, error)
    results = run_with_pool(lambda: import_rows(rows, issuer_prefix=prefix))
    _print_results(file, results)
    if report is not None:
        try:
            write_report(report, results)
        except OSError as error:
            _fail(report, InvalidInput(CANNOT_WRITE, reason=error.strerror or str(error)))
    if any(result.error for result in results):
        sys.exit(1)


def _print_results(file: Path, results: list[ImportResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=gettext(N_("Client numbers from %(file)s"), file=file.name))
    for heading in (N_("row"), N_("client code"), N_("result"), N_("reason")):
        table.add_column(gettext(heading), overflow="fold")
    for result in results:
        style = OUTCOME_STYLES.get(result.outcome, "")
        table.add_row(
            str(result.row), result.client_code, result.outcome, result.reason, style=style
        )
    console = Console()
    console.print(table)
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in OUTCOME_STYLES}
    summary = N_("%(created)s created, %(updated)s updated, %(rejected)s rejected.")
    console.print(gettext(summary, **counts))
    if counts["rejected"]:
        console.print(
            gettext(
                N_(
                    "Rejected rows changed nothing: correct them and import the file again "
                    "(rows already imported are updated, never duplicated)."
                )
            )
        )


@client_numbers.command("template")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--issuer",
    "prefix",
    metavar="PREFIX",
    default="DL2",
    show_default=True,
    help="The prefix of the example row's client code.",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def template_command(file: Path, prefix: str, force: bool) -> None:
    """Write FILE.xlsx: the columns `import` reads, an example row, and a Help sheet that
    explains every column in English, Dutch and French."""
    from iportal.accounts.services import normalise_prefix
    from iportal.cli._client_numbers._template import write_template

    try:
        prefix = normalise_prefix(prefix)
        if file.suffix.lower() != ".xlsx":
            raise InvalidInput(N_("the template is an .xlsx file: give a name ending in .xlsx."))
        if file.exists() and not force:
            raise InvalidInput(N_("already exists; use --force to replace it."))
        write_template(file, prefix)
    except InvalidInput as error:
        _fail(file, error)
    except OSError as error:
        _fail(file, InvalidInput(CANNOT_WRITE, reason=error.strerror or str(error)))
    click.echo(gettext(N_("Template written to %(file)s."), file=str(file)))


@main.group("activation-codes")
def activation_codes() -> None:
    """Activation codes for the letters and e-mails that invite clients to opt in."""


@activation_codes.command("issue")
@click.argument("client_codes", nargs=-1, required=True, metavar="CLIENT_CODE…")
def issue_command(client_codes: tuple[str, ...]) -> None:
    """Issue one code per client code; prints `client_code<TAB>code<TAB>expires_at` (ISO
    8601), the plain code shown this once. An unknown client code is reported and the exit
    status is 1, while the codes of the others are still issued."""
    from iportal.accounts.services import issue_activation_code_for
    from iportal.errors import NotFound

    settings = load_settings()

    async def issue_all() -> list[str]:
        unknown = []
        for raw in client_codes:
            try:
                issued = await issue_activation_code_for(settings, raw)
            except NotFound as error:
                click.echo(f"iportal: {error.translated()}", err=True)
                unknown.append(raw)
                continue
            expires_at = issued.expires_at.isoformat(timespec="seconds")
            click.echo(f"{issued.client_code}\t{issued.code}\t{expires_at}")
        return unknown

    unknown = run_with_pool(issue_all)
    if unknown:
        message = N_("Codes issued: %(issued)s. Not known, so no code: %(unknown)s.")
        issued = len(client_codes) - len(unknown)
        click.echo(
            "iportal: " + gettext(message, issued=issued, unknown=", ".join(unknown)), err=True
        )
        sys.exit(1)
