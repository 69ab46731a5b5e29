"""Alerts: raised from stored observations by the pure rules, kept one-open-per-subject-and-rule,
acknowledged and resolved by site staff, escalated when a deadline is missed, and announced to
the site through the outbox (``webhooks.notify``). Services flush; the request commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import audit
from services.common.auth import Principal, site_filter
from services.common.db import utcnow
from services.common.errors import NotFound, Problem
from services.common.paging import cut_page, page_size_to_fetch
from services.common.tables import PlatformTables
from services.safety_api.models import LabResult, Subject, SymptomReport

from . import edish as edish_core
from .models import Alert, AlertNotification, AlertPolicyOverride
from .observations import LAB_OBSERVATION_COLUMNS, LabRow, lab_observation, symptom_observation
from .policy import SEVERITY_RANK, AlertPolicy, Severity, load_policy
from .rules import (
    AlertSignal,
    Observation,
    OpenAlertState,
    RuleCode,
    SubjectContext,
    escalation_due,
    evaluate,
    merge_signal,
)
from .webhooks import alert_public, notify

# History the rules may pair new observations with: the 120-day REILD window plus the pairing
# windows (Hy's law 7 days, febrile neutropenia 3 days), on both sides of the new dates because
# a lab can be entered late.
HISTORY_DAYS = 130
HEPATIC_BASELINE_ANALYTES = ("ALT", "AST", "ALP", "GGT", "BILI", "ALB", "INR")


async def policy_for_site(session: AsyncSession, site_id: str) -> AlertPolicy:
    override = await session.get(AlertPolicyOverride, site_id)
    return load_policy(override.overrides if override else None)


async def _site_timezone(session: AsyncSession, tables: PlatformTables, site_id: str) -> str:
    tz = (
        await session.execute(select(tables.sites.c.timezone).where(tables.sites.c.id == site_id))
    ).scalar()
    return str(tz or "UTC")


async def baseline_grades(session: AsyncSession, subject: Subject, timezone: str) -> dict[str, int]:
    """Per analyte, the grade of the last value collected on or before treatment start (C1D1,
    local day inclusive)."""
    from zoneinfo import ZoneInfo

    day_after = subject.treatment_start + dt.timedelta(days=1)
    cutoff = dt.datetime.combine(day_after, dt.time(), ZoneInfo(timezone))
    rows = (
        await session.execute(
            select(col(LabResult.analyte), col(LabResult.grade), col(LabResult.collected_at))
            .where(
                col(LabResult.subject_id) == subject.id,
                col(LabResult.collected_at) < cutoff,
                col(LabResult.grade).is_not(None),
            )
            .order_by(col(LabResult.collected_at))
        )
    ).all()
    grades: dict[str, int] = {}
    for analyte, grade, _ in rows:  # later rows overwrite earlier: the last value wins
        if grade is not None:
            grades[analyte] = grade
    return grades


async def lock_subject(session: AsyncSession, subject_id: str) -> None:
    """Serialise alert evaluation per subject so two requests cannot both open the same alert.

    FOR NO KEY UPDATE, not FOR UPDATE: rows just inserted for the subject hold FOR KEY SHARE on it
    (their foreign key), which FOR UPDATE waits on, so a lab batch and a diary report for one
    subject deadlocked. Writers take this lock before the audit chain's advisory lock (as the
    symptom and subject paths do), never after it: the opposite order deadlocks too."""
    await session.execute(
        select(col(Subject.id)).where(col(Subject.id) == subject_id).with_for_update(key_share=True)
    )


async def raise_alerts(
    session: AsyncSession,
    tables: PlatformTables,
    subject: Subject,
    *,
    labs: Sequence[LabRow] = (),
    symptom_reports: Sequence[SymptomReport] = (),
    actor: Principal | str = "alert rules",
) -> list[Alert]:
    """Evaluate the alert policy for observations just stored (in the caller's transaction)."""
    if not labs and not symptom_reports:
        return []
    await session.flush()
    await lock_subject(session, subject.id)
    timezone = await _site_timezone(session, tables, subject.site_id)
    policy = await policy_for_site(session, subject.site_id)
    moments = [r["collected_at"] for r in labs] + [r.reported_at for r in symptom_reports]
    start = min(moments) - dt.timedelta(days=HISTORY_DAYS)
    end = max(moments) + dt.timedelta(days=HISTORY_DAYS)
    new_lab_ids = {r["id"] for r in labs}
    new_report_ids = {r.id for r in symptom_reports}
    stored_labs = LabResult.__table__.c  # type: ignore[attr-defined]
    history_labs: list[LabRow] = [
        dict(row)
        for row in (
            await session.execute(
                select(*(stored_labs[name] for name in LAB_OBSERVATION_COLUMNS)).where(
                    stored_labs.subject_id == subject.id,
                    stored_labs.collected_at >= start,
                    stored_labs.collected_at <= end,
                )
            )
        ).mappings()
        if row["id"] not in new_lab_ids
    ]
    history_reports = (
        (
            await session.execute(
                select(SymptomReport).where(
                    col(SymptomReport.subject_id) == subject.id,
                    col(SymptomReport.reported_at) >= start,
                    col(SymptomReport.reported_at) <= end,
                    col(SymptomReport.id).not_in(new_report_ids or [""]),
                )
            )
        )
        .scalars()
        .all()
    )
    context = SubjectContext(
        subject_id=subject.id,
        site_id=subject.site_id,
        tare_dates=[dt.date.fromisoformat(d) for d in subject.tare_dates],
        baseline_grades=await baseline_grades(session, subject, timezone),
        timezone=timezone,
    )
    new: list[Observation] = [
        *map(lab_observation, labs),
        *map(symptom_observation, symptom_reports),
    ]
    history: list[Observation] = [
        *map(lab_observation, history_labs),
        *map(symptom_observation, history_reports),
    ]
    raised = []
    for signal in evaluate(policy, context, new, history):
        alert = await _apply(session, tables, subject, signal, actor)
        if alert is not None:
            raised.append(alert)
    return raised


async def _open_alert(session: AsyncSession, subject_id: str, rule: str) -> Alert | None:
    return (
        await session.execute(
            select(Alert).where(
                col(Alert.subject_id) == subject_id,
                col(Alert.rule) == rule,
                col(Alert.status) != "resolved",
            )
        )
    ).scalar_one_or_none()


def _state(alert: Alert) -> OpenAlertState:
    return OpenAlertState(
        alert_id=alert.id,
        rule=cast(RuleCode, alert.rule),
        severity=cast(Severity, alert.severity),
        status=cast(Literal["open", "acknowledged"], alert.status),
        created_at=alert.created_at,
        severity_changed_at=alert.severity_changed_at,
        escalated_severity=cast(Severity | None, alert.escalated_severity),
        evidence=alert.evidence,
        labels=alert.labels,
    )


async def _apply(
    session: AsyncSession,
    tables: PlatformTables,
    subject: Subject,
    signal: AlertSignal,
    actor: Principal | str,
) -> Alert | None:
    existing = await _open_alert(session, subject.id, signal.rule)
    decision = merge_signal(_state(existing) if existing else None, signal)
    now = utcnow()
    if decision.action == "no_change":
        return None
    if existing is None:
        alert = Alert(
            id=str(uuid.uuid4()),
            subject_id=subject.id,
            site_id=subject.site_id,
            rule=signal.rule,
            severity=decision.severity,
            status="open",
            summary=decision.summary or signal.summary,
            evidence=decision.evidence_to_append,
            labels=decision.labels_to_add,
            created_at=now,
            updated_at=now,
        )
        session.add(alert)
        before = None
    else:
        alert = existing
        before = {"severity": alert.severity, "status": alert.status}
        alert.evidence = [*alert.evidence, *decision.evidence_to_append]
        alert.labels = [*alert.labels, *decision.labels_to_add]
        if decision.summary:
            alert.summary = decision.summary
        if decision.action == "escalate_severity":
            alert.severity_changed_at = now
            alert.acknowledged_at = None
            alert.acknowledged_by = None
        alert.severity, alert.status, alert.updated_at = decision.severity, decision.status, now
    await session.flush()
    await audit.record(
        session,
        tables,
        actor=actor,
        action=f"alert.{decision.action}",
        entity_type="alert",
        entity_id=alert.id,
        site_id=alert.site_id,
        before=before,
        after={"rule": alert.rule, "severity": alert.severity, "status": alert.status},
    )
    if decision.event is not None:
        await notify(session, tables, alert, decision.event)
    return alert


# ----------------------------------------------------------------------------------- reading

AlertStatus = Literal["open", "acknowledged", "resolved"]


async def get_alert(session: AsyncSession, principal: Principal, alert_id: str) -> Alert:
    alert = (
        await session.execute(
            select(Alert).where(
                col(Alert.id) == alert_id,
                site_filter(principal, col(Alert.site_id)),
            )
        )
    ).scalar_one_or_none()
    if alert is None:
        raise NotFound(f"Alert {alert_id}")
    return alert


def _delivery_state(rows: Sequence[Any]) -> dict[str, Any]:
    """Summary of the webhook events of one alert: the staff list flags exhausted delivery."""
    if not rows:
        return {"state": "not_configured", "events": 0}
    statuses = [r.status for r in rows]
    state = (
        "failed"
        if "dead" in statuses
        else "retrying"
        if any(r.status == "pending" and r.attempts > 0 for r in rows)
        else "pending"
        if "pending" in statuses
        else "delivered"
    )
    return {"state": state, "events": len(rows)}


async def _deliveries(
    session: AsyncSession, tables: PlatformTables, alert_ids: Sequence[str]
) -> dict[str, list[Any]]:
    om = tables.outbox_messages
    rows = (
        await session.execute(
            select(
                col(AlertNotification.alert_id),
                col(AlertNotification.id),
                col(AlertNotification.event_type),
                col(AlertNotification.created_at),
                om.c.status,
                om.c.attempts,
                om.c.last_error,
                om.c.delivered_at,
            )
            .join(om, om.c.id == col(AlertNotification.id))
            .where(col(AlertNotification.alert_id).in_(alert_ids))
            .order_by(col(AlertNotification.created_at))
        )
    ).all()
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.alert_id, []).append(row)
    return grouped


