"""CSS and scripts under fingerprinted names: served with a year of caching, their
name following their content, a stale or unknown name a 404 that no cache keeps; the
pages ask for the current names, and only the documents page loads a script."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest

from iportal.web.assets import IMMUTABLE, STATIC_DIR, assets, static_url
from tests.accounts.security_support import logged_in, person
from tests.conftest import ROOT

LINKED = re.compile(r'<(?:link[^>]*href|script[^>]*src)="(/static/[^"]+)"')
SCRIPT = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


def test_a_name_carries_the_hash_of_the_content() -> None:
    files = sorted(p.name for p in STATIC_DIR.iterdir() if p.is_file())
    assert {"app.css", "documents.js"} <= set(files)
    for name in files:
        body = (STATIC_DIR / name).read_bytes()
        stem, _, suffix = name.rpartition(".")
        digest = hashlib.sha256(body).hexdigest()[:12]
        assert static_url(name) == f"/static/{stem}.{digest}.{suffix}"
    with pytest.raises(LookupError):
        static_url("missing.css")


async def test_static_files_are_served_by_their_fingerprint_and_kept_a_year(
    client: httpx.AsyncClient,
) -> None:
    for asset in assets().values():
        response = await client.get(static_url(asset.name))
        assert response.status_code == 200, asset.name
        assert response.content == (STATIC_DIR / asset.name).read_bytes()
        assert (
            response.headers["cache-control"]
            == IMMUTABLE
            == ("public, max-age=31536000, immutable")
        )
        assert "set-cookie" not in response.headers
    css = await client.get(static_url("app.css"))
    assert css.headers["content-type"].startswith("text/css")
    script = await client.get(static_url("documents.js"))
    assert "javascript" in script.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/app.css",  # the plain name: pages never ask for it
        "/static/app.000000000000.css",  # a stale fingerprint
        "/static/app.3664bae91cdc.js",
        "/static/nothing.js",
        "/static/..%2Fapp.py",
        "/static/",
    ],
)
async def test_an_unknown_or_stale_name_is_a_404_kept_by_no_cache(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404, path
    assert response.headers["cache-control"] == "no-store"


async def test_pages_link_the_current_names_and_only_the_documents_page_a_script(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    pages = {path: (await client.get(path)).text for path in ("/", "/login", "/activate")}
    anna = await person()
    await logged_in(client, anna["email"])
    for path in ("/documents", "/client-numbers", "/me", "/me/security", "/me/tokens"):
        response = await client.get(path)
        assert response.status_code == 200, path
        pages[path] = response.text
    for path, html in pages.items():
        linked = LINKED.findall(html)
        assert static_url("app.css") in linked, path
        for address in linked:
            assert (await client.get(address)).status_code == 200, (path, address)
        scripts = SCRIPT.findall(html)
        if path == "/documents":
            assert linked.count(static_url("documents.js")) == 1
            assert len(scripts) == 1
        else:
            assert scripts == [], path


def test_no_template_writes_a_static_address_by_hand() -> None:
    for template in (ROOT / "iportal").glob("*/templates/**/*.html"):
        assert "/static/" not in template.read_text(encoding="utf-8"), template
    for template in (ROOT / "iportal").glob("**/templates/**/*.html"):
        text = template.read_text(encoding="utf-8")
        if "documents.js" in text:
            assert template.name == "list.html", template
