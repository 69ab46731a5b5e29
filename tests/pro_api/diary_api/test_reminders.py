"""Reminders through the site's SMS/push gateway: one event per patient per reminder, signed per
Standard Webhooks, none once the task is done, none without a webhook, never symptoms."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from services.common.outbox import OutboxMessage
from services.pro_api.diary.reminders import (
    REMINDER_WEBHOOK,
    ReminderDeliverer,
    due_reminders,
    run_reminders,
)
from services.pro_api.instruments.schedule import assessment_schedule
from tests.conftest import make_settings
from tests.pro_api.diary_api.factories import (
    NEW_YORK,
    capecitabine_day,
    diary_patient,
    local,
    put_day,
    staff,
)
from tests.support.apps import running_client
from tests.support.databases import migrated_databases
from tests.support.receiver import running_receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
C1D1 = dt.date(2026, 3, 2)


def schedule(now: dt.datetime, completed: frozenset[str] = frozenset()):
    return assessment_schedule(
        enrolment_date=C1D1, treatment_start=C1D1, timezone=NEW_YORK, now=now, completed=completed
    )


def policy(now: dt.datetime, *, entered: bool = False, completed: frozenset[str] = frozenset()):
    return [
        (r.kind, r.key)
        for r in due_reminders(
            now=now,
            timezone=NEW_YORK,
            on_treatment_today=True,
            diary_entered_today=entered,
            timepoints=schedule(now, completed),
            diary_reminder_time=dt.time(20, 0),
            closing_within_days=2,
        )
    ]


def test_diary_reminder_is_due_from_20_00_local_only_while_the_day_is_empty() -> None:
    assert ("diary_not_entered", "2026-03-03") not in policy(local("2026-03-03 19:59"))
    assert ("diary_not_entered", "2026-03-03") in policy(local("2026-03-03 20:00"))
    assert ("diary_not_entered", "2026-03-03") not in policy(
        local("2026-03-03 21:00"), entered=True
    )


def test_questionnaire_reminders_while_open_and_2_days_before_it_closes() -> None:
    # Baseline: opens on enrolment (C1D1), closes at the end of C1D1 + 7 days (2026-03-09).
    assert ("assessment_open", "baseline") in policy(local("2026-03-03 09:00"))
    assert ("assessment_closing", "baseline") not in policy(local("2026-03-06 09:00"))
    assert ("assessment_closing", "baseline") in policy(local("2026-03-07 09:00"))
    assert policy(local("2026-03-07 09:00"), completed=frozenset({"baseline"})) == []


async def queued(pro, patient_id: str) -> list[dict]:
    om = pro.app.state.tables.outbox_messages
    async with pro.app.state.db.sessionmaker() as session:
        rows = await session.execute(
            select(om).where(om.c.kind == REMINDER_WEBHOOK).order_by(om.c.created_at)
        )
        return [dict(r) for r in rows.mappings() if r["payload"]["patient_id"] == patient_id]


async def set_webhook(pro, tokens, site_id: str, url: str) -> None:
    response = await pro.put(
        f"/v1/sites/{site_id}/reminder-webhook",
        json={"url": url, "secret": SECRET},
        headers=staff(tokens, site_id, "site_admin"),
    )
    assert response.status_code == 200, response.text


async def run(pro, settings, now: dt.datetime) -> int:
    return await run_reminders(pro.app.state.db, pro.app.state.tables, settings, now=now)


async def test_one_event_per_patient_per_reminder_and_none_without_a_webhook(
    pro, tokens, settings
) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    now = local("2026-03-03 20:30")
    await run(pro, settings, now)
    assert await queued(pro, patient.patient_id) == []  # the site has no gateway

    await set_webhook(pro, tokens, patient.site_id, "https://gateway.example.org/captem")
    await run(pro, settings, now)
    await run(pro, settings, now + dt.timedelta(minutes=5))  # the next tick: nothing new
    messages = await queued(pro, patient.patient_id)
    assert sorted((m["payload"]["kind"], m["payload"]["key"]) for m in messages) == [
        ("assessment_open", "baseline"),
        ("diary_not_entered", "2026-03-03"),
    ]
    event = json.loads(
        next(m for m in messages if m["payload"]["kind"] == "diary_not_entered")["payload"]["body"]
    )
    assert event["type"] == "reminder.due"
    assert {k: event["data"][k] for k in ("patient_id", "subject_id", "kind", "local_date")} == {
        "patient_id": patient.patient_id,
        "subject_id": patient.subject_id,
        "kind": "diary_not_entered",
        "local_date": "2026-03-03",
    }


async def test_no_diary_reminder_once_the_day_is_entered(pro, tokens, settings) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    await set_webhook(pro, tokens, patient.site_id, "https://gateway.example.org/captem")
    body = {**capecitabine_day(), "symptoms": {"vomiting_episodes": 6}}
    await put_day(pro, patient, "2026-03-03", body, at=local("2026-03-03 19:00"))
    await run(pro, settings, local("2026-03-03 20:30"))
    kinds = [m["payload"]["kind"] for m in await queued(pro, patient.patient_id)]
    assert kinds == ["assessment_open"]
    for message in await queued(pro, patient.patient_id):
        assert "vomiting" not in message["payload"]["body"]


async def test_a_reminder_queued_before_the_task_was_done_is_not_sent(
    pro, tokens, settings
) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    await set_webhook(pro, tokens, patient.site_id, "https://gateway.example.org/captem")
    await run(pro, settings, local("2026-03-03 20:30"))
    [message] = [
        m
        for m in await queued(pro, patient.patient_id)
        if m["payload"]["kind"] == "diary_not_entered"
    ]
    await put_day(pro, patient, "2026-03-03", capecitabine_day(), at=local("2026-03-03 20:40"))
    deliverer = ReminderDeliverer(pro.app.state.db, pro.app.state.tables)
    outcome = await deliverer.prepare(
        OutboxMessage(message["id"], message["kind"], message["payload"], 0, message["created_at"])
    )
    assert isinstance(outcome, str) and "before the reminder went out" in outcome


async def test_reminders_reach_the_gateway_through_the_outbox_signed(
    tokens, tmp_path, backend
) -> None:
    async with (
        migrated_databases(backend, "rem", tmp_path) as urls,
        running_receiver(id_header="webhook-id") as receiver,
    ):
        # The job itself is driven below with a chosen "now"; the app's own run would use the
        # real clock and remind about today as well.
        settings = make_settings(
            urls, tmp_path, dispatcher_enabled=True, periodic_tasks_enabled=False
        )
        async with running_client("pro_api", settings) as pro:
            patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
            await set_webhook(pro, tokens, patient.site_id, receiver.url)
            assert await run(pro, settings, local("2026-03-03 20:30")) == 2
            await receiver.wait_for(2)
            await run(pro, settings, local("2026-03-03 23:00"))
            await run(pro, settings, local("2026-03-04 09:00"))  # baseline still open: sent already

    assert len(receiver.accepted) == 2 and set(receiver.accepted.values()) == {1}
    for message_id, raw in receiver.bodies.items():
        headers = receiver.headers[message_id]
        verified = Webhook(SECRET).verify(raw, headers)  # raises if the signature is wrong
        assert verified["data"]["subject_id"] == patient.subject_id
        assert set(verified["data"]) == {
            "patient_id",
            "subject_id",
            "site_id",
            "language",
            "kind",
            "local_date",
            "timepoint",
            "closes_on",
            "message",
        }


async def test_a_410_from_the_gateway_disables_the_reminder_webhook(
    tokens, tmp_path, backend
) -> None:
    async with (
        migrated_databases(backend, "rem410", tmp_path) as urls,
        running_receiver(id_header="webhook-id", always_status=410) as receiver,
    ):
        # The job itself is driven below with a chosen "now"; the app's own run would use the
        # real clock and remind about today as well.
        settings = make_settings(
            urls, tmp_path, dispatcher_enabled=True, periodic_tasks_enabled=False
        )
        async with running_client("pro_api", settings) as pro:
            patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
            await set_webhook(pro, tokens, patient.site_id, receiver.url)
            await run(pro, settings, local("2026-03-03 20:30"))
            path = f"/v1/sites/{patient.site_id}/reminder-webhook"
            for _ in range(200):
                hook = (await pro.get(path, headers=staff(tokens, patient.site_id))).json()
                if not hook["enabled"]:
                    break
                await _sleep()
            assert hook["enabled"] is False and "410" in hook["disabled_reason"]


async def _sleep() -> None:
    await asyncio.sleep(0.05)
