"""safety_api: CTCAE v4.03 grading, adverse events and hepatic-toxicity alerts."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import PeriodicTask, create_service_app
from services.common.db import Database
from services.common.settings import Settings, get_settings
from services.common.tables import PlatformTables
from services.safety_api.adverse_events.router import fhir_router as adverse_events_fhir_router
from services.safety_api.adverse_events.router import router as adverse_events_router
from services.safety_api.alerts import router as alerts
from services.safety_api.alerts import service as alert_service
from services.safety_api.alerts import webhooks
from services.safety_api.ctcae.router import router as grade_router
from services.safety_api.labs.router import fhir_router as labs_fhir_router
from services.safety_api.labs.router import router as labs_router
from services.safety_api.models import tables
from services.safety_api.reports.router import router as reports_router
from services.safety_api.subjects.router import router as subjects_router
from services.safety_api.symptoms.router import router as symptoms_router
from services.safety_api.web.router import router as staff_pages

DESCRIPTION = """Safety monitoring for the CapTemY90 trial (NCT04339036): grading of lab results
and patient-reported symptoms per NCI CTCAE v4.03, each subject's adverse-event record, and
hepatic-toxicity alerts to the trial sites. Errors are RFC 9457 problem documents."""


async def escalate(db: Database, platform: PlatformTables) -> None:
    """Emit alert.escalated for alerts whose acknowledgement deadline passed."""
    async with db.sessionmaker() as session:
        await alert_service.run_escalations(session, platform)
        await session.commit()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        service="safety_api",
        title="captem safety_api",
        description=DESCRIPTION,
        version="1.0.0",
        settings=settings,
        tables=tables,
        routers=[
            alerts.router,
            subjects_router,
            symptoms_router,
            adverse_events_router,
            adverse_events_fhir_router,
            reports_router,
            grade_router,
            labs_router,
            labs_fhir_router,
            staff_pages,
        ],
        deliverers=lambda db, tables: {webhooks.KIND: webhooks.WebhookDeliverer(db, tables)},
        periodic=[PeriodicTask("alert-escalation", settings.escalation_interval_s, escalate)],
    )
