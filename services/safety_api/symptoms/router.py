"""``POST /v1/symptom-reports``: a day's symptoms from the patient diary (via pro_api) or staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from services.common.auth import Principal, Role, require_roles
from services.common.errors import problem_responses
from services.common.idempotency import IdempotencyDep
from services.common.session import SessionDep
from services.safety_api.symptoms.schemas import SymptomReportCreate, SymptomReportPublic
from services.safety_api.symptoms.service import create_symptom_report

router = APIRouter(prefix="/v1/symptom-reports", tags=["symptom reports"])

Reporter = Annotated[
    Principal, Depends(require_roles(Role.SERVICE, Role.SITE_STAFF, Role.SITE_ADMIN))
]


@router.post(
    "",
    status_code=201,
    response_model=SymptomReportPublic,
    summary="Grade and store a symptom report",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def post_symptom_report(
    body: SymptomReportCreate, session: SessionDep, principal: Reporter, idem: IdempotencyDep
) -> JSONResponse:
    """Grades each reported symptom per CTCAE v4.03 and adds it to the subject's AE record.
    Send an `Idempotency-Key` to retry safely: a repeat replays the first response and stores
    nothing new."""
    payload = await create_symptom_report(session, principal, body)
    return await idem.respond(session, 201, payload)
