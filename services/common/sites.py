"""Sites: ``PUT /v1/sites/{site_id}`` (trial_admin) creates or updates a site, idempotently.

Subjects, patients and tokens refer to sites by this id. Both services keep their own copy.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import (
    CurrentPrincipal,
    Principal,
    Role,
    ensure_site_access,
    require_roles,
)
from services.common.db import utcnow
from services.common.errors import NotFound, Problem, problem_responses
from services.common.session import SessionDep
from services.common.tables import PlatformTables

SITE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
SiteId = Annotated[str, Path(pattern=SITE_ID_PATTERN, description="Site id, e.g. `101`.")]


def valid_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not an IANA time zone; use a name such as "
            "'America/New_York' or 'Europe/London'."
        ) from None
    return value


class SiteIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(description="IANA time zone, e.g. America/New_York")

    _tz = field_validator("timezone")(valid_timezone)


class SitePublic(BaseModel):
    id: str
    name: str
    timezone: str
    created_at: dt.datetime
    updated_at: dt.datetime


router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.put(
    "/{site_id}",
    response_model=SitePublic,
    responses={
        201: {"model": SitePublic, "description": "Created"},
        **problem_responses(401, 403, 409, 422),
    },
)
async def put_site(
    site_id: SiteId,
    body: SiteIn,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(Role.TRIAL_ADMIN))],
) -> dict[str, Any]:
    sites = request.app.state.tables.sites
    now = utcnow()
    existing = (
        (await session.execute(select(sites).where(sites.c.id == site_id))).mappings().first()
    )
    after = {"id": site_id, "name": body.name, "timezone": body.timezone}
    if existing is None:
        try:
            await session.execute(sites.insert().values(**after, created_at=now, updated_at=now))
            await session.flush()
        except IntegrityError:
            raise Problem(
                409,
                "Another request created this site at the same moment; repeat "
                "the request to update it.",
                slug="conflict",
            ) from None
        response.status_code = 201
        await audit.record(
            session,
            request.app.state.tables,
            actor=principal,
            action="site.create",
            entity_type="site",
            entity_id=site_id,
            site_id=site_id,
            after=after,
        )
        return {**after, "created_at": now, "updated_at": now}
    before = {"id": site_id, "name": existing["name"], "timezone": existing["timezone"]}
    if before == after:
        return dict(existing)
    await session.execute(
        update(sites)
        .where(sites.c.id == site_id)
        .values(name=body.name, timezone=body.timezone, updated_at=now)
    )
    await audit.record(
        session,
        request.app.state.tables,
        actor=principal,
        action="site.update",
        entity_type="site",
        entity_id=site_id,
        site_id=site_id,
        before=before,
        after=after,
    )
    return {**after, "created_at": existing["created_at"], "updated_at": now}


@router.get("/{site_id}", response_model=SitePublic, responses=problem_responses(401, 404))
async def get_site(
    site_id: SiteId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    ensure_site_access(principal, site_id, f"Site {site_id}")
    sites = request.app.state.tables.sites
    row = (await session.execute(select(sites).where(sites.c.id == site_id))).mappings().first()
    if row is None:
        raise NotFound(f"Site {site_id}")
    return dict(row)


async def site_exists(session: AsyncSession, tables: PlatformTables, site_id: str) -> bool:
    sites = tables.sites
    found = await session.execute(select(sites.c.id).where(sites.c.id == site_id))
    return found.first() is not None


async def require_site(
    session: AsyncSession, tables: PlatformTables, principal: Principal, site_id: str
) -> None:
    """The site exists and the caller may see it; otherwise 404 (the two are not told apart)."""
    ensure_site_access(principal, site_id, f"Site {site_id}")
    if not await site_exists(session, tables, site_id):
        raise NotFound(f"Site {site_id}")
