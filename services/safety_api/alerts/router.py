"""Alert endpoints for site staff, the site webhook and alert-policy settings, and eDISH."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, HttpUrl, field_validator

from services.common import audit
from services.common.auth import (
    Principal,
    Role,
    require_roles,
)
from services.common.db import utcnow
from services.common.errors import FieldProblem, NotFound, field_error, problem_responses
from services.common.session import SessionDep
from services.common.sites import SiteId, require_site
from services.common.webhooks import WebhookSecret

from . import service
from .models import AlertPolicyOverride, WebhookEndpoint
from .policy import load_policy

router = APIRouter(tags=["alerts"])

ReadAlerts = Annotated[
    Principal,
    Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN)),
]
ActOnAlerts = Annotated[Principal, Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN))]
SiteAdmin = Annotated[Principal, Depends(require_roles(Role.SITE_ADMIN))]


class Delivery(BaseModel):
    state: Literal["not_configured", "pending", "retrying", "delivered", "failed"]
    events: int


class AlertPublic(BaseModel):
    """An alert as webhooks carry it and as lab and symptom posts return the ones they raise."""

    id: str
    subject_id: str
    site_id: str
    rule: str
    severity: Literal["high", "critical"]
    status: Literal["open", "acknowledged", "resolved"]
    created_at: dt.datetime
    updated_at: dt.datetime
    summary: str
    evidence: list[dict[str, Any]]
    labels: list[str]
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolution_note: str | None


class AlertOut(AlertPublic):
    delivery: Delivery


class AttemptOut(BaseModel):
    attempt: int
    at: dt.datetime
    status_code: int | None
    outcome: str
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    webhook_id: str
    event_type: str
    status: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None
    attempts: list[AttemptOut]


class AlertDetail(AlertOut):
    deliveries: list[DeliveryOut]


class AlertList(BaseModel):
    alerts: list[AlertOut]
    next_offset: int | None = Field(
        default=None,
        description="More alerts match: ask again with this `offset`. null on the last page.",
    )


class ResolveIn(BaseModel):
    note: str = Field(
        min_length=1, max_length=2000, description="What was done about the alert (required)."
    )

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                "the note is blank; say what was done, e.g. 'patient called, "
                "labs repeated, hepatologist informed'"
            )
        return value.strip()


@router.get("/v1/alerts", response_model=AlertList, responses=problem_responses(401, 403, 422))
async def list_alerts(
    request: Request,
    session: SessionDep,
    principal: ReadAlerts,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    subject_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Alerts the caller may see (site staff: their site) in work-queue order: open, then
    acknowledged, each most severe first and oldest first; then resolved, most recently resolved
    first. A page holds at most ``limit``; ``next_offset`` says where the next one starts.
    ``delivery.state`` "failed" flags an alert whose webhook delivery gave up."""
    page = await service.list_alerts(
        session,
        request.app.state.tables,
        principal,
        status=status,
        subject_id=subject_id,
        limit=limit,
        offset=offset,
    )
    return {"alerts": page.alerts, "next_offset": page.next_offset}


@router.get(
    "/v1/alerts/{alert_id}", response_model=AlertDetail, responses=problem_responses(401, 403, 404)
)
async def get_alert(
    alert_id: str, request: Request, session: SessionDep, principal: ReadAlerts
) -> dict[str, Any]:
    return await service.alert_detail(session, request.app.state.tables, principal, alert_id)


async def _with_delivery(
    request: Request, session: Any, principal: Principal, alert_id: str
) -> dict[str, Any]:
    return await service.alert_detail(session, request.app.state.tables, principal, alert_id)


@router.post(
    "/v1/alerts/{alert_id}/acknowledge",
    response_model=AlertDetail,
    responses=problem_responses(401, 403, 404, 409),
)
async def acknowledge(
    alert_id: str, request: Request, session: SessionDep, principal: ActOnAlerts
) -> dict[str, Any]:
    await service.acknowledge(session, request.app.state.tables, principal, alert_id)
    return await _with_delivery(request, session, principal, alert_id)


@router.post(
    "/v1/alerts/{alert_id}/resolve",
    response_model=AlertDetail,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def resolve(
    alert_id: str, body: ResolveIn, request: Request, session: SessionDep, principal: ActOnAlerts
) -> dict[str, Any]:
    await service.resolve(session, request.app.state.tables, principal, alert_id, body.note)
    return await _with_delivery(request, session, principal, alert_id)


# ---------------------------------------------------------------------------- site settings


class WebhookIn(BaseModel):
    url: HttpUrl = Field(description="HTTPS endpoint of the site's alert receiver")
    secret: WebhookSecret


class WebhookOut(BaseModel):
    site_id: str
    url: str
    enabled: bool
    disabled_reason: str | None
    updated_at: dt.datetime


def _webhook_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "site_id": endpoint.site_id,
        "url": endpoint.url,
        "enabled": endpoint.disabled_at is None,
        "disabled_reason": endpoint.disabled_reason,
        "updated_at": endpoint.updated_at,
    }


