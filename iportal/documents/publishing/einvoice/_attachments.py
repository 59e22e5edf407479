"""The files a UBL document carries inside itself (BG-24, `AdditionalDocumentReference`
with an `EmbeddedDocumentBinaryObject`): timesheets, delivery notes, the issuer's PDF.

Each keeps the name and type its sender declared. An attachment that is not what it
claims (a "PDF" that is not one, base64 that does not decode) never makes the
invoice invalid: EN 16931 does not look inside attachments, so neither does
publishing. It is named in a warning instead, and left out of what is served.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from lxml import etree

from iportal.documents.publishing.einvoice._pdf import looks_like_pdf
from iportal.documents.publishing.einvoice._values import Phrase, text_of
from iportal.i18n import N_

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
PDF = "application/pdf"
# The warning names the attachment and says why; the reason is one of the phrases below.
LEFT_OUT = N_("The attachment “%(name)s” was left out: %(reason)s")
NOT_BASE64 = Phrase(N_("its content is not valid base64."))
NOT_A_PDF = Phrase(N_("it is declared a PDF but is not one."))
_REFERENCE = "cac:AdditionalDocumentReference"
_OBJECT = "cac:Attachment/cbc:EmbeddedDocumentBinaryObject"
# A declared name or type is shown and put in a header: kept short.
_MAX_NAME = 120


@dataclass(frozen=True)
class AttachmentWarning:
    """An attachment that is not what it claims, and why (a phrase to translate)."""

    name: str
    reason: str

    @property
    def message(self) -> str:
        return LEFT_OUT

    @property
    def params(self) -> dict[str, object]:
        return {"name": self.name, "reason": Phrase(self.reason)}


@dataclass(frozen=True)
class Attachment:
    """One embedded file as declared; `content` is None when it cannot be decoded."""

    name: str
    mime_code: str
    content: bytes | None

    @property
    def problem(self) -> str | None:
        if self.content is None:
            return NOT_BASE64
        if self.mime_code == PDF and not looks_like_pdf(self.content):
            return NOT_A_PDF
        return None


def embedded_attachments(root: etree._Element) -> list[Attachment]:
    """Every embedded file of a UBL document, in the order written."""
    found = []
    for index, reference in enumerate(root.findall(_REFERENCE, NS), start=1):
        element = reference.find(_OBJECT, NS)
        if element is None:
            continue  # a reference to a document held elsewhere (a URI, or none)
        name = _declared_name(element, reference, index)
        mime_code = (element.get("mimeCode") or "").split(";")[0].strip().lower()[:_MAX_NAME]
        found.append(Attachment(name, mime_code, _decoded(element.text or "")))
    return found


def attachment_warnings(attachments: list[Attachment]) -> tuple[AttachmentWarning, ...]:
    return tuple(AttachmentWarning(a.name, problem) for a in attachments if (problem := a.problem))


def _declared_name(element: etree._Element, reference: etree._Element, index: int) -> str:
    declared = (element.get("filename") or "").strip() or text_of(reference.find("cbc:ID", NS))
    name = " ".join((declared or f"attachment-{index}").split())
    return name[:_MAX_NAME]


def _decoded(encoded: str) -> bytes | None:
    try:
        # xs:base64Binary allows line breaks and blanks anywhere.
        return base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
