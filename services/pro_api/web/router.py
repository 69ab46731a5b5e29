"""``/app/``: the patient's phone app, served as static files from this package.

An explicit list of files (nothing else under ``/app/`` is served), each revalidated on every
load (``no-cache`` + ETag) so a fix reaches phones at once; the service worker keeps copies for
opening the app offline. Page routes are left out of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from services.common.errors import NotFound

STATIC = Path(__file__).parent / "static"
FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "sw.js": "text/javascript; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}
REVALIDATE = {"Cache-Control": "no-cache"}

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("")
async def app_without_slash() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=308)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=REVALIDATE
    )


@router.get("/{name}")
async def static_file(name: str) -> FileResponse:
    if name not in FILES:
        raise NotFound(f"/app/{name}")
    return FileResponse(STATIC / name, media_type=FILES[name], headers=REVALIDATE)
