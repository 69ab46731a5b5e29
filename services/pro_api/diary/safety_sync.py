"""A saved diary day's symptoms go to safety_api's ``POST /v1/symptom-reports``.

Each save with symptoms enqueues one ``safety.symptom_report`` message in the transaction that
stores the version (:mod:`services.common.outbox`), with the dedupe key
``diary:{patient_id}:{date}:v{version}``. The dispatcher sends it as the ``pro_api`` service
(token minted at each attempt, never stored) with that same key as ``Idempotency-Key``: safety_api
stores a report once however often it is delivered, and if safety_api is down it arrives later.

``reported_at`` is the save time, or the last second of the diary day in the patient's time zone
if the day was saved later (the next morning): the symptoms belong to that day, and safety_api
counts cycles and the AE record by the date of ``reported_at``. It carries the patient's local
offset so the date reads the same at both ends.

The body is fixed when the day is saved: a report is a statement about one version of one day;
a later version is a new report with its own key (safety_api keeps the worst grade per cycle).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Role, TokenService
from services.common.outbox import Deliverer, OutboxMessage, OutgoingRequest, enqueue
from services.common.settings import Settings
from services.pro_api.diary.calendar import start_of_local_day
from services.pro_api.diary.models import DiaryEntry
from services.pro_api.models import Patient, tables

SAFETY_SYMPTOM_REPORT = "safety.symptom_report"
SERVICE_TOKEN_TTL_S = 300


def report_key(entry: DiaryEntry) -> str:
    return f"diary:{entry.patient_id}:{entry.local_date.isoformat()}:v{entry.version}"


def reported_at(local_date: dt.date, timezone: str, saved_at: dt.datetime) -> dt.datetime:
    """The save time, or the last second of the diary day if saved after it; local offset."""
    last_second = start_of_local_day(local_date + dt.timedelta(days=1), timezone) - dt.timedelta(
        seconds=1
    )
    return min(saved_at, last_second).astimezone(ZoneInfo(timezone)).replace(microsecond=0)


def symptom_report_body(
    patient: Patient, entry: DiaryEntry, saved_at: dt.datetime
) -> dict[str, Any]:
    """The body of safety_api's ``POST /v1/symptom-reports`` (DESIGN.md, API contract)."""
    return {
        "subject_id": patient.subject_id,
        "reported_at": reported_at(entry.local_date, patient.timezone, saved_at).isoformat(),
        "source": "diary",
        "report": dict(entry.symptoms),
    }


async def enqueue_symptom_report(
    session: AsyncSession, patient: Patient, entry: DiaryEntry, *, saved_at: dt.datetime
) -> str | None:
    key = report_key(entry)
    return await enqueue(
        session,
        tables,
        SAFETY_SYMPTOM_REPORT,
        {"idempotency_key": key, "body": symptom_report_body(patient, entry, saved_at)},
        dedupe_key=key,
    )


class SafetySymptomReportDeliverer(Deliverer):
    """Posts a diary day's symptom report to safety_api as the ``pro_api`` service."""

    def __init__(self, settings: Settings, *, tokens: TokenService | None = None) -> None:
        self.settings = settings
        self.tokens = tokens or TokenService.from_settings(settings)

    async def prepare(self, message: OutboxMessage) -> OutgoingRequest | str:
        key = message.payload.get("idempotency_key")
        body = message.payload.get("body")
        if not isinstance(key, str) or not key or not isinstance(body, dict):
            return "the message has no idempotency_key or body; it cannot be sent"
        token = self.tokens.mint(
            role=Role.SERVICE, sub="pro_api", audience="safety_api", ttl_s=SERVICE_TOKEN_TTL_S
        )
        base = self.settings.safety_api_url.rstrip("/")
        return OutgoingRequest(
            url=f"{base}/v1/symptom-reports",
            method="POST",
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/json",
                "idempotency-key": key,
            },
            content=json.dumps(body, separators=(",", ":"), sort_keys=True).encode(),
        )
