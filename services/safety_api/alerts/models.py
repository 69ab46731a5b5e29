"""Alert tables: alerts, the webhook events sent about them, site webhook endpoints and
per-site alert-policy overrides. Imported by ``services.safety_api.models``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, String, text
from sqlmodel import Field

from services.common.db import UTCDateTime
from services.safety_api.models import SafetyModel


def _utc(*, nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


UNRESOLVED = text("status != 'resolved'")


class Alert(SafetyModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(None, "site_id", "status", "created_at"),
        # One unresolved alert per subject and rule: new evidence is appended to it.
        Index(
            "uq_alerts_unresolved_subject_rule",
            "subject_id",
            "rule",
            unique=True,
            sqlite_where=UNRESOLVED,
            postgresql_where=UNRESOLVED,
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    subject_id: str = Field(foreign_key="subjects.id", max_length=32)
    site_id: str = Field(max_length=32)
    rule: str = Field(max_length=32)
    severity: str = Field(max_length=16)  # high | critical
    status: str = Field(max_length=16)  # open | acknowledged | resolved
    summary: str = Field(sa_column=Column(String(2000), nullable=False))
    evidence: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = _utc()
    updated_at: dt.datetime = _utc()
    severity_changed_at: dt.datetime | None = _utc(nullable=True)
    escalated_severity: str | None = Field(default=None, max_length=16)
    acknowledged_at: dt.datetime | None = _utc(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=300)
    resolved_at: dt.datetime | None = _utc(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=300)
    resolution_note: str | None = Field(default=None, sa_column=Column(String(2000)))


class AlertNotification(SafetyModel, table=True):
    """One webhook event about an alert; ``id`` is the outbox message id (the webhook-id), so
    its delivery attempts are the outbox's attempt rows."""

    __tablename__ = "alert_notifications"

    id: str = Field(primary_key=True, max_length=36)
    alert_id: str = Field(foreign_key="alerts.id", index=True, max_length=36)
    event_type: str = Field(max_length=32)
    created_at: dt.datetime = _utc()


class WebhookEndpoint(SafetyModel, table=True):
    """Where a site receives alert events (Standard Webhooks). The secret signs; it is never
    returned by the API."""

    __tablename__ = "webhook_endpoints"

    site_id: str = Field(primary_key=True, foreign_key="sites.id", max_length=32)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    disabled_at: dt.datetime | None = _utc(nullable=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = _utc()
    updated_at: dt.datetime = _utc()


class AlertPolicyOverride(SafetyModel, table=True):
    __tablename__ = "alert_policy_overrides"

    site_id: str = Field(primary_key=True, foreign_key="sites.id", max_length=32)
    overrides: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: dt.datetime = _utc()
