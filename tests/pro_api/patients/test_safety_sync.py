"""Enrolments and calendar changes reach safety_api's ``PUT /v1/subjects/{subject_id}`` through
the outbox: with a service token minted at delivery time, the message id as Idempotency-Key, and
despite safety_api being down for a while. Tested against a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from services.common.outbox import OutboxMessage
from services.pro_api.patients.safety_sync import SafetySubjectDeliverer
from tests.pro_api.patients.factories import db_of, enrol, pro_site, staff, subject_upserts
from tests.support.receiver import _free_port, running_receiver

FAST_BUT_PATIENT = (0.0, 0.3, 0.5, 1.0, 2.0, 5.0)


def base_url(receiver_url: str) -> str:
    return receiver_url.removesuffix("/hook")


def delivering(settings: Any, safety_api_url: str) -> Any:
    return settings.model_copy(
        update={
            "dispatcher_enabled": True,
            "safety_api_url": safety_api_url,
            "outbox_retry_schedule_s": FAST_BUT_PATIENT,
        }
    )


async def attempt_outcomes(pro: Any, message_id: str) -> list[str]:
    attempts = pro.app.state.tables.outbox_attempts
    async with db_of(pro).sessionmaker() as session:
        rows = await session.execute(
            select(attempts.c.outcome)
            .where(attempts.c.message_id == message_id)
            .order_by(attempts.c.attempt)
        )
        return list(rows.scalars())


async def test_enrolment_arrives_at_safety_api_as_a_subject_upsert_with_a_service_token(
    client_for, settings, tokens
) -> None:
    async with running_receiver() as receiver:
        pro = await client_for("pro_api", app_settings=delivering(settings, base_url(receiver.url)))
        patient = await enrol(pro, tokens, tare_dates=["2026-02-08", "2026-03-08"])
        [message] = await subject_upserts(pro, patient["subject_id"])
        await _wait_until_accepted(receiver, message["id"])

    assert receiver.requests[message["id"]] == ("PUT", f"/v1/subjects/{patient['subject_id']}")
    assert json.loads(receiver.bodies[message["id"]]) == {
        "site_id": patient["site_id"],
        "treatment_start": "2026-01-05",
        "tare_dates": ["2026-02-08", "2026-03-08"],
    }
    headers = receiver.headers[message["id"]]
    assert headers["idempotency-key"] == message["id"]
    assert headers["content-type"] == "application/json"
    scheme, token = headers["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    principal = tokens.service.verify(token, "safety_api")
    assert principal.role == "service" and principal.sub == "pro_api"
    assert 0 < principal.claims["exp"] - principal.claims["iat"] <= 300


async def test_safety_api_down_then_up_still_receives_the_subject(
    client_for, settings, tokens
) -> None:
    app_settings = delivering(settings, f"http://127.0.0.1:{_free_port()}")  # nobody listening
    pro = await client_for("pro_api", app_settings=app_settings)
    patient = await enrol(pro, tokens)
    [message] = await subject_upserts(pro, patient["subject_id"])
    await _wait_for(lambda: _has_retry(pro, message["id"]))

    async with running_receiver(fail_first=1) as receiver:  # back up, but still shaky
        app_settings.safety_api_url = base_url(receiver.url)
        await _wait_until_accepted(receiver, message["id"])

    assert receiver.accepted[message["id"]] == 1
    assert receiver.requests[message["id"]] == ("PUT", f"/v1/subjects/{patient['subject_id']}")
    outcomes = await attempt_outcomes(pro, message["id"])
    assert outcomes[-1] == "delivered" and outcomes.count("retry") >= 2
    [delivered] = await subject_upserts(pro, patient["subject_id"])
    assert delivered["status"] == "delivered"


async def test_a_late_message_carries_the_current_calendar_not_the_one_it_was_queued_with(
    pro, tokens, settings
) -> None:
    site_id = await pro_site(pro, tokens)
    patient = await enrol(pro, tokens, site_id)
    await pro.patch(
        f"/v1/patients/{patient['id']}",
        json={"tare_dates": ["2026-02-15"], "reason": "TARE moved"},
        headers=staff(tokens, site_id),
    )
    first, _ = await subject_upserts(pro, patient["subject_id"])
    assert first["payload"]["body"]["tare_dates"] == ["2026-02-08"]
    deliverer = SafetySubjectDeliverer(settings, db=db_of(pro))
    request = await deliverer.prepare(
        OutboxMessage(first["id"], first["kind"], first["payload"], 3, first["created_at"])
    )
    assert not isinstance(request, str)
    assert json.loads(request.content)["tare_dates"] == ["2026-02-15"]


async def test_a_message_without_a_subject_is_given_up_not_sent(settings) -> None:
    deliverer = SafetySubjectDeliverer(settings)
    outcome = await deliverer.prepare(
        OutboxMessage("m-1", "safety.subject.upsert", {"body": {}}, 0, dt.datetime.now(dt.UTC))
    )
    assert isinstance(outcome, str) and "subject_id" in outcome


async def _has_retry(pro: Any, message_id: str) -> bool:
    return "retry" in await attempt_outcomes(pro, message_id)


async def _wait_for(condition: Any, timeout_s: float = 15.0) -> None:
    async def until() -> None:
        while not await condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(until(), timeout_s)


async def _wait_until_accepted(receiver: Any, message_id: str, timeout_s: float = 15.0) -> None:
    async def until() -> None:
        while not receiver.accepted[message_id]:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(until(), timeout_s)
