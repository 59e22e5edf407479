"""Where a person may be sent back to after logging in or switching language: a path
on this site, nothing else (never an open redirect)."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

HOME = "/"
# Decoding more often than this to find what a path hides is an attack, not a link.
MOST_DECODINGS = 4


def _harmless(text: str) -> bool:
    """No backslash (browsers read `/\\` as `//`), no whitespace and no control
    characters (browsers drop tabs and newlines, so `/\\t/evil.com` is `//evil.com`)."""
    return not any(
        char == "\\" or char.isspace() or unicodedata.category(char) in ("Cc", "Cf")
        for char in text
    )


def _same_site_path(path: str) -> bool:
    """One path, and each of its percent-decoded forms, stays on this site: it starts
    with one slash and has no dot segments (which a later normalisation could fold
    into `//`)."""
    for _ in range(MOST_DECODINGS):
        if not path.startswith("/") or path.startswith("//") or not _harmless(path):
            return False
        if any(segment in (".", "..") for segment in path.split("/")):
            return False
        decoded = unquote(path)
        if decoded == path:
            return True
        path = decoded
    return False


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site (with its query and fragment), else `/`.

    Refused: anything with a scheme or a host (`https://…`, `//…`, `javascript:…`),
    backslashes, whitespace and control characters anywhere, and paths whose
    percent-decoding is one of those (`/%5Cevil.com`, `/%2F%2Fevil.com`)."""
    if not target or not _harmless(target):
        return HOME
    path = target.split("#", 1)[0].split("?", 1)[0]
    return target if _same_site_path(path) else HOME
