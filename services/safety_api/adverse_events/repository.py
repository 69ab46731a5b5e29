"""Reading adverse-event occurrences within the caller's scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, site_filter
from services.common.errors import NotFound
from services.safety_api.models import AdverseEvent


async def get_event(session: AsyncSession, principal: Principal, event_id: str) -> AdverseEvent:
    query = select(AdverseEvent).where(
        col(AdverseEvent.id) == event_id,
        site_filter(principal, col(AdverseEvent.site_id)),
    )
    event = (await session.execute(query)).scalar_one_or_none()
    if event is None:
        raise NotFound(f"Adverse event {event_id}")
    return event


async def events_of_subject(
    session: AsyncSession, principal: Principal, subject_id: str
) -> list[AdverseEvent]:
    """Every occurrence of one subject in time order (ties in id order, so output is stable)."""
    query = (
        select(AdverseEvent)
        .where(
            col(AdverseEvent.subject_id) == subject_id,
            site_filter(principal, col(AdverseEvent.site_id)),
        )
        .order_by(col(AdverseEvent.occurred_at), col(AdverseEvent.id))
    )
    return list((await session.execute(query)).scalars())
