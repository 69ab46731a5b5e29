"""The platform tables every service database has: sites, audit trail, idempotency, outbox.

They are SQLAlchemy Core tables built into a service's own ``MetaData`` (each service has its own
database), and used by the cross-cutting code in ``services.common`` through
:class:`PlatformTables`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from services.common.db import UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class PlatformTables:
    metadata: MetaData
    sites: Table
    audit_events: Table
    idempotency_keys: Table
    outbox_messages: Table
    outbox_attempts: Table


def platform_tables(metadata: MetaData) -> PlatformTables:
    sites = Table(
        "sites",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("timezone", String(64), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )
    audit_events = Table(
        "audit_events",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("occurred_at", UTCDateTime(), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("role", String(32), nullable=False),
        Column("site_id", String(32), nullable=True),
        Column("action", String(64), nullable=False),
        Column("entity_type", String(64), nullable=False),
        Column("entity_id", String(200), nullable=False),
        Column("before", JSON, nullable=True),
        Column("after", JSON, nullable=True),
        Column("reason", Text, nullable=True),
        Column("request_id", String(64), nullable=True),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False, unique=True),
        Index(None, "entity_type", "entity_id"),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column("principal", String(300), nullable=False),
        Column("key", String(255), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("state", String(16), nullable=False),  # in_flight | completed
        Column("locked_until", UTCDateTime(), nullable=True),
        Column("status_code", Integer, nullable=True),
        Column("response_body", Text, nullable=True),
        Column("response_headers", JSON, nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("completed_at", UTCDateTime(), nullable=True),
        UniqueConstraint("principal", "key"),
        Index(None, "created_at"),
    )
    outbox_messages = Table(
        "outbox_messages",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("kind", String(64), nullable=False),
        # Optional business key: the same dedupe_key is never enqueued twice.
        Column("dedupe_key", String(255), nullable=True, unique=True),
        Column("payload", JSON, nullable=False),
        Column("status", String(16), nullable=False),  # pending | delivered | dead
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", UTCDateTime(), nullable=False),
        Column("claimed_by", String(64), nullable=True),
        Column("claimed_until", UTCDateTime(), nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("delivered_at", UTCDateTime(), nullable=True),
        Column("last_error", Text, nullable=True),
        Index(None, "status", "next_attempt_at"),
    )
    outbox_attempts = Table(
        "outbox_attempts",
        metadata,
        Column("id", BigIntPK, primary_key=True, autoincrement=True),
        Column(
            "message_id",
            String(36),
            ForeignKey("outbox_messages.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("attempt", Integer, nullable=False),
        Column("dispatcher", String(64), nullable=False),
        Column("started_at", UTCDateTime(), nullable=False),
        Column("duration_ms", Integer, nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("outcome", String(16), nullable=False),  # delivered | retry | gone | dead
        Column("error", Text, nullable=True),
    )
    return PlatformTables(
        metadata, sites, audit_events, idempotency_keys, outbox_messages, outbox_attempts
    )
