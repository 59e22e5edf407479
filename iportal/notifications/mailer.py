"""Sending e-mail over SMTP (aiosmtplib), behind a small protocol.

Failures are sorted into those worth retrying (the server is down, busy or
says 4xx) and those that are not (the address is refused with 5xx).

`SmtpMailer` keeps one connection open from message to message (logging in and
greeting the server cost as much as sending a short message) until `close`; a
connection the server dropped while it waited is opened again once.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from iportal.settings import Settings


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
    ) -> None:
        """Hand the message to the mail server or raise `DeliveryFailed`; `sender` is
        the envelope's (MAIL FROM, where bounces go), the `From` header's when None.
        A message already encoded (bytes) comes with its sender and `recipients`."""
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
    ) -> None:
        try:
            reused = self._smtp is not None and self._smtp.is_connected
            try:
                await self._send(message, sender, recipients)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The server closed the connection while it waited: once more, anew.
                await self.close()
                await self._send(message, sender, recipients)
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
        self, message: EmailMessage | bytes, sender: str | None, recipients: Sequence[str]
    ) -> None:
        smtp = await self._connection()
        if isinstance(message, bytes):
            assert sender is not None and recipients, "encoded messages need their envelope"
            await smtp.sendmail(sender, list(recipients), message)
        else:
            await smtp.send_message(message, sender=sender)

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
