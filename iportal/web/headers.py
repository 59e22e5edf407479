"""Security headers on every response: pages, JSON, files, static files and errors,
including the 404 of a path no route matches (a `before_send` hook sees them all).

The Content-Security-Policy allows no inline script or style: pages load their
stylesheet and scripts from `/static/` (fingerprinted names, `iportal.web.assets`),
never `style="…"` or an inline `<script>`. No page may be framed. Anything that does
not say otherwise is `no-store`: what a logged-in person sees, and each invoice file,
stays out of every cache; only the static files say they may be kept.
"""

from __future__ import annotations

import functools

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from iportal.settings import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# Nothing the portal does needs these; a page that someone managed to inject into
# could not ask for them either.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
HSTS = "max-age=31536000; includeSubDomains"


@functools.cache
def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every response gets; HSTS only when the portal is served over https
    (over http a browser ignores it, and a local demo must not pin its host)."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    }
    if settings.base_url.startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


async def add_security_headers(message: Message, scope: Scope) -> None:
    """The app's `before_send` hook. A header the handler set stays: a page with a
    token in its address sends the stricter `Referrer-Policy: no-referrer`."""
    if message["type"] != "http.response.start":
        return
    settings: Settings = scope["app"].state.settings
    headers = MutableScopeHeaders.from_message(message)
    for name, value in security_headers(settings).items():
        if name not in headers:
            headers[name] = value
    if "cache-control" not in headers:
        headers["Cache-Control"] = "no-store"
