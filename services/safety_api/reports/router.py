"""``GET /v1/reports/toxicity``: participants by CTCAE term and worst grade (JSON or CSV)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from services.common.auth import Principal, Role, require_roles
from services.common.errors import problem_responses
from services.common.session import SessionDep
from services.common.sites import SITE_ID_PATTERN
from services.safety_api.reports import service
from services.safety_api.reports.schemas import ToxicityReport

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Reader = Annotated[
    Principal,
    Depends(require_roles(Role.SITE_STAFF, Role.SITE_ADMIN, Role.MONITOR, Role.TRIAL_ADMIN)),
]
CSV = "text/csv"
DATA_CUTOFF = (
    "Data cut-off date, YYYY-MM-DD: report as of the end of that day. The date is read in the "
    "site's time zone when one site is reported (`site_id`, or any report by site staff, who "
    "always see their own site) and in UTC when every site is: an occurrence (times are stored "
    "in UTC) counts if it occurred before 00:00 of the next day in that zone. Participants "
    "count if their treatment (C1D1) started on or before the date. A date later than today in "
    "that zone is refused (422). The report states what it used (`data_cutoff`, "
    "`data_cutoff_time_zone`, `data_cutoff_rule`). Leave out to count everything recorded so far."
)


@router.get(
    "/toxicity",
    response_model=ToxicityReport,
    summary="Participants with toxicities by term and worst grade",
    responses={
        200: {
            "description": "The report; as CSV (one row per term and worst grade) when the "
            "request says `Accept: text/csv`.",
            "content": {CSV: {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def toxicity_report(
    request: Request,
    session: SessionDep,
    principal: Reader,
    category: Annotated[
        service.Category,
        Query(description="hepatic: liver tests, ascites, hepatic failure; systemic: the rest."),
    ],
    site_id: Annotated[
        str | None,
        Query(
            pattern=SITE_ID_PATTERN,
            description="Count one site only. Site staff always see their own site only.",
        ),
    ] = None,
    data_cutoff: Annotated[dt.date | None, Query(description=DATA_CUTOFF)] = None,
) -> Any:
    report = await service.toxicity_report(session, principal, category, site_id, data_cutoff)
    if CSV in request.headers.get("accept", ""):
        filename = f"toxicity-{category}{'-' + report['site_id'] if report['site_id'] else ''}"
        if report["data_cutoff"]:
            filename += f"-cutoff-{report['data_cutoff'].isoformat()}"
        return Response(
            service.as_csv(report),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return JSONResponse(ToxicityReport.model_validate(report).model_dump(mode="json"))
