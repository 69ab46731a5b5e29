"""Migrations: upgrade an empty database to head, autogenerate finds nothing, downgrade to base
and upgrade again — for both services, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from services.common import migrate
from services.common.db import create_engine
from tests.support.databases import empty_database


@pytest.mark.parametrize("service", ["pro_api", "safety_api"])
async def test_upgrade_matches_models_then_downgrade_and_upgrade_again(backend, service, tmp_path):
    async with empty_database(backend, "mig", tmp_path) as url:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine, service)
            assert await migrate.schema_differences(engine, service) == []
            await migrate.downgrade(engine, service, "base")
            async with engine.connect() as conn:
                names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            assert set(names) <= {"alembic_version"}
            await migrate.upgrade(engine, service)
            assert await migrate.schema_differences(engine, service) == []
        finally:
            await engine.dispose()


@pytest.mark.parametrize("service", ["pro_api", "safety_api"])
async def test_audit_table_refuses_update_and_delete(backend, service, tmp_path):
    async with empty_database(backend, "trg", tmp_path) as url:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine, service)
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO audit_events (occurred_at, actor, role, action, entity_type, "
                        "entity_id, prev_hash, hash) "
                        "VALUES (CURRENT_TIMESTAMP, 'a', 'system', 'x', "
                        "'t', '1', 'p', 'h')"
                    )
                )
            for statement in ("UPDATE audit_events SET actor = 'b'", "DELETE FROM audit_events"):
                with pytest.raises(Exception, match="append-only"):
                    async with engine.begin() as conn:
                        await conn.execute(text(statement))
        finally:
            await engine.dispose()
