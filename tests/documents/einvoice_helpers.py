"""Shared by the e-invoice tests: our fixture files and small variants of them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfWriter

from iportal.documents.publishing.einvoice import read_structured
from iportal.errors import InvalidInput

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def ubl_invoice(old: str = "", new: str = "", name: str = "ubl_invoice.xml") -> bytes:
    """A fixture with one piece of its text replaced (which must be there)."""
    text = fixture(name).decode("utf-8")
    assert old in text
    return text.replace(old, new, 1).encode("utf-8")


def cii_xml(name: str = "fx_basic_invoice.pdf") -> str:
    invoice = read_structured(fixture(name))
    assert invoice is not None
    return invoice.xml.decode("utf-8")


def cii_variant(old: str, new: str, name: str = "fx_basic_invoice.pdf") -> bytes:
    text = cii_xml(name)
    assert old in text
    return text.replace(old, new, 1).encode("utf-8")


def refused(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_structured(data)
    return caught.value


def pdf_with_attachments(attachments: dict[str, bytes], user_password: str | None = None) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(fixture("plain.pdf")))
    for name, content in attachments.items():
        writer.add_attachment(name, content)
    if user_password is not None:
        writer.encrypt(user_password=user_password, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
