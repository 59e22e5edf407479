"""`iportal client-numbers import`: CSV and XLSX as issuers keep them, a report that
names each rejected row and why, rejected rows change nothing, good rows land."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl
import pytest

from iportal.accounts.tables import ClientNumber, ClientNumberAlias
from iportal.cli._client_numbers._files import (
    COLUMNS,
    ImportResult,
    import_rows,
    read_client_numbers,
)
from iportal.cli._client_numbers._template import HELP_SHEET, write_template
from iportal.errors import InvalidInput
from tests import factories
from tests.accounts.conftest import Cli

HEADER = "client_code;company_name;enterprise_number;email;first_name;last_name;language;"
HEADER += "contract_start;aliases"
GOOD_AND_BAD = [
    HEADER,
    "dl2-000 0001;Peeters BV;BE 0417.000.129;Anna@Peeters.example;Anna;Peeters;nl;2019-03-01;"
    '"0208:0417000129; PEETERS"',
    "DL20000002;Dubois SRL;BE0417000128;marie@dubois.example;Marie;Dubois;fr;2020-01-01;",
    "DL20000003;Maes;;not-an-address;Jonas;Maes;es;2020-01-01;",
    "DL50000004;Elsewhere NV;;info@elsewhere.example;Eva;Claes;nl;2020-01-01;",
    ";;;;;;;;",
    "DL20000005;Janssens BV;;luc@janssens.example;Luc;Janssens;de;2021-02-03;PEETERS",
    "DL20000006;Claes NV;;eva@claes.example;Eva;Claes;en;2021-02-03;",
    "DL2 0000006;Claes NV again;;eva@claes.example;Eva;Claes;en;2021-02-03;",
]


def by_row(results: list[ImportResult]) -> dict[int, ImportResult]:
    return {result.row: result for result in results}


async def codes() -> list[str]:
    rows = await ClientNumber.select(ClientNumber.client_code).order_by(ClientNumber.client_code)
    return [row["client_code"] for row in rows]


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8-sig") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


async def test_a_csv_with_good_and_bad_rows(transaction: Any, tmp_path: Path) -> None:
    await factories.issuer("DL2")
    await factories.issuer("DL5")
    rows = read_client_numbers(write_csv(tmp_path / "numbers.csv", GOOD_AND_BAD))
    results = by_row(await import_rows(rows, issuer_prefix="dl2"))
    assert sorted(results) == [2, 3, 4, 5, 7, 8, 9]  # row 6 is empty
    assert results[2].outcome == "created" and results[2].client_code == "DL20000001"
    assert results[8].outcome == "created"
    assert results[3].outcome == "rejected"
    assert results[3].reason.startswith("enterprise_number: ")
    assert results[4].reason.startswith("email: ") and "language: " in results[4].reason
    assert results[5].outcome == "rejected" and "DL50000004" in results[5].reason
    assert results[7].outcome == "rejected"  # its alias is DL20000001's
    assert "PEETERS" in results[7].reason and "DL20000001" in results[7].reason
    assert results[9].outcome == "rejected" and "row 8" in results[9].reason
    assert await codes() == ["DL20000001", "DL20000006"]
    row = await ClientNumber.select().where(ClientNumber.client_code == "DL20000001").first()
    assert row is not None
    assert row["enterprise_number"] == "BE0417000129" and row["email"] == "anna@peeters.example"
    assert await ClientNumberAlias.count() == 2


async def test_a_rejected_update_leaves_the_stored_number_alone(
    transaction: Any, tmp_path: Path
) -> None:
    issuer_id = await factories.issuer("DL2")
    await factories.client_number(issuer_id, "DL20000002", company_name="Before BV")
    rows = read_client_numbers(write_csv(tmp_path / "numbers.csv", GOOD_AND_BAD[:3]))
    results = by_row(await import_rows(rows, issuer_prefix="DL2"))
    assert results[3].outcome == "rejected"
    row = await ClientNumber.select().where(ClientNumber.client_code == "DL20000002").first()
    assert row is not None and row["company_name"] == "Before BV"
    again = await import_rows(rows, issuer_prefix="DL2")
    assert [result.outcome for result in again] == ["updated", "rejected"]


async def test_a_value_outside_the_columns_rejects_its_row(
    transaction: Any, tmp_path: Path
) -> None:
    await factories.issuer("DL2")
    lines = [
        HEADER,
        # The aliases hold the separator without quotes: a cell too many, never dropped.
        "DL20000001;A BV;;a@a.example;A;A;nl;2020-01-01;REF-1;REF-2",
        'DL20000002;B BV;;b@b.example;B;B;nl;2020-01-01;"REF-3;REF-4"',
    ]
    rows = read_client_numbers(write_csv(tmp_path / "numbers.csv", lines))
    results = await import_rows(rows, issuer_prefix="DL2")
    assert [result.outcome for result in results] == ["rejected", "created"]
    assert "separator" in results[0].reason
    assert await codes() == ["DL20000002"]


async def test_without_an_issuer_each_code_goes_to_its_prefix(
    transaction: Any, tmp_path: Path
) -> None:
    dl2 = await factories.issuer("DL2")
    dl5 = await factories.issuer("DL5")
    lines = [
        HEADER,
        "DL20000001;A BV;;a@a.example;A;A;nl;2020-01-01;",
        "DL50000001;B BV;;b@b.example;B;B;fr;2020-01-01;",
        "XY0000001;C BV;;c@c.example;C;C;fr;2020-01-01;",
    ]
    rows = read_client_numbers(write_csv(tmp_path / "numbers.csv", lines))
    results = await import_rows(rows)
    assert [result.outcome for result in results] == ["created", "created", "rejected"]
    assert "XY0000001" in results[2].reason
    owners = await ClientNumber.raw("SELECT client_code, issuer_id FROM client_number")
    assert {row["client_code"]: row["issuer_id"] for row in owners} == {
        "DL20000001": dl2,
        "DL50000001": dl5,
    }


async def test_a_comma_separated_file_from_windows_is_read_too(
    transaction: Any, tmp_path: Path
) -> None:
    await factories.issuer("DL2")
    lines = [
        ",".join(COLUMNS),
        'DL20000001,"Société Générale, Brussels",,s@sg.example,Zoë,Dupré,fr,2020-01-01,"A;B"',
    ]
    rows = read_client_numbers(write_csv(tmp_path / "numbers.csv", lines, encoding="cp1252"))
    assert rows[0].data.company_name == "Société Générale, Brussels"
    assert rows[0].data.aliases == ["A", "B"]
    assert [r.outcome for r in await import_rows(rows, issuer_prefix="DL2")] == ["created"]


def workbook_with(path: Path, header: list[str], *rows: list[Any]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


async def test_an_xlsx_with_excel_dates_and_numbers(transaction: Any, tmp_path: Path) -> None:
    await factories.issuer("DL2")
    path = workbook_with(
        tmp_path / "numbers.xlsx",
        list(COLUMNS),
        # Dates as date cells or text; an enterprise number that lost its leading zero.
        ["DL20000001", "A BV", 417000129, "a@a.example", "A", "A", "nl", date(2019, 3, 1), 12345],
        ["DL20000002", "B BV", None, "b@b.example", "B", "B", "FR", "2020-02-03", "REF;12.5"],
        ["DL20000003", "C BV", None, "c@c.example", "C", "C", "en", datetime(2021, 4, 5), None],
        ["DL20000004", "D BV", None, "d@d.example", "D", "D", "de", 43831.0, None],
        ["DL20000005", "E BV", None, "e@e.example", "E", "E", "nl", "3 March 2020", None],
        [None, None, None, None, None, None, None, None, None],
    )
    rows = read_client_numbers(path)
    assert [row.row for row in rows] == [2, 3, 4, 5, 6]
    results = await import_rows(rows, issuer_prefix="DL2")
    outcomes = [result.outcome for result in results]
    assert outcomes == ["created", "created", "created", "created", "rejected"]
    assert results[4].reason.startswith("contract_start: ")
    stored = {
        row["client_code"]: row
        for row in await ClientNumber.select().order_by(ClientNumber.client_code)
    }
    assert stored["DL20000001"]["enterprise_number"] == "BE0417000129"
    assert stored["DL20000001"]["contract_start"] == date(2019, 3, 1)
    assert stored["DL20000002"]["contract_start"] == date(2020, 2, 3)
    assert stored["DL20000002"]["language"] == "fr"
    assert stored["DL20000003"]["contract_start"] == date(2021, 4, 5)
    assert stored["DL20000004"]["contract_start"] == date(2020, 1, 1)  # Excel serial 43831
    references = await ClientNumberAlias.select(ClientNumberAlias.reference)
    assert sorted(row["reference"] for row in references) == ["12.5", "12345", "REF"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("numbers.xls", b"whatever", ".xlsx"),
        ("numbers.xlsx", b"PK\x03\x04 not really a workbook", "not a readable Excel workbook"),
        ("numbers.csv", b"", "no header row"),
        ("numbers.csv", b"client_code;company_name\nDL20000001;A\n", "missing columns: email"),
        ("numbers.csv", ("x;" + HEADER.replace(";aliases", ";alias")).encode(), "unknown"),
    ],
)
def test_a_file_that_cannot_be_read_says_why(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput) as raised:
        read_client_numbers(path)
    assert reason in raised.value.translated()
    with pytest.raises(InvalidInput) as missing:
        read_client_numbers(tmp_path / "absent.csv")
    assert "cannot be read" in missing.value.translated()


async def test_the_template_opens_explains_and_imports(transaction: Any, tmp_path: Path) -> None:
    await factories.issuer("DL2")
    path = tmp_path / "template.xlsx"
    write_template(path, "DL2")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Client numbers", HELP_SHEET]
    data = list(workbook["Client numbers"].iter_rows(values_only=True))
    assert list(data[0]) == list(COLUMNS) and len(data) == 2
    help_rows = list(workbook[HELP_SHEET].iter_rows(values_only=True))
    header = next(row for row in help_rows if row[0] == "column")
    assert list(header[3:]) == ["English", "Nederlands", "Français"]
    explained = {row[0]: row for row in help_rows[help_rows.index(header) + 1 :]}
    assert set(explained) == set(COLUMNS)
    for column, (_, required, example, english, dutch, french) in explained.items():
        assert example and english and dutch and french, column
        assert required.startswith("no" if column in ("enterprise_number", "aliases") else "yes")
    results = await import_rows(read_client_numbers(path), issuer_prefix="DL2")
    assert [(r.row, r.client_code, r.outcome) for r in results] == [(2, "DL20012345", "created")]
    assert await ClientNumberAlias.count() == 2


async def test_the_command_reports_rows_and_exits_1_when_any_is_rejected(
    cli: Cli, tmp_path: Path
) -> None:
    # Codes of their own: this database is shared by the command tests and kept.
    lines = [
        line.replace("000 0001", "100 0001").replace("000000", "100000") for line in GOOD_AND_BAD
    ]
    path = write_csv(tmp_path / "numbers.csv", lines)
    report = tmp_path / "report.csv"
    done = cli("client-numbers", "import", "--issuer", "DL2", str(path), "--report", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "2 created, 0 updated, 5 rejected." in done.stdout
    assert "enterprise_number:" in done.stdout and "DL21000002" in done.stdout
    with report.open(encoding="utf-8-sig", newline="") as lines_read:
        reported = list(csv.DictReader(lines_read))
    assert [(r["row"], r["result"]) for r in reported] == [
        ("2", "created"),
        ("3", "rejected"),
        ("4", "rejected"),
        ("5", "rejected"),
        ("7", "rejected"),
        ("8", "created"),
        ("9", "rejected"),
    ]
    assert reported[1]["reason"].startswith("enterprise_number: ")
    connection = await asyncpg.connect(cli.dsn)
    try:
        stored = await connection.fetch(
            "SELECT client_code FROM client_number WHERE client_code LIKE 'DL21%' ORDER BY 1"
        )
    finally:
        await connection.close()
    assert [row["client_code"] for row in stored] == ["DL21000001", "DL21000006"]
    good = write_csv(tmp_path / "good.csv", [lines[0], lines[1]])
    again = cli("client-numbers", "import", "--issuer", "DL2", str(good))
    assert again.returncode == 0 and "0 created, 1 updated, 0 rejected." in again.stdout


def test_an_unreadable_file_is_one_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "numbers.xlsx"
    broken.write_bytes(b"this is no workbook")
    for path in (broken, tmp_path / "missing.csv"):
        done = cli("client-numbers", "import", "--issuer", "DL2", str(path))
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and str(path) in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
    unknown_issuer = write_csv(tmp_path / "numbers.csv", [HEADER])
    done = cli("client-numbers", "import", "--issuer", "ZZ9", str(unknown_issuer))
    assert done.returncode == 2 and "ZZ9" in done.stderr and "Traceback" not in done.stderr


def test_the_template_command_writes_a_file_that_imports(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    written = cli("client-numbers", "template", "--issuer", "dl5", str(path))
    assert written.returncode == 0, written.stderr
    assert cli("client-numbers", "template", str(path)).returncode == 2  # never overwritten
    imported = cli("client-numbers", "import", "--issuer", "DL5", str(path))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "DL50012345" in imported.stdout and "1 created" in imported.stdout


async def test_a_control_character_in_a_name_rejects_its_row(
    transaction: Any, tmp_path: Path
) -> None:
    """C1 controls (U+0080–U+009F, what a mis-decoded Windows-1252 file leaves) too."""
    await factories.issuer("DL2")
    lines = [
        HEADER,
        "DL20000001;Peeters\x9bBV;;a@a.example;A;A;nl;2020-01-01;",
        "DL20000002;Dubois\x1bSRL;;b@b.example;B;B;nl;2020-01-01;",
        "DL20000003;Maes BV;;c@c.example;C;C;nl;2020-01-01;",
    ]
    rows = read_client_numbers(write_csv(tmp_path / "numbers.csv", lines))
    results = await import_rows(rows, issuer_prefix="DL2")
    assert [result.outcome for result in results] == ["rejected", "rejected", "created"]
    assert all(r.reason.startswith("company_name: Control characters") for r in results[:2])
    assert await codes() == ["DL20000003"]
