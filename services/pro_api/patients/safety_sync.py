"""Keeping safety_api's subject in step with the patient's calendar.

safety_api grades by cycle and watches the liver after each TARE, so it needs each subject's site,
C1D1 and TARE dates. Every enrolment and calendar change enqueues one ``safety.subject.upsert`` in
the same transaction as the change (:mod:`services.common.outbox`); the dispatcher then sends
``PUT /v1/subjects/{subject_id}`` until safety_api takes it. The outbox holds no credentials: the
service token is minted when each attempt is made, and the message id is the Idempotency-Key so a
redelivery is recognised.

Messages can arrive out of order (an early one waiting on its retry back-off while a later one
goes through), so when it has the database the deliverer sends the patient's calendar as it is
*now*, not as it was when the message was queued: a late message can then never put an older
calendar back over a newer one. The queued body is the fallback.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Role, TokenService
from services.common.db import Database
from services.common.outbox import Deliverer, OutboxMessage, OutgoingRequest, enqueue
from services.common.settings import Settings
from services.pro_api.models import Patient, tables

SAFETY_SUBJECT_UPSERT = "safety.subject.upsert"
SERVICE_TOKEN_TTL_S = 300


def subject_body(patient: Patient, cycle_starts: list[dt.date] | None = None) -> dict[str, Any]:
    """The body of safety_api's ``PUT /v1/subjects/{subject_id}`` (DESIGN.md, API contract),
    with the actual cycle starts when staff delayed a cycle."""
    body: dict[str, Any] = {
        "site_id": patient.site_id,
        "treatment_start": patient.treatment_start.isoformat(),
        "tare_dates": list(patient.tare_dates),
        # No "baseline": safety_api keeps the baseline values staff entered there.
    }
    if cycle_starts:
        body["cycle_starts"] = [d.isoformat() for d in cycle_starts]
    return body


async def enqueue_subject_upsert(session: AsyncSession, patient: Patient) -> str | None:
    return await enqueue(
        session,
        tables,
        SAFETY_SUBJECT_UPSERT,
        {"subject_id": patient.subject_id, "body": subject_body(patient)},
    )


class SafetySubjectDeliverer(Deliverer):
    """Sends a subject upsert to safety_api as the ``pro_api`` service."""

    def __init__(
        self, settings: Settings, *, db: Database | None = None, tokens: TokenService | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.tokens = tokens or TokenService.from_settings(settings)

    async def current_body(self, subject_id: str) -> dict[str, Any] | None:
        if self.db is None:
            return None
        from services.pro_api.diary.service import cycle_starts_for_safety  # diary imports us

        async with self.db.sessionmaker() as session:
            patient = (
                await session.execute(select(Patient).where(col(Patient.subject_id) == subject_id))
            ).scalar_one_or_none()
            if patient is None:
                return None
            return subject_body(patient, await cycle_starts_for_safety(session, patient))

    async def prepare(self, message: OutboxMessage) -> OutgoingRequest | str:
        subject_id = message.payload.get("subject_id")
        body = message.payload.get("body")
        if not isinstance(subject_id, str) or not subject_id or not isinstance(body, dict):
            return "the message has no subject_id or body; it cannot be sent"
        body = await self.current_body(subject_id) or body
        token = self.tokens.mint(
            role=Role.SERVICE, sub="pro_api", audience="safety_api", ttl_s=SERVICE_TOKEN_TTL_S
        )
        base = self.settings.safety_api_url.rstrip("/")
        return OutgoingRequest(
            url=f"{base}/v1/subjects/{quote(subject_id, safe='')}",
            method="PUT",
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/json",
                "idempotency-key": message.id,
            },
            content=json.dumps(body).encode(),
        )
