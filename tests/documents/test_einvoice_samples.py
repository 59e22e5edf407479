"""Real Factur-X/ZUGFeRD and Peppol UBL files written by others yield the fields in
their `expected.csv`. The files stay in the shared folder (they are not ours to
copy); the tests skip when it is absent."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from iportal.documents.publishing.einvoice import read_structured, read_xml

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(
    os.environ.get("IPORTAL_EINVOICE_SAMPLES", ROOT.parent / "shared" / "einvoice-samples")
)
KINDS = {"facturx_pdf": "factur_x", "ubl_xml": "ubl"}


def sample_rows() -> list[Any]:
    expected = SAMPLES / "expected.csv"
    if not expected.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no samples at {SAMPLES}"))]
    with expected.open(newline="", encoding="utf-8") as file:
        return [pytest.param(row, id=row["file"]) for row in csv.DictReader(file)]


@pytest.mark.parametrize("row", sample_rows())
def test_sample_yields_expected_fields(row: dict[str, str]) -> None:
    invoice = read_structured((SAMPLES / row["file"]).read_bytes())

    assert invoice is not None
    assert invoice.kind == KINDS[row["format"]]
    assert invoice.type == row["type"]
    assert invoice.number == row["number"]
    assert invoice.issue_date == date.fromisoformat(row["issue_date"])
    assert invoice.due_date == (date.fromisoformat(row["due_date"]) if row["due_date"] else None)
    assert invoice.currency == row["currency"]
    assert invoice.amount_excl_vat == Decimal(row["amount_excl_vat"])
    assert invoice.vat_amount == Decimal(row["vat_amount"])
    assert invoice.amount_incl_vat == Decimal(row["amount_incl_vat"])
    for amount in (invoice.amount_excl_vat, invoice.vat_amount, invoice.amount_incl_vat):
        assert isinstance(amount, Decimal)


@pytest.mark.parametrize("row", sample_rows())
def test_sample_buyer_reference(row: dict[str, str]) -> None:
    invoice = read_structured((SAMPLES / row["file"]).read_bytes())

    assert invoice is not None
    expected = row["buyer_reference"]
    if not expected:
        # "used nothing (buyer has no identifier)"
        assert invoice.buyer_references == ()
        return
    assert expected in invoice.buyer_references
    if re.search(r"\bused (?!nothing)", row["notes"]):
        # The reference the notes say was used is the one tried first.
        assert invoice.buyer_references[0] == expected


@pytest.mark.parametrize("row", sample_rows())
def test_sample_type_code_and_extras(row: dict[str, str]) -> None:
    data = (SAMPLES / row["file"]).read_bytes()
    invoice = read_structured(data)

    assert invoice is not None
    assert len(invoice.type_code) == 3 and invoice.type_code.isdigit()
    code = re.search(r"TypeCode=(\d{3})", row["notes"])
    if code:
        assert invoice.type_code == code[1]
    embedded = re.search(r"embedded=([\w.-]+)", row["notes"])
    if row["format"] == "facturx_pdf":
        assert embedded is not None and invoice.attachment_name == embedded[1]
        assert invoice.pdf is None
        # The XML kept is the attachment, and it reads the same on its own.
        assert read_xml(invoice.xml) == replace(invoice, attachment_name=None)
    else:
        assert invoice.xml == data
    attached = re.search(r"application/pdf '[^']*' \((\d+) bytes", row["notes"])
    if attached:
        assert invoice.pdf is not None and len(invoice.pdf) == int(attached[1])
        assert invoice.pdf.startswith(b"%PDF-")
    elif row["format"] == "ubl_xml":
        assert invoice.pdf is None