STATUS_RANK: dict[str, int] = {"open": 0, "acknowledged": 1, "resolved": 2}


def work_queue_order() -> tuple[Any, ...]:
    """The order alerts are worked in: open, then acknowledged, each most severe first and oldest
    first; then resolved ones, most recently resolved first. Applied in SQL, before any limit, so
    a page never leaves out a newer open alert in favour of an old resolved one."""
    unresolved = col(Alert.status) != "resolved"
    return (
        case(STATUS_RANK, value=col(Alert.status), else_=len(STATUS_RANK)),
        case((unresolved, case(SEVERITY_RANK, value=col(Alert.severity), else_=0)), else_=0).desc(),
        case((unresolved, col(Alert.created_at)), else_=None),
        col(Alert.resolved_at).desc(),
        col(Alert.id),
    )


@dataclass(frozen=True)
class AlertPage:
    alerts: list[dict[str, Any]]
    next_offset: int | None  # where the next page starts; None when this is the last


async def list_alerts(
    session: AsyncSession,
    tables: PlatformTables,
    principal: Principal,
    *,
    status: AlertStatus | Sequence[AlertStatus] | None,
    subject_id: str | None,
    limit: int,
    offset: int = 0,
) -> AlertPage:
    query = select(Alert).where(site_filter(principal, col(Alert.site_id)))
    if isinstance(status, str):
        query = query.where(col(Alert.status) == status)
    elif status is not None:
        query = query.where(col(Alert.status).in_(list(status)))
    if subject_id is not None:
        query = query.where(col(Alert.subject_id) == subject_id)
    query = query.order_by(*work_queue_order()).offset(offset).limit(page_size_to_fetch(limit))
    alerts, next_offset = cut_page(list((await session.execute(query)).scalars()), limit, offset)
    deliveries = await _deliveries(session, tables, [a.id for a in alerts])
    return AlertPage(
        [
            {**alert_public(a), "delivery": _delivery_state(deliveries.get(a.id, []))}
            for a in alerts
        ],
        next_offset,
    )


