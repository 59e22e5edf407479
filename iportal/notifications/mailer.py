"""Sending e-mail over SMTP (aiosmtplib), behind a small protocol.

Failures are sorted into those worth retrying (the server is down, busy or
says 4xx) and those that are not (the address is refused with 5xx).
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from iportal.settings import Settings


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, message: EmailMessage, *, sender: str | None = None) -> None:
        """Hand the message to the mail server or raise `DeliveryFailed`; `sender` is
        the envelope's (MAIL FROM, where bounces go), the `From` header's when None."""
        ...


class SmtpMailer:
    def __init__(self, settings: Settings, timeout: float = 30) -> None:
        self.settings = settings
        self.timeout = timeout

    async def send(self, message: EmailMessage, *, sender: str | None = None) -> None:
        settings = self.settings
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                use_tls=settings.smtp_tls == "tls",
                start_tls=settings.smtp_tls == "starttls",
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [response.code for response in error.recipients]
            raise DeliveryFailed(str(error), permanent=all(c >= 500 for c in codes)) from error
        except aiosmtplib.SMTPResponseException as error:
            raise DeliveryFailed(str(error), permanent=error.code >= 500) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(str(error) or type(error).__name__, permanent=False) from error
