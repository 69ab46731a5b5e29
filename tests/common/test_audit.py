"""Audit trail: hash-chained and append-only; tampering is found and named."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from sqlalchemy import select, text

from services.common import audit, migrate
from services.common.db import Database
from services.safety_api.models import tables
from tests.support.databases import empty_database


async def _record(db: Database, n: int, prefix: str = "e") -> None:
    for i in range(n):
        async with db.sessionmaker() as session:
            await audit.record(
                session,
                tables,
                actor="tester",
                action="thing.create",
                entity_type="thing",
                entity_id=f"{prefix}{i}",
                after={"value": i, "nested": {"ok": True}},
                reason="test",
            )
            await session.commit()


async def _tamper(db: Database, statement: str) -> None:
    """What a DBA with table-owner rights could do: switch the guard off, then edit."""
    async with db.engine.begin() as conn:
        if db.is_postgres:
            await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            await conn.execute(text(statement))
            await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER audit_events_no_update"))
            await conn.execute(text("DROP TRIGGER audit_events_no_delete"))
            await conn.execute(text(statement))


async def _verify(db: Database) -> audit.ChainReport:
    async with db.engine.connect() as conn:
        return await audit.verify_chain(conn, tables)


async def test_an_untouched_chain_verifies(backend, tmp_path) -> None:
    async with empty_database(backend, "aud", tmp_path) as url:
        db = Database.connect(url)
        await migrate.upgrade(db.engine, "safety_api")
        await _record(db, 5)
        report = await _verify(db)
        await db.dispose()
    assert report.ok and report.checked == 5


async def test_a_changed_row_breaks_the_chain_at_that_row(backend, tmp_path) -> None:
    async with empty_database(backend, "aud", tmp_path) as url:
        db = Database.connect(url)
        await migrate.upgrade(db.engine, "safety_api")
        await _record(db, 4)
        async with db.sessionmaker() as session:
            ids = (
                (
                    await session.execute(
                        select(tables.audit_events.c.id).order_by(tables.audit_events.c.id)
                    )
                )
                .scalars()
                .all()
            )
        await _tamper(db, f"UPDATE audit_events SET reason = 'edited' WHERE id = {ids[2]}")
        report = await _verify(db)
        await db.dispose()
    assert not report.ok
    assert report.broken_id == ids[2]
    assert report.checked == 2
    assert "changed" in (report.problem or "")


async def test_a_deleted_row_breaks_the_chain_at_the_next_row(backend, tmp_path) -> None:
    async with empty_database(backend, "aud", tmp_path) as url:
        db = Database.connect(url)
        await migrate.upgrade(db.engine, "safety_api")
        await _record(db, 4)
        async with db.sessionmaker() as session:
            ids = (
                (
                    await session.execute(
                        select(tables.audit_events.c.id).order_by(tables.audit_events.c.id)
                    )
                )
                .scalars()
                .all()
            )
        await _tamper(db, f"DELETE FROM audit_events WHERE id = {ids[1]}")
        report = await _verify(db)
        await db.dispose()
    assert report.broken_id == ids[2]
    assert "deleted" in (report.problem or "")


async def test_concurrent_writers_keep_one_unbroken_chain(backend, tmp_path) -> None:
    async with empty_database(backend, "aud", tmp_path) as url:
        db = Database.connect(url)
        await migrate.upgrade(db.engine, "safety_api")
        await asyncio.gather(*(_record(db, 5, prefix=f"w{w}-") for w in range(6)))
        report = await _verify(db)
        await db.dispose()
    assert report.ok and report.checked == 30


async def test_captem_audit_verify_fails_naming_the_changed_row(backend, tmp_path) -> None:
    async with empty_database(backend, "aud", tmp_path) as url:
        db = Database.connect(url)
        await migrate.upgrade(db.engine, "safety_api")
        await _record(db, 3)
        env = {**os.environ, "CAPTEM_SAFETY_DATABASE_URL": url, "CAPTEM_DATA_DIR": str(tmp_path)}
        command = [sys.executable, "-m", "services.common.cli", "audit", "verify", "safety_api"]
        intact = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
        )
        assert intact.returncode == 0, intact.stderr
        assert "intact (3 events)" in intact.stdout
        async with db.sessionmaker() as session:
            last = (
                await session.execute(
                    select(tables.audit_events.c.id).order_by(tables.audit_events.c.id.desc())
                )
            ).scalar()
        await _tamper(db, f"UPDATE audit_events SET actor = 'someone else' WHERE id = {last}")
        broken = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
        )
        await db.dispose()
    assert broken.returncode == 1
    assert f"BROKEN at audit_events.id={last}" in broken.stdout