async def alert_detail(
    session: AsyncSession, tables: PlatformTables, principal: Principal, alert_id: str
) -> dict[str, Any]:
    alert = await get_alert(session, principal, alert_id)
    events = (await _deliveries(session, tables, [alert.id])).get(alert.id, [])
    attempts_t = tables.outbox_attempts
    attempts = (
        (
            await session.execute(
                select(attempts_t)
                .where(attempts_t.c.message_id.in_([e.id for e in events]))
                .order_by(attempts_t.c.message_id, attempts_t.c.attempt)
            )
        )
        .mappings()
        .all()
        if events
        else []
    )
    by_message: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        by_message.setdefault(a["message_id"], []).append(
            {
                "attempt": a["attempt"],
                "at": a["started_at"],
                "status_code": a["status_code"],
                "outcome": a["outcome"],
                "error": a["error"],
                "duration_ms": a["duration_ms"],
            }
        )
    return {
        **alert_public(alert),
        "delivery": _delivery_state(events),
        "deliveries": [
            {
                "webhook_id": e.id,
                "event_type": e.event_type,
                "status": e.status,
                "created_at": e.created_at,
                "delivered_at": e.delivered_at,
                "last_error": e.last_error,
                "attempts": by_message.get(e.id, []),
            }
            for e in events
        ],
    }


# ------------------------------------------------------------------------------ transitions


