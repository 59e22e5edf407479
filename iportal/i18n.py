"""Translations in nl, fr, en and de, chosen per request or per e-mail recipient.

The `.po` catalogues under `iportal/web/locale/` are compiled in memory when
first used, so a missing `.mo` file can never leave a page untranslated.
Services mark messages with `N_` (no translation yet) and the web layer or the
mailer translates them in the reader's language.
"""

from __future__ import annotations

import contextlib
import functools
import gettext as stdlib_gettext
import io
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from iportal.columns import LANGUAGES

DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "web" / "locale"
LANGUAGE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English", "de": "Deutsch"}

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


@functools.cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return stdlib_gettext.NullTranslations()
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return stdlib_gettext.GNUTranslations(compiled)


def gettext(message: str, **params: Any) -> str:
    text = translations(current_language.get()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text = translations(current_language.get()).ngettext(singular, plural, n)
    params.setdefault("num", n)
    return text % params


def translate(message: str, language: str, **params: Any) -> str:
    with using_language(language):
        return gettext(message, **params)


@contextlib.contextmanager
def using_language(language: str) -> Iterator[str]:
    token = current_language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield current_language.get()
    finally:
        current_language.reset(token)


def _preferred(accept_language: str) -> list[str]:
    """The header's language tags, most wanted first (by q-value, then by position);
    tags with q=0, or a q-value that is not a number, are not wanted at all."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:  # NaN is not > 0 either
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(accept_language: str | None) -> str | None:
    """The best of our languages for an `Accept-Language` header, or None: Babel's
    negotiation (`nl-BE` is `nl`) over the tags in the order the header ranks them."""
    if not accept_language:
        return None
    best = negotiate_locale(_preferred(accept_language), LANGUAGES, sep="-", aliases={})
    return best.lower() if best else None
