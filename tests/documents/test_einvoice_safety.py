"""Hostile input to the e-invoice reader: entity bombs and external entities are
refused quickly without being expanded or fetched, and random, truncated or
mutated files always end in a result or `InvalidInput` — nothing else, no hang."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iportal.documents.publishing.einvoice import StructuredInvoice, read_structured, read_xml
from iportal.errors import InvalidInput
from tests.documents.einvoice_helpers import FIXTURES, pdf_with_attachments

CORPUS = {path.name: path.read_bytes() for path in sorted(FIXTURES.glob("*.[px][dm][fl]"))}
UBL_HEAD = (
    '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
    'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
)
QUICKLY = 1.0  # seconds


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` can swallow it."""


@contextlib.contextmanager
def at_most(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_quickly(data: bytes) -> StructuredInvoice | None:
    started = time.monotonic()
    with at_most(5):
        try:
            return read_structured(data)
        finally:
            assert time.monotonic() - started < QUICKLY


def refused_quickly(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_quickly(data)
    return caught.value


def billion_laughs(levels: int = 10) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE Invoice [\n{"".join(entities)}\n]>\n'
        f"{UBL_HEAD}<cbc:ID>&lol{levels - 1};</cbc:ID></Invoice>"
    ).encode()


def in_factur_x_pdf(xml: bytes) -> bytes:
    return pdf_with_attachments({"factur-x.xml": xml})


# --- entities -----------------------------------------------------------------------


def test_billion_laughs_is_refused_unexpanded() -> None:
    error = refused_quickly(billion_laughs())

    assert "DOCTYPE" in str(error)
    assert "lollol" not in str(error)


def test_billion_laughs_in_utf16_and_utf32_is_refused() -> None:
    # The byte scan cannot see "<!DOCTYPE" in UTF-32: then libxml2's amplification
    # limit or the parsed document's DTD check refuses it, unexpanded either way.
    for encoding in ("utf-16", "utf-32"):
        text = (
            billion_laughs()
            .decode()
            .replace('version="1.0"', f'version="1.0" encoding="{encoding.upper()}"')
        )
        started = time.monotonic()
        with pytest.raises(InvalidInput) as caught, at_most(5):
            read_xml(text.encode(encoding))
        assert time.monotonic() - started < QUICKLY
        assert str(caught.value).startswith("The XML could not be read safely: ")
        assert "lollol" not in str(caught.value)


def test_a_doctype_the_byte_scan_cannot_see_is_refused_after_parsing() -> None:
    text = f'<!DOCTYPE Invoice [<!ENTITY e "1">]>{UBL_HEAD}<cbc:ID>&e;</cbc:ID></Invoice>'

    with pytest.raises(InvalidInput) as caught:
        read_xml(text.encode("utf-32"))

    assert "DOCTYPE" in str(caught.value)


def test_quadratic_blowup_is_refused() -> None:
    big = "x" * 100_000
    data = (
        f'<!DOCTYPE Invoice [<!ENTITY big "{big}">]>'
        f"{UBL_HEAD}<cbc:ID>{'&big;' * 10_000}</cbc:ID></Invoice>"
    ).encode()

    assert "DOCTYPE" in str(refused_quickly(data))


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, str]:
    secret = "TOP-SECRET-5f1e0c7a"
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    return path, secret


def xxe_documents(path: Path) -> list[bytes]:
    url = path.as_uri()
    return [
        (
            f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "{url}">]>'
            f"{UBL_HEAD}<cbc:ID>&xxe;</cbc:ID></Invoice>"
        ).encode(),
        (
            f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY % p SYSTEM "{url}"> %p;]>'
            f"{UBL_HEAD}<cbc:ID>1</cbc:ID></Invoice>"
        ).encode(),
        f'<!DOCTYPE Invoice SYSTEM "{url}">{UBL_HEAD}<cbc:ID>1</cbc:ID></Invoice>'.encode(),
        # Would hang on a firewall that drops packets, if anything were fetched.
        b'<!DOCTYPE Invoice SYSTEM "http://192.0.2.1/evil.dtd">'
        + f"{UBL_HEAD}<cbc:ID>1</cbc:ID></Invoice>".encode(),
    ]


def test_external_entities_are_refused_and_never_read(
    secret_file: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, secret = secret_file
    for xml in xxe_documents(path):
        for data in (xml, in_factur_x_pdf(xml), xml.decode().encode("utf-16")):
            error = refused_quickly(data)
            seen = [str(error), error.translated(), repr(error.params), repr(error.args)]
            assert not any(secret in text for text in seen)
            assert "DOCTYPE" in str(error)
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err + caplog.text


def test_deep_nesting_is_refused_quickly() -> None:
    data = (UBL_HEAD + "<a>" * 100_000).encode()

    assert str(refused_quickly(data)).startswith("The XML could not be read safely: ")


# --- random and mutated input -------------------------------------------------------


FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=QUICKLY),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_outcome(data: bytes) -> None:
    """A result with sane fields, None for a PDF, or InvalidInput; anything else fails."""
    try:
        invoice = read_quickly(data)
    except InvalidInput as error:
        assert isinstance(error.translated(), str)
        return
    if invoice is None:
        assert b"%PDF-" in data[:1024]
        return
    assert invoice.type in ("invoice", "credit_note")
    assert re.fullmatch(r"\d{3}", invoice.type_code)
    assert invoice.number and len(invoice.currency) == 3
    for amount in (invoice.amount_excl_vat, invoice.vat_amount, invoice.amount_incl_vat):
        assert isinstance(amount, Decimal) and amount.is_finite()


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> bytes:
    data = bytearray(CORPUS[draw(st.sampled_from(names))])
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        removed = draw(st.integers(0, 16))
        data[start : start + removed] = draw(st.binary(max_size=16))
    return bytes(data)


@st.composite
def truncated(draw: st.DrawFn, names: list[str]) -> bytes:
    data = CORPUS[draw(st.sampled_from(names))]
    return data[: draw(st.integers(0, len(data)))]


@st.composite
def xml_with_odd_values(draw: st.DrawFn) -> bytes:
    """A valid XML fixture with some element texts replaced by arbitrary text."""
    names = [name for name in CORPUS if name.endswith(".xml")]
    text = CORPUS[draw(st.sampled_from(names))].decode()
    values = list(re.finditer(r">([^<>]*)</", text))
    for _ in range(draw(st.integers(1, 3))):
        match = draw(st.sampled_from(values))
        odd = draw(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=24))
        odd = odd.replace("&", "&amp;").replace("<", "&lt;")
        text = text[: match.start(1)] + odd + text[match.end(1) :]
        values = list(re.finditer(r">([^<>]*)</", text))
    return text.encode("utf-8", "surrogatepass")


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    check_outcome(data)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=64).map(lambda tail: b"%PDF-1.7\n" + tail),
        st.binary().map(lambda tail: b"<" + tail),
    )
)
def test_random_bytes_that_look_like_pdf_or_xml(data: bytes) -> None:
    check_outcome(data)


@FUZZ
@given(st.one_of(truncated(sorted(CORPUS)), mutated(sorted(CORPUS))))
def test_truncated_and_mutated_fixtures(data: bytes) -> None:
    check_outcome(data)


@FUZZ
@given(xml_with_odd_values())
def test_xml_fixtures_with_odd_values(data: bytes) -> None:
    check_outcome(data)


@FUZZ
@given(mutated([name for name in CORPUS if name.endswith(".xml")]))
def test_mutated_xml_inside_a_factur_x_pdf(data: bytes) -> None:
    check_outcome(in_factur_x_pdf(data))