@router.put(
    "/v1/sites/{site_id}/webhook",
    response_model=WebhookOut,
    tags=["sites"],
    responses=problem_responses(401, 403, 404, 422),
)
async def put_webhook(
    site_id: SiteId, body: WebhookIn, request: Request, session: SessionDep, principal: SiteAdmin
) -> dict[str, Any]:
    """Set (or replace, re-enabling) the site's alert webhook. The secret is never shown again."""
    await require_site(session, request.app.state.tables, principal, site_id)
    now = utcnow()
    endpoint = await session.get(WebhookEndpoint, site_id)
    before = (
        None if endpoint is None else {"url": endpoint.url, "enabled": endpoint.disabled_at is None}
    )
    if endpoint is None:
        endpoint = WebhookEndpoint(
            site_id=site_id, url=str(body.url), secret=body.secret, created_at=now, updated_at=now
        )
        session.add(endpoint)
    else:
        endpoint.url, endpoint.secret, endpoint.updated_at = str(body.url), body.secret, now
        endpoint.disabled_at, endpoint.disabled_reason = None, None
    await session.flush()
    await audit.record(
        session,
        request.app.state.tables,
        actor=principal,
        action="webhook.set",
        entity_type="webhook_endpoint",
        entity_id=site_id,
        site_id=site_id,
        before=before,
        after={"url": str(body.url), "enabled": True},
    )
    return _webhook_out(endpoint)


@router.get(
    "/v1/sites/{site_id}/webhook",
    response_model=WebhookOut,
    tags=["sites"],
    responses=problem_responses(401, 403, 404),
)
async def get_webhook(
    site_id: SiteId,
    request: Request,
    session: SessionDep,
    principal: Annotated[
        Principal, Depends(require_roles(Role.SITE_ADMIN, Role.SITE_STAFF, Role.TRIAL_ADMIN))
    ],
) -> dict[str, Any]:
    await require_site(session, request.app.state.tables, principal, site_id)
    endpoint = await session.get(WebhookEndpoint, site_id)
    if endpoint is None:
        raise NotFound(f"A webhook for site {site_id}")
    return _webhook_out(endpoint)


class PolicyIn(BaseModel):
    overrides: dict[str, Any] = Field(
        description="Values that differ from the default policy, e.g. "
        '{"rules": {"systemic_grade": {"enabled": false}}}'
    )


@router.put(
    "/v1/sites/{site_id}/alert-policy",
    tags=["sites"],
    responses=problem_responses(401, 403, 404, 422),
)
async def put_alert_policy(
    site_id: SiteId, body: PolicyIn, request: Request, session: SessionDep, principal: SiteAdmin
) -> dict[str, Any]:
    """Override the default alert policy for this site; returns the effective policy."""
    await require_site(session, request.app.state.tables, principal, site_id)
    try:
        effective = load_policy(body.overrides)
    except ValueError as exc:
        raise FieldProblem(
            [
                field_error(
                    "body.overrides",
                    str(exc).splitlines()[0],
                    "Send only keys of the default policy, with decimal strings for thresholds.",
                )
            ]
        ) from None
    row = await session.get(AlertPolicyOverride, site_id)
    before = None if row is None else row.overrides
    if row is None:
        session.add(
            AlertPolicyOverride(site_id=site_id, overrides=body.overrides, updated_at=utcnow())
        )
    else:
        row.overrides, row.updated_at = body.overrides, utcnow()
    await session.flush()
    await audit.record(
        session,
        request.app.state.tables,
        actor=principal,
        action="alert_policy.set",
        entity_type="alert_policy",
        entity_id=site_id,
        site_id=site_id,
        before=before,
        after=body.overrides,
    )
    return effective.model_dump(mode="json")


@router.get(
    "/v1/sites/{site_id}/alert-policy", tags=["sites"], responses=problem_responses(401, 403, 404)
)
async def get_alert_policy(
    site_id: SiteId, request: Request, session: SessionDep, principal: ReadAlerts
) -> dict[str, Any]:
    await require_site(session, request.app.state.tables, principal, site_id)
    return (await service.policy_for_site(session, site_id)).model_dump(mode="json")


# ------------------------------------------------------------------------------------ eDISH


class EdishPointOut(BaseModel):
    subject_id: str
    site_id: str
    peak_alt_x_uln: float | None
    peak_ast_x_uln: float | None
    peak_bilirubin_x_uln: float | None
    quadrant: str | None
    quadrant_label: str | None


class EdishReport(BaseModel):
    method: str
    points: list[EdishPointOut]


EDISH_METHOD = (
    "Per subject, the peak ALT, peak AST and peak total bilirubin over all results, "
    "each as a multiple of the upper limit of normal, not paired by date (FDA eDISH). "
    "Upper-right quadrant: ALT or AST >= 3 x ULN and bilirubin > 2 x ULN (potential "
    "Hy's law); it needs clinical review, not a diagnosis."
)


@router.get(
    "/v1/reports/edish",
    response_model=EdishReport,
    tags=["reports"],
    responses=problem_responses(401, 403),
)
async def edish(session: SessionDep, principal: ReadAlerts) -> dict[str, Any]:
    return {"method": EDISH_METHOD, "points": await service.edish_report(session, principal)}
