"""Alert events to the site's webhook, per Standard Webhooks 1.0.

Each event is an outbox message (written in the transaction that changed the alert); its id is
the ``webhook-id``, stable across retries. The body is fixed when the event happens; the
signature (``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body``, signed by the
``standardwebhooks`` package) is computed at each attempt with the endpoint's current secret.
A 410 from the receiver disables the endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from services.common import audit
from services.common.db import Database, utcnow
from services.common.outbox import Deliverer, OutboxMessage, OutgoingRequest, enqueue
from services.common.tables import PlatformTables
from services.common.webhooks import signed_headers

from .models import Alert, AlertNotification, WebhookEndpoint

KIND = "webhook.alert"


def alert_public(alert: Alert) -> dict[str, Any]:
    """The alert as the API and webhooks show it: study subject ID only, never names."""
    return {
        "id": alert.id,
        "subject_id": alert.subject_id,
        "site_id": alert.site_id,
        "rule": alert.rule,
        "severity": alert.severity,
        "status": alert.status,
        "created_at": alert.created_at.isoformat(),
        "updated_at": alert.updated_at.isoformat(),
        "summary": alert.summary,
        "evidence": alert.evidence,
        "labels": alert.labels,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "resolution_note": alert.resolution_note,
    }


async def notify(session: Any, tables: PlatformTables, alert: Alert, event_type: str) -> str | None:
    """Queue one webhook event about the alert, if the site has an enabled endpoint."""
    endpoint = await session.get(WebhookEndpoint, alert.site_id)
    if endpoint is None or endpoint.disabled_at is not None:
        return None
    now = utcnow()
    body = json.dumps(
        {"type": event_type, "timestamp": now.isoformat(), "data": alert_public(alert)},
        separators=(",", ":"),
        sort_keys=True,
    )
    message_id = await enqueue(
        session, tables, KIND, {"alert_id": alert.id, "site_id": alert.site_id, "body": body}
    )
    assert message_id is not None
    session.add(
        AlertNotification(id=message_id, alert_id=alert.id, event_type=event_type, created_at=now)
    )
    return message_id


class WebhookDeliverer(Deliverer):
    def __init__(self, db: Database, tables: PlatformTables) -> None:
        self.db, self.tables = db, tables

    async def prepare(self, message: OutboxMessage) -> OutgoingRequest | str:
        async with self.db.sessionmaker() as session:
            endpoint = await session.get(WebhookEndpoint, message.payload["site_id"])
        if endpoint is None:
            return "the site has no webhook endpoint any more"
        if endpoint.disabled_at is not None:
            return f"the site's webhook endpoint is disabled ({endpoint.disabled_reason})"
        body = message.payload["body"]
        return OutgoingRequest(
            url=endpoint.url,
            headers=signed_headers(endpoint.secret, message.id, body),
            content=body.encode(),
        )

    async def on_gone(self, message: OutboxMessage) -> None:
        site_id = message.payload["site_id"]
        async with self.db.sessionmaker() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    col(WebhookEndpoint.site_id) == site_id,
                    col(WebhookEndpoint.disabled_at).is_(None),
                )
                .values(disabled_at=utcnow(), disabled_reason="the receiver answered 410 Gone")
            )
            await audit.record(
                session,
                self.tables,
                actor="outbox dispatcher",
                action="webhook.disable",
                entity_type="webhook_endpoint",
                entity_id=site_id,
                site_id=site_id,
                reason="the receiver answered 410 Gone",
            )
            await session.commit()


async def endpoint_for(session: Any, site_id: str) -> WebhookEndpoint | None:
    return (
        await session.execute(
            select(WebhookEndpoint).where(col(WebhookEndpoint.site_id) == site_id)
        )
    ).scalar_one_or_none()
