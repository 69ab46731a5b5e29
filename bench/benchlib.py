"""Shared pieces of the benchmarks: temporary databases on SQLite or the local PostgreSQL."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from services.common.settings import normalise_database_url

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@asynccontextmanager
async def temporary_database(backend: str, directory: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'bench_safety.sqlite3'}"
        return
    name = f"captem_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield normalise_database_url(POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
