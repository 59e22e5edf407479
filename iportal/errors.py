"""Domain errors raised by services; one handler in the web layer maps them to HTTP.

Each error carries an English message marked for translation and its
parameters; the handler translates it into the reader's language. Services
never import Litestar: the HTTP status lives here as a plain number.
"""

from __future__ import annotations

from typing import Any, ClassVar

from iportal.i18n import N_, gettext


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    default_message: ClassVar[str] = N_("The request could not be processed.")

    def __init__(self, message: str | None = None, **params: Any) -> None:
        # A message that is already translated can be passed as
        # message="%(reason)s", reason=text: gettext leaves it as it is.
        self.message = message or self.default_message
        self.params = params
        super().__init__(self.message % params if params else self.message)

    def translated(self) -> str:
        """The message in the current request's language."""
        return gettext(self.message, **self.params)


class InvalidInput(DomainError):
    status_code = 422
    default_message = N_("Some of the information given is not valid.")


class NotAuthenticated(DomainError):
    status_code = 401
    default_message = N_("Please log in first.")


class Forbidden(DomainError):
    status_code = 403
    default_message = N_("You are not allowed to do this.")


class NotFound(DomainError):
    """Also what a caller gets for something that exists but is not theirs."""

    status_code = 404
    default_message = N_("Not found.")


class Conflict(DomainError):
    status_code = 409
    default_message = N_("This conflicts with what is already there.")


class Gone(DomainError):
    status_code = 410
    default_message = N_("This is no longer valid.")


class TooManyAttempts(DomainError):
    status_code = 429
    default_message = N_("Too many attempts. Please try again later.")

    def __init__(self, retry_after_seconds: int, message: str | None = None, **params: Any):
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message, **params)
