"""Storing a symptom report: grade it (CTCAE v4.03), keep it, and add its AE occurrences.

Grades from a patient's diary are *patient-reported CTCAE grades* for clinician review
(DOMAIN §3; Basch et al., PRO-CTCAE practice): they are stored with ``patient_reported`` set and
stay apart from clinician-confirmed grades. Hepatic warning signs are kept in the report and
are not graded; the alert rules see every stored report (``alerts.service.raise_alerts``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import FieldProblem, field_error
from services.safety_api.adverse_events.recording import (
    Occurrence,
    cycle_of,
    local_date,
    record_occurrences,
)
from services.safety_api.alerts.service import raise_alerts
from services.safety_api.alerts.webhooks import alert_public
from services.safety_api.ctcae import GradingError, grade_symptoms
from services.safety_api.ctcae.schemas import grading_field_error
from services.safety_api.models import SymptomReport, tables
from services.safety_api.subjects.repository import get_subject, site_timezone
from services.safety_api.symptoms.schemas import SymptomReportCreate

# A diary may stamp a report at the end of the patient's local day; anything later than this
# ahead of the server clock is a wrong date, not a clock difference.
FUTURE_TOLERANCE = dt.timedelta(days=1)


async def create_symptom_report(
    session: AsyncSession, principal: Principal, body: SymptomReportCreate
) -> dict[str, Any]:
    subject = await get_subject(session, principal, body.subject_id)
    now = utcnow()
    if body.reported_at > now + FUTURE_TOLERANCE:
        raise FieldProblem(
            [
                field_error(
                    "body.reported_at",
                    f"{body.reported_at.isoformat()} is in the future.",
                    "Send the time the symptoms were reported, with its UTC offset.",
                )
            ]
        )
    reported = body.report.reported()
    try:
        results = grade_symptoms(reported)
    except GradingError as exc:
        raise FieldProblem([grading_field_error(exc)]) from None

    report = SymptomReport(
        id=str(uuid.uuid4()),
        subject_id=subject.id,
        site_id=subject.site_id,
        reported_at=body.reported_at,
        received_at=now,
        source=body.source,
        report=reported,
    )
    session.add(report)
    timezone = await site_timezone(session, subject.site_id)
    await record_occurrences(
        session,
        subject,
        [Occurrence(result, report.id) for result in results],
        occurred_at=body.reported_at,
        timezone=timezone,
        source_kind="symptom_report",
        patient_reported=body.source == "diary",
    )
    await session.flush()
    alerts = await raise_alerts(session, tables, subject, symptom_reports=[report], actor=principal)
    payload: dict[str, Any] = {
        "id": report.id,
        "subject_id": subject.id,
        "reported_at": body.reported_at,
        "source": body.source,
        "patient_reported": body.source == "diary",
        "cycle": cycle_of(
            subject.treatment_start,
            local_date(body.reported_at, timezone),
            [dt.date.fromisoformat(d) for d in subject.cycle_starts],
        ),
        "report": reported,
        "results": [result.to_dict() for result in results],
        "alerts": [alert_public(alert) for alert in alerts],
    }
    await audit.record(
        session,
        tables,
        actor=principal,
        action="symptom_report.create",
        entity_type="symptom_report",
        entity_id=report.id,
        site_id=subject.site_id,
        after={
            "subject_id": subject.id,
            "reported_at": body.reported_at.isoformat(),
            "source": body.source,
            "report": reported,
            "grades": {r.term: r.grade for r in results},
        },
    )
    return payload
