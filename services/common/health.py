"""Liveness and readiness: ``/healthz`` answers while the process runs; ``/readyz`` only while
the database answers (load balancers stop routing to a replica that lost its database)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.common.errors import problem_response, problem_responses

router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
async def readyz(request: Request) -> JSONResponse:
    try:
        await asyncio.wait_for(request.app.state.db.ping(), READY_TIMEOUT_S)
    except Exception:
        return problem_response(
            503,
            "The database is not answering; this replica is not ready.",
            slug="not-ready",
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ok"})
