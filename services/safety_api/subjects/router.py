"""``/v1/subjects``: register a subject and their treatment calendar; read it back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from services.common.auth import Principal, Role, require_roles
from services.common.errors import problem_responses
from services.common.session import SessionDep
from services.safety_api.subjects import service
from services.safety_api.subjects.repository import get_subject
from services.safety_api.subjects.schemas import SubjectId, SubjectIn, SubjectPublic

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])

Writer = Annotated[
    Principal, Depends(require_roles(Role.SERVICE, Role.SITE_STAFF, Role.SITE_ADMIN))
]
Reader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.SERVICE,
            Role.SITE_STAFF,
            Role.SITE_ADMIN,
            Role.EHR_CLIENT,
            Role.MONITOR,
            Role.TRIAL_ADMIN,
        )
    ),
]


@router.put(
    "/{subject_id}",
    response_model=SubjectPublic,
    summary="Register or update a subject",
    responses={
        201: {"model": SubjectPublic, "description": "Created"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def put_subject(
    subject_id: SubjectId,
    body: SubjectIn,
    response: Response,
    session: SessionDep,
    principal: Writer,
) -> dict[str, Any]:
    """Create (201) or update (200) a subject's site, C1D1, TARE dates, delayed cycle starts
    and baseline labs. Sending the same calendar again changes nothing (200). A subject never
    moves between sites (409)."""
    subject, outcome = await service.put_subject(session, principal, subject_id, body)
    if outcome == "created":
        response.status_code = 201
    return subject.model_dump()


@router.get(
    "/{subject_id}", response_model=SubjectPublic, responses=problem_responses(401, 403, 404)
)
async def read_subject(subject_id: SubjectId, session: SessionDep, principal: Reader) -> Any:
    return (await get_subject(session, principal, subject_id)).model_dump()
