"""Questionnaire endpoints: the patient's schedule, drafts and submissions; staff entry and
corrections; outcomes, export and completion reports; the FHIR QuestionnaireResponse API."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from services.common.auth import (
    Principal,
    Role,
    ensure_site_access,
    require_roles,
)
from services.common.db import utcnow
from services.common.errors import FieldProblem, field_error, problem_responses
from services.common.fhir import FHIR_JSON, FhirJSONResponse, FhirRoute
from services.common.idempotency import IdempotencyDep
from services.common.session import SessionDep
from services.pro_api.instruments.router import CatalogDep
from services.pro_api.models import QuestionnaireResponse
from services.pro_api.questionnaires import export, fhir, repository, service
from services.pro_api.questionnaires.schemas import (
    AssessmentsPublic,
    CompletionReport,
    CorrectionIn,
    DraftIn,
    PatientOutcomes,
    QuestionnaireResponsePublic,
    StaffEntryIn,
    SubmissionIn,
)

PatientPrincipal = Annotated[Principal, Depends(require_roles(Role.PATIENT))]
StaffPrincipal = Annotated[Principal, Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN))]
ReaderPrincipal = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.PATIENT, Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN
        )
    ),
]
ReportPrincipal = Annotated[
    Principal,
    Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN)),
]
PatientId = Annotated[str, Path(max_length=36, description="The patient's id (from enrolment).")]
ResponseId = Annotated[str, Path(max_length=36)]
TimepointCode = Annotated[str, Path(max_length=16, description="baseline, M3 ... M24")]
SiteQuery = Annotated[
    str | None, Query(max_length=32, description="Limit to one site (staff: their own).")
]


def context(
    request: Request, session: SessionDep, catalog: CatalogDep, principal: Principal
) -> service.Context:
    return service.Context(
        session=session,
        tables=request.app.state.tables,
        catalog=catalog,
        principal=principal,
        now=utcnow(),
    )


def public(row: QuestionnaireResponse) -> dict[str, Any]:
    return QuestionnaireResponsePublic.model_validate(row, from_attributes=True).model_dump(
        mode="json"
    )


router = APIRouter(tags=["questionnaires"])


@router.get(
    "/v1/me/assessments",
    response_model=AssessmentsPublic,
    responses=problem_responses(401, 403, 404),
)
async def my_assessments(
    request: Request, session: SessionDep, catalog: CatalogDep, principal: PatientPrincipal
) -> dict[str, Any]:
    """Your questionnaire timepoints, each with its window and whether it is open now."""
    view = await service.my_assessments(context(request, session, catalog, principal))
    return {
        "instrument": service.SCHEDULED_INSTRUMENT,
        "timezone": view.patient.timezone,
        "timepoints": [
            {
                "code": tp.code,
                "status": tp.status,
                "due_date": tp.due_date,
                "window": service.window_view(tp),
                "response_id": view.response_ids.get(tp.code),
                "has_draft": tp.code in view.drafts,
            }
            for tp in view.timepoints
        ],
    }


@router.post(
    "/v1/me/questionnaire-responses",
    status_code=201,
    response_model=QuestionnaireResponsePublic,
    responses={
        200: {"model": QuestionnaireResponsePublic, "description": "Draft updated"},
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
)
async def submit_my_response(
    body: SubmissionIn,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: PatientPrincipal,
    idem: IdempotencyDep,
) -> JSONResponse:
    """Submit the questionnaire for an open timepoint (or save a draft with `status: draft`).

    Send an `Idempotency-Key` so a retry never stores twice."""
    row, created = await service.submit_as_patient(
        context(request, session, catalog, principal),
        instrument_code=body.instrument,
        timepoint_code=body.timepoint,
        answers=body.answers,
        status=body.status,
    )
    return await idem.respond(session, 201 if created else 200, public(row))


@router.get(
    "/v1/me/questionnaire-responses/{timepoint}/draft",
    response_model=QuestionnaireResponsePublic,
    responses=problem_responses(401, 403, 404),
)
async def get_my_draft(
    timepoint: TimepointCode,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: PatientPrincipal,
    instrument: str = service.SCHEDULED_INSTRUMENT,
) -> dict[str, Any]:
    """The answers saved so far for a timepoint, to resume."""
    row = await service.get_draft(
        context(request, session, catalog, principal),
        instrument_code=instrument,
        timepoint_code=timepoint,
    )
    return public(row)


@router.put(
    "/v1/me/questionnaire-responses/{timepoint}/draft",
    response_model=QuestionnaireResponsePublic,
    responses={
        201: {"model": QuestionnaireResponsePublic, "description": "Draft created"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def save_my_draft(
    timepoint: TimepointCode,
    body: DraftIn,
    request: Request,
    response: Response,
    session: SessionDep,
    catalog: CatalogDep,
    principal: PatientPrincipal,
) -> dict[str, Any]:
    """Save (replace) the draft answers of an open timepoint; submit them with POST later."""
    row, created = await service.save_draft(
        context(request, session, catalog, principal),
        instrument_code=body.instrument,
        timepoint_code=timepoint,
        answers=body.answers,
    )
    response.status_code = 201 if created else 200
    return public(row)


@router.post(
    "/v1/patients/{patient_id}/questionnaire-responses",
    status_code=201,
    response_model=QuestionnaireResponsePublic,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def enter_response_for_patient(
    patient_id: PatientId,
    body: StaffEntryIn,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: StaffPrincipal,
    idem: IdempotencyDep,
) -> JSONResponse:
    """Enter answers the patient gave on paper or in an interview (site staff; audited).

    The window is checked against `completed_at` (when the patient answered). Answers given
    outside it are accepted only with `window_override: true`; the reason is always required."""
    row = await service.enter_for_patient(
        context(request, session, catalog, principal),
        patient_id,
        instrument_code=body.instrument,
        timepoint_code=body.timepoint,
        answers=body.answers,
        mode=body.mode,
        reason=body.reason,
        completed_at=body.completed_at,
        window_override=body.window_override,
    )
    return await idem.respond(session, 201, public(row))


@router.post(
    "/v1/patients/{patient_id}/questionnaire-responses/{response_id}/corrections",
    status_code=201,
    response_model=QuestionnaireResponsePublic,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def correct_response(
    patient_id: PatientId,
    response_id: ResponseId,
    body: CorrectionIn,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: StaffPrincipal,
    idem: IdempotencyDep,
) -> JSONResponse:
    """Correct a completed response: creates version n+1 superseding it (site staff; reason
    required; audited). The original stays stored and readable."""
    row = await service.correct_response(
        context(request, session, catalog, principal),
        patient_id,
        response_id,
        answers=body.answers,
        reason=body.reason,
    )
    return await idem.respond(session, 201, public(row))


@router.get(
    "/v1/patients/{patient_id}/questionnaire-responses",
    response_model=PatientOutcomes,
    responses=problem_responses(401, 403, 404),
)
async def patient_outcomes(
    patient_id: PatientId,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: ReaderPrincipal,
) -> dict[str, Any]:
    """Scores per timepoint with change from baseline; a change of 10 points or more is
    flagged as clinically meaningful (Osoba et al. 1998)."""
    return await service.patient_outcomes(context(request, session, catalog, principal), patient_id)


@router.get(
    "/v1/patients/{patient_id}/questionnaire-responses/{response_id}",
    response_model=QuestionnaireResponsePublic,
    responses=problem_responses(401, 403, 404),
)
async def get_response(
    patient_id: PatientId,
    response_id: ResponseId,
    session: SessionDep,
    principal: ReaderPrincipal,
) -> dict[str, Any]:
    """One stored version (current or superseded) with its answers."""
    row = await repository.get_response(
        session, principal, patient_id=patient_id, response_id=response_id
    )
    return public(row)


def _site(principal: Principal, site: str | None) -> str | None:
    if site is not None:
        ensure_site_access(principal, site, f"Site {site}")
    return site


@router.get(
    "/v1/reports/questionnaires.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "One row per completed response"},
        **problem_responses(401, 403, 404),
    },
)
async def questionnaire_export(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: ReportPrincipal,
    site: SiteQuery = None,
) -> Response:
    """One row per completed response (current versions): subject_id, site, timepoint,
    completed_at, mode, version, item_1 ... item_51, scale scores."""
    instrument, rows = await service.export_rows(
        context(request, session, catalog, principal), _site(principal, site)
    )
    return Response(
        export.questionnaire_csv(instrument, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="questionnaires.csv"'},
    )


@router.get(
    "/v1/reports/questionnaire-completion",
    response_model=CompletionReport,
    responses=problem_responses(401, 403, 404),
)
async def questionnaire_completion(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: ReportPrincipal,
    site: SiteQuery = None,
) -> dict[str, Any]:
    """Completion rate per timepoint: completed / due so far (windows closed, or answered)."""
    ctx = context(request, session, catalog, principal)
    return {
        "instrument": service.SCHEDULED_INSTRUMENT,
        "site_id": site,
        "as_of": ctx.now,
        "timepoints": await service.completion_report(ctx, _site(principal, site)),
    }


fhir_router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)

_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            FHIR_JSON: {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@fhir_router.post(
    "/QuestionnaireResponse",
    status_code=201,
    response_class=FhirJSONResponse,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
    openapi_extra=_FHIR_BODY,
    description="Submit (status `completed`) or save a draft (`in-progress`) as a FHIR R4 "
    "QuestionnaireResponse: `questionnaire` = `urn:captem:questionnaire:eortc-net`, item linkId = "
    "item number, answer valueCoding.code or valueInteger = response code, timepoint in the "
    "extension `urn:captem:fhir:timepoint` (valueCode). Send an `Idempotency-Key`. Errors are "
    "FHIR OperationOutcome documents.",
)
async def post_fhir_questionnaire_response(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: PatientPrincipal,
    idem: IdempotencyDep,
) -> JSONResponse:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FieldProblem(
            [field_error("body", "is not valid JSON.", "Send a QuestionnaireResponse.")],
            status=400,
        ) from None
    submission = fhir.parse_questionnaire_response(body)
    ctx = context(request, session, catalog, principal)
    row, created = await service.submit_as_patient(
        ctx,
        instrument_code=submission.instrument,
        timepoint_code=submission.timepoint,
        answers=submission.answers,
        status="completed" if submission.status == "completed" else "draft",
        fields=service.FHIR_FIELDS,
        subject_id=submission.subject,
    )
    patient = await repository.get_own_patient(session, principal)
    resource = fhir.questionnaire_response_resource(row, patient)
    location = f"{str(request.base_url).rstrip('/')}/fhir/QuestionnaireResponse/{row.id}"
    return await idem.respond(
        session,
        201 if created else 200,
        resource,
        headers={"Location": location, "Content-Type": FHIR_JSON},
    )


@fhir_router.get(
    "/QuestionnaireResponse",
    response_class=FhirJSONResponse,
    responses=problem_responses(400, 401, 403, 404, 422),
    description="Search by `subject` (study subject ID, e.g. `101-0007`; a patient may leave it "
    "out). A searchset Bundle of the current completed responses, each followed by its scale "
    "scores as included Observations. An unknown or out-of-scope subject is 404.",
)
async def search_fhir_questionnaire_responses(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    principal: ReaderPrincipal,
    subject: Annotated[str | None, Query(max_length=64)] = None,
) -> FhirJSONResponse:
    ctx = context(request, session, catalog, principal)
    found, instrument = await service.search_responses(ctx, subject)
    base = str(request.base_url).rstrip("/")
    return FhirJSONResponse(fhir.searchset(base, found, instrument))
