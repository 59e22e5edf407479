"""Parsing untrusted XML without expanding, loading or fetching anything.

An e-invoice never needs a DOCTYPE, so any document that declares one is
refused before lxml sees it (and again after, for encodings the byte scan cannot
read): no entity is ever expanded ("billion laughs") nor resolved (XXE). The
size is bounded first, and libxml2's own limits (depth, text length) stay on.
"""

from __future__ import annotations

from lxml import etree

from iportal.documents.publishing.einvoice._values import Phrase
from iportal.errors import InvalidInput
from iportal.i18n import N_

MAX_XML_BYTES = 10 * 1024 * 1024

TOO_LARGE = N_("The e-invoice's XML is larger than %(limit)s MiB.")
UNSAFE = N_("The XML could not be read safely: %(reason)s")
DOCTYPE_REASON = N_("it declares a DOCTYPE or entities, which an e-invoice never does.")
_UTF8_BOM = b"\xef\xbb\xbf"
# UTF-16 (and UTF-32 LE) start with a byte-order mark or a "<" padded with zeros.
_WIDE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")
_DOCTYPE_MARKS = tuple(
    mark.encode(encoding)
    for mark in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
# libxml2's messages can be long and technical; the clerk needs the first words.
_REASON_MAX_LENGTH = 200


def looks_like_xml(data: bytes) -> bool:
    """True for bytes that start like an XML document (after a BOM and blanks)."""
    head = data[:64]
    return head.startswith(_WIDE_STARTS) or head.removeprefix(_UTF8_BOM).lstrip().startswith(b"<")


def parse_xml(data: bytes) -> etree._Element:
    """The root element of `data`; `InvalidInput` for anything unsafe or malformed."""
    if len(data) > MAX_XML_BYTES:
        raise InvalidInput(TOO_LARGE, limit=MAX_XML_BYTES // (1024 * 1024))
    if any(mark in data for mark in _DOCTYPE_MARKS):
        raise _unsafe()
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError) as error:
        raise InvalidInput(UNSAFE, reason=_reason(error)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _unsafe()
    return root


def _unsafe() -> InvalidInput:
    return InvalidInput(UNSAFE, reason=Phrase(DOCTYPE_REASON))


def _reason(error: Exception) -> str:
    reason = " ".join(str(error).split()) or type(error).__name__
    return reason[:_REASON_MAX_LENGTH]
