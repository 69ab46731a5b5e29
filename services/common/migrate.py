"""Alembic, driven from Python: ``captem migrate``, ``captem run`` and the tests use this."""

from __future__ import annotations

from importlib import import_module, resources
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.settings import ServiceName


def alembic_config(service: ServiceName) -> Config:
    ini = resources.files("migrations").joinpath("alembic.ini")
    return Config(str(ini), ini_section=service)


async def _run(engine: AsyncEngine, service: ServiceName, action: str, revision: str) -> None:
    config = alembic_config(service)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def upgrade(engine: AsyncEngine, service: ServiceName, revision: str = "head") -> None:
    await _run(engine, service, "upgrade", revision)


async def downgrade(engine: AsyncEngine, service: ServiceName, revision: str = "base") -> None:
    await _run(engine, service, "downgrade", revision)


async def schema_differences(engine: AsyncEngine, service: ServiceName) -> list[Any]:
    """What autogenerate would change: empty when the migrations match the models."""
    metadata = import_module(f"services.{service}.models").metadata

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)
