"""A message written straight to the bytes that go over the wire.

The `email` package's `EmailMessage` parses every header it is given and folds every
header again when it is written out: about 5 ms a message, more than sending it costs.
The messages of the outbox are all alike (a few known headers, a text part and
perhaps an HTML one), so `encode_message` writes them itself: both parts in
quoted-printable, which no boundary starting with `=_` can occur in, and a subject
that is not ASCII as an RFC 2047 encoded word. What it cannot write safely (an address
that is not ASCII, a line break in a header) it declines, and the caller builds the
message with the `email` package instead.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from email.header import Header
from email.utils import parseaddr


def message_id(outbox_id: int, sender: str, key: str = "") -> str:
    """The same for every attempt at one outbox row, so that a message sent twice (a
    worker killed after the server took it) is recognised as one; the keyed hash keeps
    ids of other installations (and guessed ones) apart."""
    digest = hmac.new(key.encode(), f"outbox-{outbox_id}".encode(), hashlib.sha256)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "iportal"
    return f"<outbox-{outbox_id}.{digest.hexdigest()[:16]}@{domain}>"


def _plain(*values: str) -> bool:
    return all(value.isascii() and "\r" not in value and "\n" not in value for value in values)


def _subject(subject: str) -> str | None:
    if "\r" in subject or "\n" in subject:
        return None
    if subject.isascii() and "=?" not in subject:
        return subject
    return Header(subject, "utf-8", header_name="Subject").encode()


def _part(subtype: str, body: str) -> bytes:
    text = body.replace("\r\n", "\n").encode()
    encoded = binascii.b2a_qp(text, quotetabs=False, istext=True, header=False)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    # Lines end in CRLF throughout, as they go over the wire.
    return (
        head.encode()
        + encoded.replace(b"\n", b"\r\n")
        + (b"" if encoded.endswith(b"\n") else b"\r\n")
    )


def encode_message(
    *,
    message_id: str,
    sender: str,
    recipient: str,
    subject: str,
    language: str,
    date: str,
    body_text: str,
    body_html: str = "",
    list_unsubscribe: str = "",
) -> bytes | None:
    """The message as bytes, headers as `services.build_message` writes them; None
    when a header needs the `email` package."""
    encoded_subject = _subject(subject)
    if encoded_subject is None or not _plain(sender, recipient, language, list_unsubscribe):
        return None
    headers = [
        f"From: {sender}",
        f"To: {recipient}",
        f"Subject: {encoded_subject}",
        f"Message-ID: {message_id}",
        f"Date: {date}",
        # Tells auto-responders (out of office) not to answer (RFC 3834).
        "Auto-Submitted: auto-generated",
    ]
    if list_unsubscribe:
        # One-click unsubscribe (RFC 8058): the mail provider POSTs to the address.
        headers.append(f"List-Unsubscribe: <{list_unsubscribe}>")
        headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    headers += ["MIME-Version: 1.0", f"Content-Language: {language}"]
    if not body_html:
        return "\r\n".join(headers).encode() + b"\r\n" + _part("plain", body_text)
    boundary = f"=_{secrets.token_hex(12)}"
    headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    opening, closing = f"\r\n--{boundary}\r\n".encode(), f"\r\n--{boundary}--\r\n".encode()
    return b"".join(
        [
            "\r\n".join(headers).encode(),
            b"\r\n",
            opening,
            _part("plain", body_text),
            opening,
            _part("html", body_html),
            closing,
        ]
    )