async def acknowledge(
    session: AsyncSession, tables: PlatformTables, principal: Principal, alert_id: str
) -> Alert:
    alert = await get_alert(session, principal, alert_id)
    if alert.status == "resolved":
        raise Problem(
            409,
            "This alert is already resolved; there is nothing to acknowledge.",
            slug="alert-resolved",
        )
    if alert.status == "acknowledged":
        return alert
    now = utcnow()
    alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", now, principal.key
    alert.updated_at = now
    await session.flush()
    await audit.record(
        session,
        tables,
        actor=principal,
        action="alert.acknowledge",
        entity_type="alert",
        entity_id=alert.id,
        site_id=alert.site_id,
        before={"status": "open"},
        after={"status": "acknowledged"},
    )
    await notify(session, tables, alert, "alert.acknowledged")
    return alert


async def resolve(
    session: AsyncSession, tables: PlatformTables, principal: Principal, alert_id: str, note: str
) -> Alert:
    alert = await get_alert(session, principal, alert_id)
    if alert.status == "resolved":
        raise Problem(409, "This alert is already resolved.", slug="alert-resolved")
    before = {"status": alert.status}
    now = utcnow()
    alert.status, alert.resolved_at, alert.resolved_by = "resolved", now, principal.key
    alert.resolution_note, alert.updated_at = note, now
    await session.flush()
    await audit.record(
        session,
        tables,
        actor=principal,
        action="alert.resolve",
        entity_type="alert",
        entity_id=alert.id,
        site_id=alert.site_id,
        before=before,
        after={"status": "resolved"},
        reason=note,
    )
    await notify(session, tables, alert, "alert.resolved")
    return alert


async def run_escalations(
    session: AsyncSession, tables: PlatformTables, now: dt.datetime | None = None
) -> int:
    """Emit ``alert.escalated`` for open alerts past their acknowledgement deadline. Rows are
    claimed with SKIP LOCKED so replicas running this together escalate each alert once."""
    now = now or utcnow()
    candidates = (
        (
            await session.execute(
                select(Alert)
                .where(
                    col(Alert.status) == "open",
                    or_(
                        col(Alert.escalated_severity).is_(None),
                        col(Alert.escalated_severity) != col(Alert.severity),
                    ),
                )
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    policies: dict[str, AlertPolicy] = {}
    escalated = 0
    for alert in candidates:
        if alert.site_id not in policies:
            policies[alert.site_id] = await policy_for_site(session, alert.site_id)
        if not escalation_due(_state(alert), policies[alert.site_id], now):
            continue
        alert.escalated_severity, alert.updated_at = alert.severity, now
        await session.flush()
        await audit.record(
            session,
            tables,
            actor="escalation",
            action="alert.escalate",
            entity_type="alert",
            entity_id=alert.id,
            site_id=alert.site_id,
            after={"severity": alert.severity},
            reason="acknowledgement deadline missed",
        )
        await notify(session, tables, alert, "alert.escalated")
        escalated += 1
    return escalated


# ------------------------------------------------------------------------------------ eDISH


async def edish_report(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """One point per subject with an ALT, AST or bilirubin xULN value. The peaks are taken by
    the database (GROUP BY ... MAX), so the report reads one row per subject and analyte."""
    rows = (
        await session.execute(
            select(
                col(LabResult.site_id),
                col(LabResult.subject_id),
                col(LabResult.analyte),
                func.max(col(LabResult.x_uln)),
            )
            .where(
                col(LabResult.analyte).in_(["ALT", "AST", "BILI"]),
                col(LabResult.x_uln).is_not(None),
                site_filter(principal, col(LabResult.site_id)),
            )
            .group_by(col(LabResult.site_id), col(LabResult.subject_id), col(LabResult.analyte))
        )
    ).all()
    peaks: dict[tuple[str, str], dict[str, Decimal]] = {}
    for site_id, subject_id, analyte, peak in rows:
        if peak is not None:  # never, given the WHERE; for the type checker
            peaks.setdefault((site_id, subject_id), {})[analyte] = Decimal(peak)
    points = []
    for (site_id, subject_id), by_analyte in sorted(peaks.items()):
        point = edish_core.edish_point_from_peaks(
            subject_id, by_analyte.get("ALT"), by_analyte.get("AST"), by_analyte.get("BILI")
        )
        points.append(
            {
                "subject_id": subject_id,
                "site_id": site_id,
                "peak_alt_x_uln": _num(point.peak_alt_x_uln),
                "peak_ast_x_uln": _num(point.peak_ast_x_uln),
                "peak_bilirubin_x_uln": _num(point.peak_bili_x_uln),
                "quadrant": point.quadrant.value if point.quadrant else None,
                "quadrant_label": point.quadrant.label if point.quadrant else None,
            }
        )
    return points


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


__all__ = [
    "acknowledge",
    "alert_detail",
    "edish_report",
    "list_alerts",
    "raise_alerts",
    "resolve",
    "run_escalations",
]
