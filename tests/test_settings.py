"""Configuration: each bad value stops the program with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iportal.settings import SettingsError, read_settings

BAD_VALUES = [
    ("DATABASE_URL", "mysql://localhost/iportal", "DATABASE_URL: expected a postgresql://… URL"),
    ("IPORTAL_BASE_URL", "ftp://portal", "IPORTAL_BASE_URL: expected an http:// or https:// URL"),
    ("IPORTAL_SMTP_PORT", "abc", "IPORTAL_SMTP_PORT: expected a port number from 1 to 65535"),
    ("IPORTAL_SMTP_PORT", "70000", "IPORTAL_SMTP_PORT: expected a port number from 1 to 65535"),
    ("IPORTAL_SMTP_TLS", "maybe", "IPORTAL_SMTP_TLS: expected one of starttls, tls, none"),
    ("IPORTAL_MAIL_FROM", "not-an-address", "IPORTAL_MAIL_FROM: expected an e-mail address"),
    ("IPORTAL_SECRET_KEY", "short", "IPORTAL_SECRET_KEY: expected at least 32 characters"),
    ("IPORTAL_SESSION_IDLE_MINUTES", "0", "IPORTAL_SESSION_IDLE_MINUTES: expected minutes"),
    ("IPORTAL_MAX_UPLOAD_MB", "lots", "IPORTAL_MAX_UPLOAD_MB: expected megabytes"),
    ("IPORTAL_LOG_FORMAT", "xml", "IPORTAL_LOG_FORMAT: expected one of text, json"),
    ("IPORTAL_DIGEST_HOUR", "24", "IPORTAL_DIGEST_HOUR: expected an hour from 0 to 23"),
    ("IPORTAL_DIGEST_TIMEZONE", "Europe/Nowhere", "IPORTAL_DIGEST_TIMEZONE: expected a time zone"),
    ("IPORTAL_DIGEST_TIMEZONE", "../../etc/passwd", "IPORTAL_DIGEST_TIMEZONE: expected a time"),
    ("IPORTAL_BOUNCE_DOMAIN", "bounces example", "IPORTAL_BOUNCE_DOMAIN: expected a domain name"),
    ("IPORTAL_BOUNCE_LISTEN", "8026", "IPORTAL_BOUNCE_LISTEN: expected host:port"),
    ("IPORTAL_BOUNCE_LISTEN", "127.0.0.1:0", "IPORTAL_BOUNCE_LISTEN: expected host:port"),
]


@pytest.mark.parametrize(("variable", "value", "message"), BAD_VALUES)
def test_each_bad_value_names_its_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        read_settings({"IPORTAL_DATA_DIR": str(tmp_path), variable: value})
    text = str(raised.value)
    assert text.startswith(message)
    assert "\n" not in text
    if variable != "IPORTAL_SECRET_KEY":
        assert repr(value) in text  # the person sees what they wrote


def test_the_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "IPORTAL_DATA_DIR": str(tmp_path), "IPORTAL_SMTP_PORT": "abc"}
    done = subprocess.run(
        [sys.executable, "-m", "iportal", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "iportal: IPORTAL_SMTP_PORT: expected a port number from 1 to 65535, got 'abc'"
    ]
    assert "Traceback" not in done.stderr + done.stdout


def test_defaults_follow_the_documented_configuration(tmp_path: Path) -> None:
    settings = read_settings({"IPORTAL_DATA_DIR": str(tmp_path)})
    assert settings.database_url is None
    assert settings.base_url == "http://127.0.0.1:8000"
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "127.0.0.1",
        8025,
        "none",
    )
    assert settings.mail_from == "noreply@iportal.localhost"
    assert settings.bounce_listen is None
    assert settings.return_path_domain == "iportal.localhost"
    bounces = read_settings(
        {
            "IPORTAL_DATA_DIR": str(tmp_path),
            "IPORTAL_BOUNCE_DOMAIN": "Bounces.Portal.example.",
            "IPORTAL_BOUNCE_LISTEN": "[::1]:8026",
        }
    )
    assert bounces.return_path_domain == "bounces.portal.example"
    assert bounces.bounce_listen == ("::1", 8026)
    assert settings.secure_cookies is False
    assert read_settings(
        {"IPORTAL_DATA_DIR": str(tmp_path), "IPORTAL_BASE_URL": "https://portal.example"}
    ).secure_cookies


def test_secret_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = read_settings({"IPORTAL_DATA_DIR": str(tmp_path)}).secret_key
    second = read_settings({"IPORTAL_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second
    assert len(first) >= 32
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert read_settings({"IPORTAL_DATA_DIR": str(tmp_path / "other")}).secret_key != first


def test_given_secret_key_wins(tmp_path: Path) -> None:
    key = "k" * 40
    settings = read_settings({"IPORTAL_DATA_DIR": str(tmp_path), "IPORTAL_SECRET_KEY": key})
    assert settings.secret_key == key
    assert not (tmp_path / "secret_key").exists()
    assert key not in repr(settings)
