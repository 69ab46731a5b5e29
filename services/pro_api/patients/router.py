"""``/v1/patients``: enrolment and the patient record. Site staff write for their own site;
monitors and the trial admin read every site; a patient reads only themself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from services.common.auth import Principal, Role, require_roles
from services.common.errors import problem_responses
from services.common.idempotency import IdempotencyDep
from services.common.session import SessionDep
from services.pro_api.patients import service
from services.pro_api.patients.schemas import (
    ActivationCodeIssued,
    CalendarChange,
    PatientCreate,
    PatientEnrolled,
    PatientList,
    PatientPublic,
    PatientStatus,
    StatusChange,
)

router = APIRouter(prefix="/v1/patients", tags=["patients"])

Staff = Annotated[Principal, Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN))]
Reader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.PATIENT, Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN
        )
    ),
]
ListReader = Annotated[
    Principal,
    Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN)),
]
PatientId = Annotated[str, Path(max_length=36, description="The patient's id (not the subject ID)")]

# Responses carrying an activation code must not be kept by any cache.
NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "",
    status_code=201,
    response_model=PatientEnrolled,
    summary="Enrol a patient at your site and get their activation code",
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def enrol_patient(
    body: PatientCreate,
    request: Request,
    session: SessionDep,
    principal: Staff,
    idem: IdempotencyDep,
) -> JSONResponse:
    enrolled = await service.enrol(session, principal, body, request.app.state.settings)
    return await idem.respond(session, 201, enrolled, headers=NO_STORE)


@router.get(
    "",
    response_model=PatientList,
    summary="Patients of your site (monitors and the trial admin: every site)",
    responses=problem_responses(401, 403, 422),
)
async def list_patients(
    session: SessionDep,
    principal: ListReader,
    status: Annotated[PatientStatus | None, Query()] = None,
    site_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PatientList:
    return await service.list_patients(
        session, principal, status=status, site_id=site_id, limit=limit, offset=offset
    )


@router.get(
    "/{patient_id}",
    response_model=PatientPublic,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_patient(
    patient_id: PatientId, session: SessionDep, principal: Reader
) -> PatientPublic:
    return await service.read_patient(session, principal, patient_id)


@router.patch(
    "/{patient_id}",
    response_model=PatientPublic,
    summary="Change the treatment calendar (C1D1, TARE dates); re-sent to safety_api",
    responses=problem_responses(401, 403, 404, 422),
)
async def change_calendar(
    patient_id: PatientId, body: CalendarChange, session: SessionDep, principal: Staff
) -> PatientPublic:
    return await service.change_calendar(session, principal, patient_id, body)


@router.post(
    "/{patient_id}/activation-code",
    status_code=201,
    response_model=ActivationCodeIssued,
    summary="Issue a new activation code; earlier unused codes stop working",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def issue_activation_code(
    patient_id: PatientId,
    request: Request,
    session: SessionDep,
    principal: Staff,
    idem: IdempotencyDep,
) -> JSONResponse:
    issued = await service.issue_activation_code(
        session, principal, patient_id, request.app.state.settings
    )
    return await idem.respond(session, 201, issued, headers=NO_STORE)


@router.post(
    "/{patient_id}/withdraw",
    response_model=PatientPublic,
    summary="Withdraw the patient from the study; their phone is signed out",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def withdraw_patient(
    patient_id: PatientId, body: StatusChange, session: SessionDep, principal: Staff
) -> PatientPublic:
    return await service.end_participation(
        session, principal, patient_id, PatientStatus.WITHDRAWN, body
    )


@router.post(
    "/{patient_id}/complete",
    response_model=PatientPublic,
    summary="Mark the patient's participation completed; their phone is signed out",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def complete_patient(
    patient_id: PatientId, body: StatusChange, session: SessionDep, principal: Staff
) -> PatientPublic:
    return await service.end_participation(
        session, principal, patient_id, PatientStatus.COMPLETED, body
    )
