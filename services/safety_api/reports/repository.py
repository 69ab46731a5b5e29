"""The graded occurrences a toxicity report counts, within the caller's scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Row,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal, site_filter
from services.safety_api.models import AdverseEvent, Subject


async def participants_by_worst_grade(
    session: AsyncSession,
    principal: Principal,
    category: str,
    site_id: str | None,
    occurred_before: dt.datetime | None = None,
) -> Sequence[Row[Any, Any, Any, Any, Any]]:
    """Over the treatment-emergent occurrences (from C1D1 on, cycle >= 1, effective grade 1 or
    worse; with ``occurred_before``, an aware instant ending a data cut-off, only those before
    it), each participant's worst effective grade and worst grade not resting on an
    unreviewed patient-reported grade (0 if none), per term and over all terms; then how many
    participants have each pair.
    Rows: (meddra_code, term, worst, corroborated, participants), meddra_code NULL for the
    over-all-terms rows. The constants are literals so that the partial index
    ``ix_adverse_events_toxicity`` (same predicate, ``occurred_at`` covered) also serves
    prepared, generic plans, with or without a cut-off, as an index-only scan."""
    ae = AdverseEvent.__table__.c  # type: ignore[attr-defined]
    effective = func.coalesce(ae.clinician_grade, ae.grade)
    unreviewed_patient_report = and_(ae.patient_reported, ae.clinician_grade.is_(None))
    corroborated = func.max(case((unreviewed_patient_report, None), else_=effective))
    per_term = select(
        ae.subject_id,
        ae.meddra_code,
        func.max(ae.term).label("term"),
        func.max(effective).label("worst"),
        func.coalesce(corroborated, literal_column("0")).label("corroborated"),
    ).where(
        ae.category == category,
        ae.cycle >= literal_column("1"),
        effective >= literal_column("1"),
        site_filter(principal, ae.site_id),
    )
    if site_id is not None:
        per_term = per_term.where(ae.site_id == site_id)
    if occurred_before is not None:
        per_term = per_term.where(ae.occurred_at < occurred_before)
    per = per_term.group_by(ae.site_id, ae.subject_id, ae.meddra_code).cte("per_term")
    per_subject = (
        select(
            per.c.subject_id,
            func.max(per.c.worst).label("worst"),
            func.max(per.c.corroborated).label("corroborated"),
        )
        .group_by(per.c.subject_id)
        .subquery("per_subject")
    )
    by_term = select(
        per.c.meddra_code,
        func.max(per.c.term).label("term"),
        per.c.worst,
        per.c.corroborated,
        func.count().label("participants"),
    ).group_by(per.c.meddra_code, per.c.worst, per.c.corroborated)
    overall = select(
        cast(null(), String).label("meddra_code"),
        cast(null(), String).label("term"),
        per_subject.c.worst,
        per_subject.c.corroborated,
        func.count().label("participants"),
    ).group_by(per_subject.c.worst, per_subject.c.corroborated)
    return (await session.execute(union_all(by_term, overall))).all()


async def count_subjects(
    session: AsyncSession,
    principal: Principal,
    site_id: str | None,
    started_by: dt.date | None = None,
) -> int:
    """Subjects in scope; with ``started_by`` only those whose treatment (C1D1) started on or
    before that date."""
    subjects = Subject.__table__.c  # type: ignore[attr-defined]
    query = select(func.count()).where(site_filter(principal, subjects.site_id))
    if site_id is not None:
        query = query.where(subjects.site_id == site_id)
    if started_by is not None:
        query = query.where(subjects.treatment_start <= started_by)
    return int((await session.execute(query.select_from(Subject.__table__))).scalar_one())  # type: ignore[attr-defined]
