"""All configuration, read from the environment once into a frozen object.

A bad value stops the program with one line naming the variable and what is
expected (`SettingsError`); the CLI prints that line and exits with status 2.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_KEY_LENGTH = 32
SMTP_TLS_MODES = ("none", "starttls", "tls")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message is one line."""

    def __init__(self, variable: str, expected: str, value: str | None = None) -> None:
        self.variable = variable
        shown = "" if value is None else f", got {value!r}"
        super().__init__(f"{variable}: expected {expected}{shown}")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    secret_key: str = field(repr=False)
    database_url: str | None = field(default=None, repr=False)
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_tls: str = "none"
    mail_from: str = "noreply@iportal.localhost"
    # Envelope senders are `bounce+<id>-<signature>@bounce_domain` (VERP); empty means
    # the domain of `mail_from`.
    bounce_domain: str = ""
    # `host:port` where `iportal worker` accepts delivery status notifications; off when None.
    bounce_listen: tuple[str, int] | None = None
    session_idle_minutes: int = 60
    session_max_hours: int = 24
    max_upload_bytes: int = 20 * 1024 * 1024
    max_pages: int = 500
    log_level: str = "INFO"
    log_format: str = "text"
    # Daily digests go out at this hour of this time zone, weekly ones on Mondays.
    digest_hour: int = 7
    digest_timezone: str = "Europe/Brussels"
    # Set by `iportal demo` only: serves the mail catcher's page at /dev/mail.
    demo_mode: bool = False

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def return_path_domain(self) -> str:
        """The domain of the per-message return paths (VERP)."""
        return self.bounce_domain or self.mail_from.rpartition("@")[2]

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def embedded_db_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def mail_dir(self) -> Path:
        """Where the demo's mail catcher writes `.eml` files."""
        return self.data_dir / "mail"


def _text(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _parsed(
    env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], expected: str
) -> T:
    raw = _text(env, name, None)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError:
        raise SettingsError(name, expected, raw) from None


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        number = int(raw)
        if not low <= number <= high:
            raise ValueError(raw)
        return number

    return parse


def _one_of(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in choices:
            raise ValueError(raw)
        return value

    return parse


def _database_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("postgresql", "postgres") or not (parts.netloc or parts.query):
        raise ValueError(raw)
    return raw


def _base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(raw)
    return raw.rstrip("/")


def _time_zone(raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(raw) from error
    return raw.strip()


def _email(raw: str) -> str:
    if not _EMAIL.match(raw):
        raise ValueError(raw)
    return raw


def _domain(raw: str) -> str:
    domain = raw.lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise ValueError(raw)
    return domain


def _host_port(raw: str) -> tuple[str, int]:
    """`127.0.0.1:8026`, `[::1]:8026`, `bounces.internal:25`."""
    host, _, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or any(c.isspace() for c in host):
        raise ValueError(raw)
    return host, _int_between(1, 65535)(port)


def _secret_key(env: Mapping[str, str], data_dir: Path) -> str:
    given = _text(env, "IPORTAL_SECRET_KEY", None)
    if given is not None:
        if len(given) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                "IPORTAL_SECRET_KEY", f"at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        return given
    return _stored_secret_key(data_dir)


def _stored_secret_key(data_dir: Path) -> str:
    """Generated once into the data folder; every later start reads the same key."""
    path = data_dir / SECRET_KEY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                "IPORTAL_SECRET_KEY",
                f"a key of at least {MIN_SECRET_KEY_LENGTH} characters in {path}",
            ) from None
        return key
    except OSError as error:
        raise SettingsError(
            "IPORTAL_DATA_DIR", f"a folder this user can write ({error.strerror})", str(data_dir)
        ) from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
        file.flush()
        os.fsync(file.fileno())
    return key


def read_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raises `SettingsError` on the first bad value."""
    env = os.environ if env is None else env
    data_dir = Path(_text(env, "IPORTAL_DATA_DIR", "./var") or "./var").expanduser().resolve()
    port = _int_between(1, 65535)
    minutes = _int_between(1, 7 * 24 * 60)
    return Settings(
        data_dir=data_dir,
        database_url=_parsed(env, "DATABASE_URL", None, _database_url, "a postgresql://… URL"),
        base_url=_parsed(
            env, "IPORTAL_BASE_URL", Settings.base_url, _base_url, "an http:// or https:// URL"
        ),
        smtp_host=_text(env, "IPORTAL_SMTP_HOST", Settings.smtp_host) or Settings.smtp_host,
        smtp_port=_parsed(
            env, "IPORTAL_SMTP_PORT", Settings.smtp_port, port, "a port number from 1 to 65535"
        ),
        smtp_username=_text(env, "IPORTAL_SMTP_USERNAME", None),
        smtp_password=_text(env, "IPORTAL_SMTP_PASSWORD", None),
        smtp_tls=_parsed(
            env, "IPORTAL_SMTP_TLS", "none", _one_of(SMTP_TLS_MODES), "one of starttls, tls, none"
        ),
        mail_from=_parsed(
            env, "IPORTAL_MAIL_FROM", Settings.mail_from, _email, "an e-mail address"
        ),
        bounce_domain=_parsed(env, "IPORTAL_BOUNCE_DOMAIN", "", _domain, "a domain name"),
        bounce_listen=_parsed(
            env, "IPORTAL_BOUNCE_LISTEN", None, _host_port, "host:port, for example 127.0.0.1:8026"
        ),
        session_idle_minutes=_parsed(
            env, "IPORTAL_SESSION_IDLE_MINUTES", 60, minutes, "minutes from 1 to 10080"
        ),
        session_max_hours=_parsed(
            env, "IPORTAL_SESSION_MAX_HOURS", 24, _int_between(1, 24 * 30), "hours from 1 to 720"
        ),
        max_upload_bytes=_parsed(
            env,
            "IPORTAL_MAX_UPLOAD_MB",
            Settings.max_upload_bytes,
            lambda raw: _int_between(1, 1024)(raw) * 1024 * 1024,
            "megabytes from 1 to 1024",
        ),
        max_pages=_parsed(
            env,
            "IPORTAL_MAX_PAGES",
            Settings.max_pages,
            _int_between(1, 100_000),
            "a page count from 1 to 100000",
        ),
        log_level=_parsed(
            env,
            "IPORTAL_LOG_LEVEL",
            "INFO",
            _one_of(LOG_LEVELS, upper=True),
            "one of DEBUG, INFO, WARNING, ERROR",
        ),
        log_format=_parsed(
            env, "IPORTAL_LOG_FORMAT", "text", _one_of(LOG_FORMATS), "one of text, json"
        ),
        digest_hour=_parsed(
            env,
            "IPORTAL_DIGEST_HOUR",
            Settings.digest_hour,
            _int_between(0, 23),
            "an hour from 0 to 23",
        ),
        digest_timezone=_parsed(
            env,
            "IPORTAL_DIGEST_TIMEZONE",
            Settings.digest_timezone,
            _time_zone,
            "a time zone such as Europe/Brussels",
        ),
        secret_key=_secret_key(env, data_dir),
    )


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return read_settings()
