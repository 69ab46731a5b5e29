"""Reading subjects within the caller's scope: out-of-scope subjects are simply not found."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, site_filter
from services.common.errors import NotFound
from services.safety_api.models import Subject, tables


async def find_subject(
    session: AsyncSession, principal: Principal, subject_id: str
) -> Subject | None:
    query = select(Subject).where(
        col(Subject.id) == subject_id,
        site_filter(principal, col(Subject.site_id)),
    )
    return (await session.execute(query)).scalar_one_or_none()


async def get_subject(session: AsyncSession, principal: Principal, subject_id: str) -> Subject:
    subject = await find_subject(session, principal, subject_id)
    if subject is None:
        raise NotFound(f"Subject {subject_id}")
    return subject


async def site_timezone(session: AsyncSession, site_id: str) -> str:
    sites = tables.sites
    tz = (await session.execute(select(sites.c.timezone).where(sites.c.id == site_id))).scalar()
    return str(tz or "UTC")


async def list_subjects(session: AsyncSession, principal: Principal) -> list[Subject]:
    """Every subject the principal may see, by study ID."""
    query = select(Subject).where(site_filter(principal, col(Subject.site_id)))
    return list((await session.execute(query.order_by(col(Subject.id)))).scalars())
