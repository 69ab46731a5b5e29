"""Real databases for tests: SQLite files or fresh PostgreSQL databases, migrated by Alembic."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from services.common import migrate
from services.common.db import create_engine
from services.common.settings import SERVICES, ServiceName, normalise_database_url


def postgres_admin_dsn() -> str:
    url = os.environ["TEST_POSTGRES_URL"]
    return "postgresql://" + url.split("://", 1)[1]


def _with_database(dsn: str, name: str) -> str:
    base = dsn.rsplit("/", 1)[0]
    return f"{base}/{name}"


@asynccontextmanager
async def empty_database(backend: str, tag: str, directory: Path) -> AsyncIterator[str]:
    """A new, empty database; its async SQLAlchemy URL. Dropped afterwards (PostgreSQL)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{(directory / f'{tag}-{uuid.uuid4().hex[:8]}.sqlite3')}"
        return
    name = f"captem_{tag}_{uuid.uuid4().hex[:8]}".lower()
    admin_dsn = postgres_admin_dsn()
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield normalise_database_url(_with_database(admin_dsn, name))
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def migrate_url(url: str, service: ServiceName) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, service)
    finally:
        await engine.dispose()


@asynccontextmanager
async def migrated_databases(
    backend: str, tag: str, directory: Path
) -> AsyncIterator[dict[str, str]]:
    async with (
        empty_database(backend, f"{tag}_pro", directory) as pro_url,
        empty_database(backend, f"{tag}_safety", directory) as safety_url,
    ):
        urls = {"pro_api": pro_url, "safety_api": safety_url}
        for service in SERVICES:
            await migrate_url(urls[service], service)
        yield urls
