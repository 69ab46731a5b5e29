"""``POST /v1/auth/activate`` and ``POST /v1/auth/refresh``: no bearer token, the body is the
credential. Token responses are never cached (RFC 6749 §5.1)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.common.errors import problem_responses
from services.common.session import SessionDep, on_rollback
from services.pro_api.auth import service
from services.pro_api.auth.schemas import ActivateIn, RefreshIn, TokenPair

router = APIRouter(prefix="/v1/auth", tags=["patient sign-in"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def sign_in_for(request: Request) -> service.SignIn:
    state = request.app.state
    return service.SignIn(
        tokens=state.tokens,
        settings=state.settings,
        db=state.db,
        after_rollback=lambda callback: on_rollback(request, callback),
    )


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/activate",
    response_model=TokenPair,
    summary="Exchange an activation code for a session",
    responses=problem_responses(401, 422, 429),
)
async def activate(
    body: ActivateIn, request: Request, response: Response, session: SessionDep
) -> TokenPair:
    response.headers.update(NO_STORE)
    return await service.activate(
        session, sign_in_for(request), client=client_of(request), typed_code=body.activation_code
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Renew a session with the refresh token (single use)",
    responses=problem_responses(401, 422),
)
async def refresh(
    body: RefreshIn, request: Request, response: Response, session: SessionDep
) -> TokenPair:
    response.headers.update(NO_STORE)
    return await service.refresh(session, sign_in_for(request), refresh_token=body.refresh_token)
