"""Append-only, hash-chained audit trail.

Each row's ``hash`` is SHA-256 over the previous row's hash and the row's canonical JSON, so
changing, deleting or re-ordering any row breaks every link after it; ``captem audit verify``
walks the chain and names the first broken row. PostgreSQL (and SQLite) triggers refuse UPDATE and
DELETE on the table. Writers serialise on a transaction-scoped advisory lock on PostgreSQL (SQLite
serialises writers already), so concurrent replicas cannot fork the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.auth import Principal
from services.common.db import utcnow
from services.common.requestid import current_request_id
from services.common.tables import PlatformTables

GENESIS = "0" * 64
# Arbitrary constant naming the audit chain's advisory lock ("captem audit" in ASCII, 63 bits).
AUDIT_LOCK_ID = 0x63617074656D6175


def _json_safe(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, default=str, sort_keys=True))


def _canonical(row: dict[str, Any]) -> bytes:
    fields = {
        k: row[k]
        for k in (
            "occurred_at",
            "actor",
            "role",
            "site_id",
            "action",
            "entity_type",
            "entity_id",
            "before",
            "after",
            "reason",
            "request_id",
        )
    }
    occurred = fields["occurred_at"]
    fields["occurred_at"] = occurred.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(row)).hexdigest()


async def record(
    session: AsyncSession,
    tables: PlatformTables,
    *,
    actor: Principal | str,
    action: str,
    entity_type: str,
    entity_id: str,
    site_id: str | None = None,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> str:
    """Append one audit event in the caller's transaction; returns its hash."""
    audit = tables.audit_events
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
    prev = (
        await session.execute(select(audit.c.hash).order_by(audit.c.id.desc()).limit(1))
    ).scalar_one_or_none()
    if isinstance(actor, Principal):
        actor_name, role = actor.key, str(actor.role)
        site_id = site_id if site_id is not None else actor.site
    else:
        actor_name, role = actor, "system"
    row: dict[str, Any] = {
        "occurred_at": utcnow(),
        "actor": actor_name,
        "role": role,
        "site_id": site_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": _json_safe(before),
        "after": _json_safe(after),
        "reason": reason,
        "request_id": current_request_id(),
    }
    prev_hash = prev or GENESIS
    row["prev_hash"] = prev_hash
    row["hash"] = chain_hash(prev_hash, row)
    await session.execute(audit.insert().values(**row))
    return str(row["hash"])


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str | None = None


async def verify_chain(conn: AsyncConnection, tables: PlatformTables) -> ChainReport:
    """Recompute every link in id order; report the first row whose hash or link is wrong."""
    audit = tables.audit_events
    expected_prev = GENESIS
    checked = 0
    result = await conn.stream(select(audit).order_by(audit.c.id))
    async for raw in result.mappings():
        row = dict(raw)
        if row["prev_hash"] != expected_prev:
            return ChainReport(
                False,
                checked,
                row["id"],
                "its prev_hash does not match the hash of the row before it "
                "(a row was deleted, inserted or re-ordered)",
            )
        if chain_hash(row["prev_hash"], row) != row["hash"]:
            return ChainReport(
                False,
                checked,
                row["id"],
                "its contents no longer match its hash (the row was changed)",
            )
        expected_prev = row["hash"]
        checked += 1
    return ChainReport(True, checked)


# Triggers making the table append-only. Created by each service's first migration.
POSTGRES_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION captem_audit_append_only() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION captem_audit_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
       FOR EACH STATEMENT EXECUTE FUNCTION captem_audit_append_only()""",
]
POSTGRES_APPEND_ONLY_DROP = [
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "DROP FUNCTION IF EXISTS captem_audit_append_only()",
]
SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed'); END""",
]
SQLITE_APPEND_ONLY_DROP = [
    "DROP TRIGGER IF EXISTS audit_events_no_update",
    "DROP TRIGGER IF EXISTS audit_events_no_delete",
]
