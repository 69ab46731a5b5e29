"""The AE record (JSON and FHIR) and clinician confirmation of a graded occurrence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.common.auth import Principal, Role, require_roles
from services.common.errors import problem_responses
from services.common.fhir import FHIR_JSON, FhirRoute, fhir_response
from services.common.session import SessionDep
from services.safety_api.adverse_events import fhir, service
from services.safety_api.adverse_events.repository import events_of_subject
from services.safety_api.adverse_events.schemas import (
    AdverseEventOccurrence,
    AdverseEventRecord,
    ConfirmationIn,
)
from services.safety_api.subjects.repository import get_subject
from services.safety_api.subjects.schemas import SUBJECT_ID_PATTERN, SubjectId

router = APIRouter(tags=["adverse events"])
fhir_router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)

Reader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.SITE_STAFF, Role.SITE_ADMIN, Role.EHR_CLIENT, Role.MONITOR, Role.TRIAL_ADMIN
        )
    ),
]
Clinician = Annotated[Principal, Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN))]


@router.get(
    "/v1/subjects/{subject_id}/adverse-events",
    response_model=AdverseEventRecord,
    summary="A subject's adverse-event record",
    responses=problem_responses(401, 403, 404),
)
async def read_adverse_event_record(
    subject_id: SubjectId, session: SessionDep, principal: Reader
) -> dict[str, Any]:
    """Every graded occurrence with its source and time, and per CTCAE term the baseline grade
    and the worst grade of each 28-day treatment cycle; patient-reported and clinician grades
    are shown apart."""
    return await service.adverse_event_record(session, principal, subject_id)


@router.post(
    "/v1/adverse-events/{event_id}/confirm",
    response_model=AdverseEventOccurrence,
    summary="Confirm or override a graded occurrence",
    responses=problem_responses(401, 403, 404, 422),
)
async def confirm_adverse_event(
    event_id: Annotated[str, Path(max_length=36, description="The occurrence's id.")],
    body: ConfirmationIn,
    session: SessionDep,
    principal: Clinician,
) -> dict[str, Any]:
    """A clinician's grade for a patient-reported or lab-graded occurrence. A grade that differs
    from the recorded one needs a reason; the recorded grade itself is never changed."""
    event = await service.confirm(session, principal, event_id, body)
    return service.occurrence(event)


@fhir_router.get(
    "/AdverseEvent",
    summary="Search AdverseEvent resources by subject (FHIR R4)",
    response_class=Response,
    responses={
        200: {
            "description": "A searchset Bundle of AdverseEvent resources (grade >= 1)",
            "content": {FHIR_JSON: {"schema": {"type": "object"}}},
        },
        **problem_responses(401, 403, 404),
    },
)
async def search_adverse_events(
    request: Request,
    session: SessionDep,
    principal: Reader,
    subject: Annotated[
        str,
        Query(pattern=SUBJECT_ID_PATTERN, description="Study subject ID, e.g. `101-0007`."),
    ],
) -> Response:
    """Each occurrence of grade 1 or worse as an AdverseEvent, with the CTCAE grade (clinician's
    where confirmed) in the ae-grade extension and the term in MedDRA; meta.tag says where the
    grade came from. Errors are OperationOutcome resources."""
    found = await get_subject(session, principal, subject)
    events = await events_of_subject(session, principal, found.id)
    graded = [(e, service.effective_grade(e)) for e in events]
    bundle = fhir.searchset([(e, g) for e, g in graded if g >= 1], str(request.url))
    return fhir_response(bundle.model_dump(mode="json"), 200)
