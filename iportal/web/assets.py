"""The static files (CSS, scripts) under names that carry their content's hash:
`app.css` is served as `/static/app.3f2a9c1b.css`. A browser may then keep a file a
year without asking again, and a new release, whose files have new names, is never
shown with last year's styles. Pages take the address from `static_url()`; the names
are computed once, when the files are first needed, and the files are held in memory
(a few kilobytes)."""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
# Hex digits of the sha256 in a name: enough that two versions of a file never meet.
FINGERPRINT_LENGTH = 12
# A fingerprinted file never changes: any cache may keep it for a year without asking.
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str  # as the templates know it: "app.css"
    served_as: str  # with its fingerprint: "app.3f2a9c1b04de.css"
    body: bytes
    media_type: str


def _fingerprinted(path: Path, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()[:FINGERPRINT_LENGTH]
    return f"{path.stem}.{digest}{path.suffix}"


@functools.cache
def assets() -> dict[str, Asset]:
    """Every static file by its fingerprinted name."""
    found = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith("javascript"):
            media_type += "; charset=utf-8"
        asset = Asset(path.name, _fingerprinted(path, body), body, media_type)
        found[asset.served_as] = asset
    return found


@functools.cache
def _addresses() -> dict[str, str]:
    return {asset.name: f"{STATIC_PATH}/{asset.served_as}" for asset in assets().values()}


def static_url(name: str) -> str:
    """The address of a static file, with its fingerprint: `static_url("app.css")`.
    An unknown name is a mistake in a template, raised at once."""
    try:
        return _addresses()[name]
    except KeyError:
        raise LookupError(f"no static file called {name!r} in {STATIC_DIR}") from None
