"""The phone app's files under /app/: served from a fixed list, revalidated on every load,
with the strict security headers, no inline script, and out of the OpenAPI document."""

from __future__ import annotations

import re

import pytest

STATIC = [
    ("/app/app.js", "text/javascript"),
    ("/app/app.css", "text/css"),
    ("/app/sw.js", "text/javascript"),
    ("/app/manifest.webmanifest", "application/manifest+json"),
    ("/app/icon.svg", "image/svg+xml"),
    ("/app/icon-192.png", "image/png"),
    ("/app/icon-512.png", "image/png"),
]


async def test_app_page_has_a_strict_csp_and_no_inline_script(pro) -> None:
    response = await pro.get("/app/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    for directive in ("script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in csp
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    html = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    assert " style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "nothing from another origin"


@pytest.mark.parametrize(("path", "media_type"), STATIC)
async def test_app_files_are_served_with_their_types(pro, path: str, media_type: str) -> None:
    response = await pro.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_only_the_listed_files_are_served(pro) -> None:
    for path in ("/app/router.py", "/app/..%2Frouter.py", "/app/index.html.bak", "/app/static"):
        assert (await pro.get(path)).status_code == 404, path


async def test_app_without_slash_redirects(pro) -> None:
    response = await pro.get("/app")
    assert response.status_code == 308
    assert response.headers["location"] == "/app/"


async def test_manifest_makes_the_app_installable(pro) -> None:
    manifest = (await pro.get("/app/manifest.webmanifest")).json()
    assert manifest["start_url"] == "/app/" and manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}


async def test_pages_are_not_in_the_openapi_document(pro) -> None:
    paths = (await pro.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/app")]


async def test_api_docs_keep_working_with_a_relaxed_csp_that_still_forbids_framing(pro) -> None:
    response = await pro.get("/docs")
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-frame-options"] == "DENY"
