"""Reminders to patients through the site's SMS/push gateway (a Standard Webhooks endpoint).

The policy (:func:`due_reminders`) is pure; it says which reminders a patient is due at an
instant, each with a key that names it once and for all:

- ``diary_not_entered`` (key: the local date): today's diary day has no entry by the reminder
  time (``CAPTEM_DIARY_REMINDER_LOCAL_TIME``, default 20:00 local), on a day of treatment.
- ``assessment_open`` (key: the timepoint): a questionnaire window is open and not completed.
- ``assessment_closing`` (key: the timepoint): that window closes within
  ``CAPTEM_ASSESSMENT_CLOSING_REMINDER_DAYS`` local days (default 2) and is still not completed.

:func:`run_reminders` is the ``PeriodicTask``: for each active patient of a site with an enabled
reminder webhook it writes one outbox message per reminder not yet sent (the outbox dedupe key
and the ``reminders_sent`` unique key make it once per patient per reminder, whichever replica
runs it). Delivery re-checks the task: a diary filled in, or a questionnaire completed, between
queueing and sending means the reminder is dropped, not sent. The event names the patient (id
and study subject ID), the kind and the local date or timepoint; never symptoms or answers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import audit
from services.common.app import PeriodicTask
from services.common.db import Database, utcnow
from services.common.outbox import Deliverer, OutboxMessage, OutgoingRequest, enqueue
from services.common.settings import Settings
from services.common.tables import PlatformTables
from services.common.webhooks import signed_headers
from services.pro_api.diary import repository
from services.pro_api.diary.calendar import local_today
from services.pro_api.diary.models import ReminderSent, ReminderWebhook
from services.pro_api.instruments.schedule import Timepoint, assessment_schedule
from services.pro_api.models import Patient

log = logging.getLogger("captem.reminders")

REMINDER_WEBHOOK = "webhook.reminder"
EVENT_TYPE = "reminder.due"
QUESTIONNAIRE = "eortc-net"  # the form the trial schedules (questionnaires.service)

ReminderKind = Literal["diary_not_entered", "assessment_open", "assessment_closing"]

MESSAGES: dict[str, str] = {
    "diary_not_entered": "Please fill in today's medicine and symptom diary.",
    "assessment_open": "Your quality-of-life questionnaire is ready to fill in.",
    "assessment_closing": "Your quality-of-life questionnaire closes soon; please fill it in.",
}


@dataclass(frozen=True)
class DueReminder:
    kind: ReminderKind
    key: str  # local date (diary) or timepoint code (questionnaire)
    local_date: dt.date | None = None
    timepoint: str | None = None
    closes_on: dt.date | None = None


def due_reminders(
    *,
    now: dt.datetime,
    timezone: str,
    on_treatment_today: bool,
    diary_entered_today: bool,
    timepoints: list[Timepoint],
    diary_reminder_time: dt.time,
    closing_within_days: int,
) -> list[DueReminder]:
    """The reminders a patient is due at ``now`` (pure: no database, no clock)."""
    local_now = now.astimezone(ZoneInfo(timezone))
    today = local_today(timezone, now)
    due: list[DueReminder] = []
    if on_treatment_today and not diary_entered_today and local_now.time() >= diary_reminder_time:
        due.append(DueReminder("diary_not_entered", today.isoformat(), local_date=today))
    for tp in timepoints:
        if tp.status != "open":
            continue
        due.append(
            DueReminder("assessment_open", tp.code, timepoint=tp.code, closes_on=tp.window_closes)
        )
        if (tp.window_closes - today).days <= closing_within_days:
            due.append(
                DueReminder(
                    "assessment_closing", tp.code, timepoint=tp.code, closes_on=tp.window_closes
                )
            )
    return due


def reminder_event(patient: Patient, reminder: DueReminder, now: dt.datetime) -> dict[str, Any]:
    return {
        "type": EVENT_TYPE,
        "timestamp": now.isoformat(),
        "data": {
            "patient_id": patient.id,
            "subject_id": patient.subject_id,
            "site_id": patient.site_id,
            "language": patient.language,
            "kind": reminder.kind,
            "local_date": reminder.local_date.isoformat() if reminder.local_date else None,
            "timepoint": reminder.timepoint,
            "closes_on": reminder.closes_on.isoformat() if reminder.closes_on else None,
            "message": MESSAGES[reminder.kind],
        },
    }


async def reminders_for(
    session: AsyncSession, patient: Patient, now: dt.datetime, settings: Settings
) -> list[DueReminder]:
    today = local_today(patient.timezone, now)
    # Only active patients are reminded, so "on treatment" is simply "from C1D1 on".
    on_treatment = today >= patient.treatment_start
    completed = await repository.completed_timepoints_all_sites(session, patient.id, QUESTIONNAIRE)
    try:
        timepoints = assessment_schedule(
            enrolment_date=patient.enrolled_on,
            treatment_start=patient.treatment_start,
            timezone=patient.timezone,
            now=now,
            completed=completed,
        )
    except ValueError:  # an inconsistent calendar is staff's to fix; the diary still reminds
        timepoints = []
    return due_reminders(
        now=now,
        timezone=patient.timezone,
        on_treatment_today=on_treatment,
        diary_entered_today=await repository.has_entry_all_sites(session, patient.id, today),
        timepoints=timepoints,
        diary_reminder_time=settings.diary_reminder_local_time,
        closing_within_days=settings.assessment_closing_reminder_days,
    )


async def run_reminders(
    db: Database, tables: PlatformTables, settings: Settings, now: dt.datetime | None = None
) -> int:
    """Queue every reminder due now and not sent before; returns how many were queued."""
    now = now or utcnow()
    queued = 0
    async with db.sessionmaker() as session:
        candidates = await repository.patients_to_remind_all_sites(session)
    for patient in candidates:
        async with db.sessionmaker() as session:
            sent = await repository.reminders_sent_all_sites(session, patient.id)
            for reminder in await reminders_for(session, patient, now, settings):
                if (reminder.kind, reminder.key) in sent:
                    continue
                body = json.dumps(
                    reminder_event(patient, reminder, now), separators=(",", ":"), sort_keys=True
                )
                message_id = await enqueue(
                    session,
                    tables,
                    REMINDER_WEBHOOK,
                    {
                        "site_id": patient.site_id,
                        "patient_id": patient.id,
                        "kind": reminder.kind,
                        "key": reminder.key,
                        "body": body,
                    },
                    dedupe_key=f"reminder:{patient.id}:{reminder.kind}:{reminder.key}",
                )
                if message_id is None:  # another replica queued it a moment ago
                    continue
                await repository.record_reminder_sent(
                    session,
                    ReminderSent(
                        id=message_id,
                        patient_id=patient.id,
                        site_id=patient.site_id,
                        kind=reminder.kind,
                        reminder_key=reminder.key,
                        created_at=now,
                    ),
                )
                queued += 1
            await session.commit()
    return queued


def reminder_task(settings: Settings) -> PeriodicTask:
    async def run(db: Database, tables: PlatformTables) -> None:
        await run_reminders(db, tables, settings)

    return PeriodicTask("diary-reminders", settings.reminder_interval_s, run)


class ReminderDeliverer(Deliverer):
    def __init__(self, db: Database, tables: PlatformTables) -> None:
        self.db, self.tables = db, tables

    async def prepare(self, message: OutboxMessage) -> OutgoingRequest | str:
        p = message.payload
        async with self.db.sessionmaker() as session:
            hook = await repository.reminder_webhook(session, p["site_id"])
            done = await self._task_done(session, p)
        if hook is None:
            return "the site has no reminder webhook any more"
        if hook.disabled_at is not None:
            return f"the site's reminder webhook is disabled ({hook.disabled_reason})"
        if done:
            return "the patient did the task before the reminder went out; not sent"
        body: str = p["body"]
        return OutgoingRequest(
            url=hook.url,
            headers=signed_headers(hook.secret, message.id, body),
            content=body.encode(),
        )

    async def _task_done(self, session: AsyncSession, payload: dict[str, Any]) -> bool:
        patient_id, kind, key = payload["patient_id"], payload["kind"], payload["key"]
        if kind == "diary_not_entered":
            return await repository.has_entry_all_sites(
                session, patient_id, dt.date.fromisoformat(key)
            )
        completed = await repository.completed_timepoints_all_sites(
            session, patient_id, QUESTIONNAIRE
        )
        return key in completed

    async def on_gone(self, message: OutboxMessage) -> None:
        site_id = message.payload["site_id"]
        async with self.db.sessionmaker() as session:
            await session.execute(
                update(ReminderWebhook)
                .where(
                    col(ReminderWebhook.site_id) == site_id,
                    col(ReminderWebhook.disabled_at).is_(None),
                )
                .values(disabled_at=utcnow(), disabled_reason="the receiver answered 410 Gone")
            )
            await audit.record(
                session,
                self.tables,
                actor="outbox dispatcher",
                action="reminder_webhook.disable",
                entity_type="reminder_webhook",
                entity_id=site_id,
                site_id=site_id,
                reason="the receiver answered 410 Gone",
            )
            await session.commit()
