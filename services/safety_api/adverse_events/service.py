"""A subject's adverse-event record, and clinician confirmation of a graded occurrence.

Patient-reported grades are kept apart from clinician-confirmed ones (DOMAIN §3): a
confirmation or override is written to the ``clinician_*`` columns and never changes the recorded
grade. The record's summaries derive from the occurrences each time they are read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import FieldProblem, field_error
from services.safety_api.adverse_events.recording import local_date
from services.safety_api.adverse_events.repository import events_of_subject, get_event
from services.safety_api.adverse_events.schemas import EFFECTIVE_GRADE, ConfirmationIn
from services.safety_api.ctcae.rules import ctcae_table
from services.safety_api.models import AdverseEvent, Subject, tables
from services.safety_api.subjects.repository import get_subject, site_timezone

GRADING_NOTE = (
    EFFECTIVE_GRADE + " Patient-reported grades (from the diary) count until a clinician "
    "reviews them and are also shown apart: worst_patient_reported_grade is the patient's own "
    "grade, worst_clinician_grade the clinician's. The baseline grade is that of the last "
    "occurrence on or before C1D1 in the site's local calendar."
)


def effective_grade(event: AdverseEvent) -> int:
    return event.clinician_grade if event.clinician_grade is not None else event.grade


def occurrence(event: AdverseEvent) -> dict[str, Any]:
    clinician = None
    if event.clinician_grade is not None:
        clinician = {
            "grade": event.clinician_grade,
            "reason": event.clinician_reason,
            "by": event.clinician_by,
            "at": event.clinician_at,
        }
    return {
        "id": event.id,
        "subject_id": event.subject_id,
        "term": event.term,
        "meddra_code": event.meddra_code,
        "category": event.category,
        "occurred_at": event.occurred_at,
        "cycle": event.cycle,
        "source_kind": event.source_kind,
        "source_id": event.source_id,
        "patient_reported": event.patient_reported,
        "grade": event.grade,
        "needs_clinical_assessment": event.needs_clinical_assessment,
        "clinician": clinician,
        "effective_grade": effective_grade(event),
    }


def _max(values: Iterable[int]) -> int | None:
    return max(values, default=None)


def _cycle_summary(
    cycle: int, events: Sequence[AdverseEvent], baseline: int | None
) -> dict[str, Any]:
    worst = max(effective_grade(e) for e in events)
    return {
        "cycle": cycle,
        "occurrences": len(events),
        "worst_grade": worst,
        "worst_patient_reported_grade": _max(e.grade for e in events if e.patient_reported),
        "worst_clinician_grade": _max(
            e.clinician_grade for e in events if e.clinician_grade is not None
        ),
        "unconfirmed_patient_reported": sum(
            1 for e in events if e.patient_reported and e.clinician_grade is None
        ),
        "shift_from_baseline": None if baseline is None else worst - baseline,
    }


def summarise(
    subject: Subject, events: Sequence[AdverseEvent], timezone: str
) -> list[dict[str, Any]]:
    """Per term: the baseline grade and the worst grades of each cycle (events oldest first)."""
    by_term: dict[str, list[AdverseEvent]] = defaultdict(list)
    for event in events:
        by_term[event.meddra_code].append(event)
    terms = []
    for term_events in by_term.values():
        first = term_events[0]
        at_baseline = [
            e for e in term_events if local_date(e.occurred_at, timezone) <= subject.treatment_start
        ]
        baseline_event = at_baseline[-1] if at_baseline else None
        baseline = None if baseline_event is None else effective_grade(baseline_event)
        by_cycle: dict[int, list[AdverseEvent]] = defaultdict(list)
        for event in term_events:
            by_cycle[event.cycle].append(event)
        terms.append(
            {
                "term": first.term,
                "meddra_code": first.meddra_code,
                "category": first.category,
                "baseline_grade": baseline,
                "baseline_event_id": None if baseline_event is None else baseline_event.id,
                "worst_grade_on_treatment": _max(
                    effective_grade(e) for e in term_events if e.cycle >= 1
                ),
                "cycles": [
                    _cycle_summary(cycle, by_cycle[cycle], baseline) for cycle in sorted(by_cycle)
                ],
            }
        )
    return sorted(terms, key=lambda t: (t["category"], t["term"]))


async def adverse_event_record(
    session: AsyncSession, principal: Principal, subject_id: str
) -> dict[str, Any]:
    subject = await get_subject(session, principal, subject_id)
    events = await events_of_subject(session, principal, subject.id)
    timezone = await site_timezone(session, subject.site_id)
    return {
        "subject_id": subject.id,
        "site_id": subject.site_id,
        "treatment_start": subject.treatment_start,
        "grading": GRADING_NOTE,
        "terms": summarise(subject, events, timezone),
        "events": [occurrence(e) for e in events],
    }


def _check_grade_exists(event: AdverseEvent, grade: int) -> None:
    term = ctcae_table().get(event.meddra_code)
    if grade == 0 or term is None or term.criteria(grade) is not None:
        return
    defined = [str(g) for g in range(1, 6) if term.criteria(g) is not None]
    raise FieldProblem(
        [
            field_error(
                "body.grade",
                f"CTCAE v4.03 has no grade {grade} for {event.term}.",
                f"Use 0 or one of its grades: {', '.join(defined)}.",
            )
        ]
    )


async def confirm(
    session: AsyncSession, principal: Principal, event_id: str, body: ConfirmationIn
) -> AdverseEvent:
    """Record a clinician's grade for one occurrence; a grade that differs needs a reason."""
    event = await get_event(session, principal, event_id)
    _check_grade_exists(event, body.grade)
    reason = (body.reason or "").strip() or None
    differs = body.grade != event.grade or (
        event.clinician_grade is not None and body.grade != event.clinician_grade
    )
    if differs and reason is None:
        recorded = f"recorded grade {event.grade}"
        if event.clinician_grade is not None:
            recorded += f" and the clinician grade {event.clinician_grade}"
        raise FieldProblem(
            [
                field_error(
                    "body.reason",
                    f"Grade {body.grade} differs from the {recorded}.",
                    "Say why in reason; the recorded grade is kept as it was.",
                )
            ]
        )
    before = _review(event)
    if event.clinician_grade == body.grade and event.clinician_reason == reason:
        return event  # the same confirmation again: nothing to record
    event.clinician_grade = body.grade
    event.clinician_reason = reason
    event.clinician_by = principal.key
    event.clinician_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        tables,
        actor=principal,
        action="adverse_event.override" if body.grade != event.grade else "adverse_event.confirm",
        entity_type="adverse_event",
        entity_id=event.id,
        site_id=event.site_id,
        before=before,
        after=_review(event),
        reason=reason,
    )
    return event


def _review(event: AdverseEvent) -> dict[str, Any]:
    return {
        "grade": event.grade,
        "clinician_grade": event.clinician_grade,
        "clinician_reason": event.clinician_reason,
        "clinician_by": event.clinician_by,
        "clinician_at": None if event.clinician_at is None else event.clinician_at.isoformat(),
    }
