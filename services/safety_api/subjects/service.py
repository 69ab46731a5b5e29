"""Registering a subject and keeping their treatment calendar current.

pro_api calls ``PUT /v1/subjects/{id}`` on enrolment and on every calendar change; staff may too.
A calendar change (C1D1 or delayed cycle starts) moves the cycle of every occurrence already on
record, so the AE record's "worst grade per cycle" always follows the current calendar.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal, ensure_site_access
from services.common.db import utcnow
from services.common.errors import FieldProblem, NotFound, Problem, field_error
from services.common.sites import site_exists
from services.safety_api.adverse_events.recording import cycle_of, local_date
from services.safety_api.adverse_events.repository import events_of_subject
from services.safety_api.models import Subject, tables
from services.safety_api.subjects.repository import find_subject, site_timezone
from services.safety_api.subjects.schemas import SubjectIn

Outcome = Literal["created", "updated", "unchanged"]


def snapshot(subject: Subject) -> dict[str, Any]:
    """The subject as audited and returned."""
    return {
        "id": subject.id,
        "site_id": subject.site_id,
        "treatment_start": subject.treatment_start.isoformat(),
        "tare_dates": list(subject.tare_dates),
        "cycle_starts": list(subject.cycle_starts),
        "baseline": dict(subject.baseline),
    }


async def put_subject(
    session: AsyncSession, principal: Principal, subject_id: str, body: SubjectIn
) -> tuple[Subject, Outcome]:
    # Scope first, so nothing about another site (not even whether it exists) leaks.
    ensure_site_access(principal, body.site_id, f"Site {body.site_id}")
    if not await site_exists(session, tables, body.site_id):
        raise FieldProblem(
            [
                field_error(
                    "body.site_id",
                    f"Site {body.site_id} is not registered.",
                    "Register the site first (PUT /v1/sites/{site_id}, trial_admin), "
                    "or correct the site id.",
                )
            ],
            slug="unknown-site",
        )
    values = body.stored()
    subject = await find_subject(session, principal, subject_id)
    if subject is None:
        return await _create(session, principal, subject_id, values), "created"
    if subject.site_id != body.site_id:
        raise Problem(
            409,
            f"Subject {subject_id} is registered at site {subject.site_id}; a subject cannot "
            f"move to site {body.site_id}. Send site_id {subject.site_id}, or register the "
            "participant at the new site under a new subject ID.",
            slug="subject-site-change",
        )
    before = snapshot(subject)
    calendar_before = (subject.treatment_start, list(subject.cycle_starts))
    for name, value in values.items():
        setattr(subject, name, value)
    after = snapshot(subject)
    if after == before:
        return subject, "unchanged"
    subject.updated_at = utcnow()
    await session.flush()
    if (subject.treatment_start, list(subject.cycle_starts)) != calendar_before:
        await _recount_cycles(session, principal, subject)
    await audit.record(
        session,
        tables,
        actor=principal,
        action="subject.update",
        entity_type="subject",
        entity_id=subject_id,
        site_id=subject.site_id,
        before=before,
        after=after,
    )
    return subject, "updated"


async def _create(
    session: AsyncSession, principal: Principal, subject_id: str, values: dict[str, Any]
) -> Subject:
    now = utcnow()
    values = {"baseline": {}, "cycle_starts": [], **values}
    subject = Subject(id=subject_id, created_at=now, updated_at=now, **values)
    try:
        async with session.begin_nested():
            session.add(subject)
    except IntegrityError:
        # The ID is taken: by a subject at a site the caller cannot see (reported as not found,
        # like any out-of-scope data), or by a concurrent request that just created it.
        raise _id_taken(principal, subject_id) from None
    await audit.record(
        session,
        tables,
        actor=principal,
        action="subject.create",
        entity_type="subject",
        entity_id=subject_id,
        site_id=subject.site_id,
        after=snapshot(subject),
    )
    return subject


def _id_taken(principal: Principal, subject_id: str) -> Problem:
    if principal.all_sites:
        return Problem(
            409,
            f"Subject {subject_id} was created by another request at the same moment; repeat "
            "the request to update it.",
            slug="conflict",
        )
    return NotFound(f"Subject {subject_id}")


async def _recount_cycles(session: AsyncSession, principal: Principal, subject: Subject) -> None:
    timezone = await site_timezone(session, subject.site_id)
    cycle_starts = [dt.date.fromisoformat(d) for d in subject.cycle_starts]
    for event in await events_of_subject(session, principal, subject.id):
        event.cycle = cycle_of(
            subject.treatment_start, local_date(event.occurred_at, timezone), cycle_starts
        )
    await session.flush()
