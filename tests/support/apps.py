"""Run an app in-process with its lifespan, behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

import httpx

from services.common.settings import Settings


def build_app(service: str, settings: Settings) -> Any:
    return import_module(f"services.{service}.app").create_app(settings)


@asynccontextmanager
async def running_client(
    service: str, settings: Settings, customise: Callable[[Any], None] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(service, settings)
    if customise is not None:
        customise(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
