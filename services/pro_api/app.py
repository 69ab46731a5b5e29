"""pro_api: the EORTC NET questionnaire and the CapTem diary for patients' phones."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.settings import Settings, get_settings
from services.pro_api.auth import router as patient_auth
from services.pro_api.diary import reminders
from services.pro_api.diary import router as diary
from services.pro_api.diary.safety_sync import (
    SAFETY_SYMPTOM_REPORT,
    SafetySymptomReportDeliverer,
)
from services.pro_api.instruments import router as instruments
from services.pro_api.instruments.loader import load_instruments
from services.pro_api.models import tables
from services.pro_api.patients import router as patients
from services.pro_api.patients.safety_sync import SAFETY_SUBJECT_UPSERT, SafetySubjectDeliverer
from services.pro_api.questionnaires import router as questionnaires
from services.pro_api.web import router as patient_pages

DESCRIPTION = """Patient-reported outcomes for the CapTemY90 trial (NCT04339036): the EORTC NET
quality-of-life questionnaire (QLQ-C30 + QLQ-GINET21) and the capecitabine/temozolomide diary.
Errors are RFC 9457 problem documents."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        service="pro_api",
        title="captem pro_api",
        description=DESCRIPTION,
        version="1.0.0",
        settings=settings,
        tables=tables,
        routers=[
            instruments.router,
            instruments.fhir_router,
            questionnaires.router,
            questionnaires.fhir_router,
            patients.router,
            patient_auth.router,
            diary.router,
            patient_pages.router,
        ],
        deliverers=lambda db, tables: {
            SAFETY_SUBJECT_UPSERT: SafetySubjectDeliverer(settings, db=db),
            SAFETY_SYMPTOM_REPORT: SafetySymptomReportDeliverer(settings),
            reminders.REMINDER_WEBHOOK: reminders.ReminderDeliverer(db, tables),
        },
        periodic=[reminders.reminder_task(settings)],
    )
    # Loaded and validated once: a broken definition file stops start-up with the loader's
    # message naming the file and field (InstrumentFileError).
    app.state.instruments = load_instruments(settings.instruments_dir)
    return app
