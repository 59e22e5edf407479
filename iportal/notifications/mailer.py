"""Sending e-mail over SMTP (aiosmtplib), behind a small protocol.

Failures are sorted into those worth retrying (the server is down, busy or
says 4xx) and those that are not (the address is refused with 5xx).

`SmtpMailer` keeps one connection open from message to message (logging in and
greeting the server cost as much as sending a short message) until `close`; a
connection the server dropped while it waited is opened again once. Between the
envelope (MAIL FROM, RCPT TO) and the message itself (DATA) it waits for `ready`:
the outbox uses that moment to finish recording the previous message, so that at
most one message the server has taken is ever unrecorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from iportal.settings import Settings

# Awaited after the envelope is accepted and before the message is handed over.
Ready = Callable[[], Awaitable[None]]


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(
        self,
        message: EmailMessage | bytes,
        *,
        sender: str | None = None,
        recipients: Sequence[str] = (),
        ready: Ready | None = None,
    ) -> None:
        """Hand the message to the mail server or raise `DeliveryFailed`; `sender` is
        the envelope's (MAIL FROM, where bounces go), the `From` header's when None.
        A message already encoded (bytes) comes with its sender and `recipients`;
        `ready` is awaited between the envelope and the message."""
        ...

    async def close(self) -> None:
        """Let go of the connection to the server, if one is open."""
        ...


class SmtpMailer:
    def __init__(self, settings: Settings, timeout: float = 30) -> None:
        self.settings = settings
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None

    async def send(
        self,
        message: EmailMessage | bytes,
        *,
        sender: str | None = None,
        recipients: Sequence[str] = (),
        ready: Ready | None = None,
    ) -> None:
        try:
            reused = self._smtp is not None and self._smtp.is_connected
            try:
                await self._send(message, sender, recipients, ready)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The server closed the connection while it waited: once more, anew.
                await self.close()
                await self._send(message, sender, recipients, ready)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [response.code for response in error.recipients]
            raise DeliveryFailed(str(error), permanent=all(c >= 500 for c in codes)) from error
        except aiosmtplib.SMTPResponseException as error:
            await self._close_unless_connected()
            raise DeliveryFailed(str(error), permanent=error.code >= 500) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            await self.close()
            raise DeliveryFailed(str(error) or type(error).__name__, permanent=False) from error

    async def _send(
        self,
        message: EmailMessage | bytes,
        sender: str | None,
        recipients: Sequence[str],
        ready: Ready | None,
    ) -> None:
        smtp = await self._connection()
        if isinstance(message, EmailMessage):  # rare (forwards): ready before it all
            if ready is not None:
                await ready()
            await smtp.send_message(message, sender=sender)
            return
        assert sender is not None and recipients, "encoded messages need their envelope"
        await self._transaction(smtp, message, sender, recipients, ready)

    @staticmethod
    async def _transaction(
        smtp: aiosmtplib.SMTP,
        message: bytes,
        sender: str,
        recipients: Sequence[str],
        ready: Ready | None,
    ) -> None:
        """One mail transaction, as `aiosmtplib.SMTP.sendmail` has it, with `ready`
        awaited before DATA; a refusal resets the envelope for the next message."""
        options = [f"size={len(message)}"] if smtp.supports_extension("size") else []
        try:
            await smtp.mail(sender, options=options)
            refused = []
            for recipient in recipients:
                try:
                    await smtp.rcpt(recipient)
                except aiosmtplib.SMTPRecipientRefused as error:
                    refused.append(error)
            if len(refused) == len(recipients):
                raise aiosmtplib.SMTPRecipientsRefused(refused)
            if ready is not None:
                await ready()
            await smtp.data(message)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await smtp.rset()
            raise

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        settings = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_tls == "tls",
            start_tls=settings.smtp_tls == "starttls",
            timeout=self.timeout,
        )
        await smtp.connect()
        if smtp.last_ehlo_response is None:
            await smtp.ehlo()
        self._smtp = smtp
        return smtp

    async def _close_unless_connected(self) -> None:
        if self._smtp is not None and not self._smtp.is_connected:
            await self.close()

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None or not smtp.is_connected:
            return
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
