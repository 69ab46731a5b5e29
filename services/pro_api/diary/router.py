"""Diary endpoints: the patient's own days; staff views, held doses, dose changes and delayed
cycles; adherence; the site's reminder webhook.

``diary_clock`` is the one place the diary reads the time. Tests put the service at another
instant with ``app.dependency_overrides[diary_clock] = lambda: <aware datetime>``; nothing else
in the diary (and nothing outside it) uses it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from services.common.auth import Principal, Role, require_roles
from services.common.db import utcnow
from services.common.errors import problem_responses
from services.common.idempotency import IdempotencyDep
from services.common.session import SessionDep
from services.pro_api.diary import service
from services.pro_api.diary.schemas import (
    AdherenceOut,
    AdherenceReportOut,
    CycleDelayIn,
    CycleDelayOut,
    DiaryDayIn,
    DiaryDayOut,
    DiaryOut,
    DoseChangeIn,
    DoseChangeOut,
    DoseHoldIn,
    DoseHoldOut,
    ReminderWebhookIn,
    ReminderWebhookOut,
)


def diary_clock() -> dt.datetime:
    """Now, as the diary sees it (overridable in tests; see the module docstring)."""
    return utcnow()


Now = Annotated[dt.datetime, Depends(diary_clock)]
PatientPrincipal = Annotated[Principal, Depends(require_roles(Role.PATIENT))]
StaffPrincipal = Annotated[Principal, Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN))]
ReaderPrincipal = Annotated[
    Principal,
    Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN)),
]
AdherencePrincipal = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.PATIENT, Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN
        )
    ),
]
SiteAdmin = Annotated[Principal, Depends(require_roles(Role.SITE_ADMIN))]
WebhookReader = Annotated[
    Principal, Depends(require_roles(Role.SITE_ADMIN, Role.SITE_STAFF, Role.TRIAL_ADMIN))
]
PatientId = Annotated[str, Path(max_length=36, description="The patient's id (from enrolment).")]
SiteId = Annotated[str, Path(max_length=32)]
DiaryDate = Annotated[dt.date, Path(description="The local date of the diary day, YYYY-MM-DD.")]
From = Annotated[
    dt.date | None,
    Query(alias="from", description="First local date (default: 6 days before `to`)."),
]
To = Annotated[
    dt.date | None, Query(description="Last local date (default: today, or `from` + 6 days).")
]


def context(
    request: Request, session: SessionDep, principal: Principal, now: dt.datetime
) -> service.Context:
    return service.Context(
        session=session,
        tables=request.app.state.tables,
        settings=request.app.state.settings,
        principal=principal,
        now=now,
    )


router = APIRouter(tags=["diary"])


@router.get(
    "/v1/me/diary",
    response_model=DiaryOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def my_diary(
    request: Request,
    session: SessionDep,
    principal: PatientPrincipal,
    now: Now,
    first: From = None,
    to: To = None,
) -> dict[str, Any]:
    """Your diary days (at most 62): doses planned, what you saved, and until when each day can
    still be filled in."""
    return await service.my_diary(context(request, session, principal, now), first, to)


@router.put(
    "/v1/me/diary/{date}",
    response_model=DiaryDayOut,
    responses={
        201: {"model": DiaryDayOut, "description": "The day's first save"},
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
)
async def save_my_day(
    date: DiaryDate,
    body: DiaryDayIn,
    request: Request,
    session: SessionDep,
    principal: PatientPrincipal,
    idem: IdempotencyDep,
    now: Now,
) -> JSONResponse:
    """Save a diary day: each save is a new version (201 for the first, 200 after). A day can be
    saved from that day until the end of the next day, local time. Send an `Idempotency-Key` so
    a retry never saves twice."""
    view, first = await service.save_my_day(context(request, session, principal, now), date, body)
    return await idem.respond(session, 201 if first else 200, DiaryDayOut.model_validate(view))


@router.get(
    "/v1/patients/{patient_id}/diary",
    response_model=DiaryOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def patient_diary(
    patient_id: PatientId,
    request: Request,
    session: SessionDep,
    principal: ReaderPrincipal,
    now: Now,
    first: From = None,
    to: To = None,
) -> dict[str, Any]:
    """A patient's diary days with every saved version and any over-dose flags."""
    return await service.patient_diary(
        context(request, session, principal, now), patient_id, first, to
    )


