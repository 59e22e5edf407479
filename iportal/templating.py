"""One Jinja2 environment for pages and e-mails: autoescaped, translated with gettext.

Templates are looked up in `iportal/web/templates` and in each domain's
`templates/` folder, so a domain's pages live beside its code.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import NumberPattern, format_decimal, parse_pattern
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from iportal import i18n

PACKAGE_DIR = Path(__file__).parent
DOMAINS = ("accounts", "documents", "sharing", "notifications", "demo")


def _locale() -> str:
    return {"nl": "nl_BE", "fr": "fr_BE", "de": "de_BE", "en": "en_GB"}[i18n.current_language.get()]


@functools.cache
def _currency_pattern(locale: str) -> NumberPattern:
    """Parsing a locale's currency pattern costs more than applying it: once per locale."""
    return parse_pattern(Locale.parse(locale).currency_formats["standard"])


def money(amount: Decimal, currency: str = "EUR") -> str:
    locale = _locale()
    return _currency_pattern(locale).apply(amount, Locale.parse(locale), currency=currency)


def number(amount: Decimal) -> str:
    return format_decimal(amount, format="#,##0.00", locale=_locale())


def number0(count: int) -> str:
    return format_decimal(count, format="#,##0", locale=_locale())


def day(value: date | None) -> str:
    return _day(value, _locale()) if value else ""


@functools.lru_cache(maxsize=4096)
def _day(value: date, locale: str) -> str:
    # A list shows the same few hundred dates again and again.
    return format_date(value, format="medium", locale=locale)


def moment(value: datetime | None) -> str:
    return format_datetime(value, format="medium", locale=_locale()) if value else ""


@functools.cache
def environment() -> Environment:
    folders = [PACKAGE_DIR / "web" / "templates"]
    folders += [PACKAGE_DIR / domain / "templates" for domain in DOMAINS]
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(folder)) for folder in folders]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message, **params: i18n.gettext(message, **params),
        lambda singular, plural, n, **params: i18n.ngettext(singular, plural, n, **params),
        newstyle=True,
    )
    env.filters.update(money=money, number=number, number0=number0, day=day, moment=moment)
    env.globals.update(
        languages=i18n.LANGUAGE_NAMES,
        current_language=lambda: i18n.current_language.get(),
    )
    return env
