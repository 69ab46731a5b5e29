"""Lab ingestion routes: ``POST /v1/labs`` (JSON) and the FHIR R4 endpoints under ``/fhir``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from services.common.auth import Principal, Role, require_roles
from services.common.db import utcnow
from services.common.errors import problem_responses
from services.common.fhir import FHIR_JSON, FhirJSONResponse, FhirRoute, fhir_response
from services.common.idempotency import IdempotencyDep
from services.common.session import SessionDep
from services.safety_api.labs import fhir, service
from services.safety_api.labs.schemas import LabBatchIn, LabBatchOut, LabHistory
from services.safety_api.subjects.repository import get_subject
from services.safety_api.subjects.schemas import SubjectId

LAB_WRITERS = (Role.EHR_CLIENT, Role.SITE_STAFF, Role.SITE_ADMIN)
LAB_READERS = (*LAB_WRITERS, Role.MONITOR, Role.TRIAL_ADMIN)
Writer = Annotated[Principal, Depends(require_roles(*LAB_WRITERS))]
Reader = Annotated[Principal, Depends(require_roles(*LAB_READERS))]

router = APIRouter(tags=["labs"])


@router.post(
    "/v1/labs",
    status_code=201,
    response_model=LabBatchOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Store and grade a batch of lab results for one subject",
)
async def post_labs(
    body: LabBatchIn,
    request: Request,
    session: SessionDep,
    principal: Writer,
    idem: IdempotencyDep,
) -> Response:
    """Every result is graded per CTCAE v4.03 and stored with its grade; graded results enter
    the subject's adverse-event record. All or nothing: if any result cannot be graded, nothing
    is stored and the 422 names each bad one as `body.results[i].<field>`. Chromogranin A is
    stored ungraded. A subject outside the caller's site is 404. Accepts `Idempotency-Key`."""
    now = utcnow()
    stored = await service.ingest_batch(session, request.app.state.tables, principal, body, now=now)
    payload = service.batch_public(body.subject_id, body.collected_at, stored)
    return await idem.respond(session, 201, payload)


@router.get(
    "/v1/subjects/{subject_id}/labs",
    response_model=LabHistory,
    responses=problem_responses(401, 403, 404, 422),
    summary="A subject's lab results over time, with their grades",
)
async def get_lab_history(
    subject_id: SubjectId,
    session: SessionDep,
    principal: Reader,
    analyte: Annotated[
        str | None,
        Query(max_length=16, pattern=r"^[A-Z]+$", description="Only this analyte, e.g. `ALT`."),
    ] = None,
) -> dict[str, Any]:
    """Every stored result, oldest first, each with its CTCAE grade and x ULN as stored. A
    subject outside the caller's site is 404."""
    subject = await get_subject(session, principal, subject_id)
    results = await service.lab_history(session, principal, subject.id, analyte)
    return {"subject_id": subject.id, "site_id": subject.site_id, "results": results}


# FHIR: errors are OperationOutcome (FhirRoute); the problem statuses declared below are documented
# with an OperationOutcome body (services.common.app.problem_openapi).
fhir_router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)
_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "object", "additionalProperties": True}}
            for media in sorted(fhir.ACCEPTED_MEDIA_TYPES)
        },
    }
}
_FHIR_ERRORS = (
    " Errors are FHIR OperationOutcome resources (application/fhir+json): 401/403 for "
    "credentials and role, 404 for a subject not found or outside the caller's site, 415 for a "
    "body that is not JSON, 422 for an Observation that cannot be read or graded."
)

_FHIR_WRITE_ERRORS = (400, 401, 403, 404, 409, 415, 422)


def _fhir_ok(description: str) -> dict[str, Any]:
    return {"description": description, "content": {FHIR_JSON: {"schema": {"type": "object"}}}}


def _fhir_headers(row_id: str) -> dict[str, str]:
    return {"Content-Type": FHIR_JSON, "Location": f"/fhir/Observation/{row_id}"}


@fhir_router.post(
    "/Observation",
    status_code=201,
    response_class=FhirJSONResponse,
    responses={
        201: _fhir_ok("Stored and graded: the Observation as stored, with its ae-grade extension"),
        200: _fhir_ok("The same Observation was received before: the stored one"),
        **problem_responses(*_FHIR_WRITE_ERRORS),
    },
    openapi_extra=_FHIR_BODY,
    summary="Store and grade one FHIR R4 lab Observation",
    description=(
        "LOINC in code.coding, valueQuantity (UCUM code), referenceRange[0], "
        "effectiveDateTime, subject.identifier.value = study subject ID. The response carries "
        "the CTCAE v4.03 grade in the extension "
        "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade. A repeat "
        "of the same Observation (same id or identifier, same subject) returns the stored one "
        "with 200." + _FHIR_ERRORS
    ),
)
async def post_observation(
    request: Request, session: SessionDep, principal: Writer, idem: IdempotencyDep
) -> Response:
    now = utcnow()
    resource = await fhir.read_json_body(request)
    prepared = await fhir.prepare(session, principal, resource, now=now)
    [(row, created)] = await fhir.save_all(
        session, request.app.state.tables, principal, [prepared], now=now
    )
    status = 201 if created else 200
    return await idem.respond(session, status, fhir.observation_json(row), _fhir_headers(row["id"]))


@fhir_router.post(
    "",
    response_class=FhirJSONResponse,
    responses={
        200: _fhir_ok("A batch-response or transaction-response Bundle"),
        **problem_responses(*_FHIR_WRITE_ERRORS),
    },
    openapi_extra=_FHIR_BODY,
    summary="Store and grade a Bundle of FHIR R4 lab Observations",
    description=(
        "Bundle.type batch or collection: each entry succeeds or fails alone; the "
        "batch-response has a status per entry and an OperationOutcome for each failure. "
        "transaction: all or nothing; any failed entry makes it a 422 OperationOutcome listing "
        "every failed entry, and nothing is stored." + _FHIR_ERRORS
    ),
)
async def post_bundle(
    request: Request, session: SessionDep, principal: Writer, idem: IdempotencyDep
) -> Response:
    now = utcnow()
    bundle = await fhir.read_json_body(request)
    tables = request.app.state.tables
    answer = await fhir.ingest_bundle(session, tables, principal, bundle, now=now)
    return await idem.respond(session, 200, answer, {"Content-Type": FHIR_JSON})


@fhir_router.get(
    "/Observation/{observation_id}",
    response_class=FhirJSONResponse,
    responses={
        200: _fhir_ok("The stored Observation with its ae-grade extension"),
        **problem_responses(401, 403, 404, 422),
    },
    summary="Read a stored lab Observation",
    description="Site-scoped: another site's Observation is 404." + _FHIR_ERRORS,
)
async def get_observation(
    observation_id: Annotated[str, Path(max_length=36)], session: SessionDep, principal: Reader
) -> Response:
    row = await service.find_lab_result(session, principal, observation_id)
    if row is None:
        raise fhir.FhirError(
            404,
            [
                fhir.Issue(
                    "not-found",
                    f"Observation {observation_id} was not found, or you are not allowed to "
                    "see it.",
                )
            ],
        )
    return fhir_response(fhir.observation_json(row), 200)