@router.post(
    "/v1/patients/{patient_id}/dose-holds",
    status_code=201,
    response_model=DoseHoldOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def hold_dose(
    patient_id: PatientId,
    body: DoseHoldIn,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    idem: IdempotencyDep,
    now: Now,
) -> JSONResponse:
    """Hold one planned dose (or, without `slot`, the drug's doses that day). Audited; the
    reason is required. Held doses are left out of adherence."""
    hold = await service.hold_dose(context(request, session, principal, now), patient_id, body)
    return await idem.respond(session, 201, DoseHoldOut.model_validate(hold))


@router.post(
    "/v1/patients/{patient_id}/dose-changes",
    status_code=201,
    response_model=DoseChangeOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def change_dose(
    patient_id: PatientId,
    body: DoseChangeIn,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    idem: IdempotencyDep,
    now: Now,
) -> JSONResponse:
    """Set the mg of a drug from a cycle on (a reduction, or re-escalation). Audited."""
    change = await service.change_dose(context(request, session, principal, now), patient_id, body)
    return await idem.respond(session, 201, DoseChangeOut.model_validate(change))


@router.post(
    "/v1/patients/{patient_id}/cycle-delays",
    status_code=201,
    response_model=CycleDelayOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def delay_cycle(
    patient_id: PatientId,
    body: CycleDelayIn,
    request: Request,
    session: SessionDep,
    principal: StaffPrincipal,
    idem: IdempotencyDep,
    now: Now,
) -> JSONResponse:
    """Move the start of a cycle later; later cycles follow it. Audited."""
    delay = await service.delay_cycle(context(request, session, principal, now), patient_id, body)
    return await idem.respond(session, 201, CycleDelayOut.model_validate(delay))


@router.get(
    "/v1/patients/{patient_id}/adherence",
    response_model=AdherenceOut,
    responses=problem_responses(401, 403, 404),
)
async def patient_adherence(
    patient_id: PatientId,
    request: Request,
    session: SessionDep,
    principal: AdherencePrincipal,
    now: Now,
) -> dict[str, Any]:
    """Per cycle and drug: scheduled, taken, missed, held and percent, with the method."""
    return await service.patient_adherence(context(request, session, principal, now), patient_id)


@router.get(
    "/v1/reports/adherence",
    response_model=AdherenceReportOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def adherence_report(
    request: Request,
    session: SessionDep,
    principal: ReaderPrincipal,
    now: Now,
    below: Annotated[float, Query(gt=0, le=100, description="Percent threshold")] = 80.0,
    site: Annotated[str | None, Query(max_length=32, description="Limit to one site")] = None,
) -> dict[str, Any]:
    """Active patients with a cycle and drug under `below` percent (staff: their site)."""
    return await service.adherence_below(context(request, session, principal, now), below, site)


@router.put(
    "/v1/sites/{site_id}/reminder-webhook",
    response_model=ReminderWebhookOut,
    tags=["sites"],
    responses=problem_responses(401, 403, 404, 422),
)
async def put_reminder_webhook(
    site_id: SiteId,
    body: ReminderWebhookIn,
    request: Request,
    session: SessionDep,
    principal: SiteAdmin,
    now: Now,
) -> dict[str, Any]:
    """Set (or replace, re-enabling) where reminders go: the site's SMS/push gateway, signed
    per Standard Webhooks. The secret is never shown again."""
    return await service.set_reminder_webhook(
        context(request, session, principal, now), site_id, body
    )


@router.get(
    "/v1/sites/{site_id}/reminder-webhook",
    response_model=ReminderWebhookOut,
    tags=["sites"],
    responses=problem_responses(401, 403, 404),
)
async def get_reminder_webhook(
    site_id: SiteId,
    request: Request,
    session: SessionDep,
    principal: WebhookReader,
    now: Now,
) -> dict[str, Any]:
    return await service.get_reminder_webhook(context(request, session, principal, now), site_id)
