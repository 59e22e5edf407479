"""Which of our four languages a browser's `Accept-Language` asks for."""

from __future__ import annotations

import pytest

from iportal.i18n import negotiate


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl", "nl"),
        ("nl-BE", "nl"),
        ("NL-be", "nl"),
        ("fr-BE,en;q=0.5", "fr"),
        ("de-DE, de;q=0.9, en;q=0.8", "de"),
        ("en-GB,en-US;q=0.9", "en"),
        # q-values rank the tags, whatever their order; equal ones keep their order.
        ("en;q=0.5, nl;q=0.9", "nl"),
        ("fr;q=0.7, de;q=0.7", "fr"),
        ("es, it;q=0.9, de;q=0.1", "de"),
        ("nl;level=1;q=0.4, fr;q=0.5", "fr"),
        ("nl ; q=0.4 , fr ; Q=0.5", "fr"),
        # Languages we do not have, or that are refused (q=0), are skipped.
        ("es-ES, pt", None),
        ("nl;q=0, en;q=0.1", "en"),
        ("nl;q=0", None),
        ("nl;q=abc, fr;q=0.2", "fr"),
        ("nl;q=nan", None),
        ("*", None),
        ("*, de;q=0.1", "de"),
        ("nl_BE", None),  # not an Accept-Language tag
        ("", None),
        (None, None),
        (",,;", None),
    ],
)
def test_the_best_of_our_languages(header: str | None, language: str | None) -> None:
    assert negotiate(header) == language
