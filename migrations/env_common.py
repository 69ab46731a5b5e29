"""The body of both services' ``env.py``: online migrations on the service's own database.

``captem migrate`` (and the test-suite) pass an open connection in ``config.attributes``; the plain
``alembic`` command gets the URL from CAPTEM_* settings and runs its own async engine.
"""

from __future__ import annotations

import asyncio
from importlib import import_module
from typing import Any, cast

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.common.settings import ServiceName


def _configure_and_run(connection: Connection, metadata: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    config = context.config
    service = cast(ServiceName, config.config_ini_section)
    metadata = import_module(f"services.{service}.models").metadata
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection, metadata)
        return
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database")
    from services.common.settings import get_settings

    url = config.attributes.get("url") or get_settings().database_url(service)

    async def online() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(_configure_and_run, metadata)
        await engine.dispose()

    asyncio.run(online())
