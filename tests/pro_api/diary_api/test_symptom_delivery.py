"""A diary day's symptoms go to safety_api's POST /v1/symptom-reports as the pro_api service,
with the day-and-version key as Idempotency-Key. Tested against a real local HTTP receiver."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from services.common.outbox import OutboxMessage
from services.pro_api.diary.safety_sync import SafetySymptomReportDeliverer, reported_at
from tests.pro_api.diary_api.factories import diary_patient, local, outbox_messages, put_day
from tests.support.receiver import running_receiver


def test_reported_at_is_the_save_time_or_the_last_second_of_the_day_whichever_is_earlier() -> None:
    day = dt.date(2026, 3, 8)  # spring forward in New York
    same_day = local("2026-03-08 21:15")
    assert reported_at(day, "America/New_York", same_day).isoformat() == "2026-03-08T21:15:00-04:00"
    next_morning = local("2026-03-09 07:00")
    assert (
        reported_at(day, "America/New_York", next_morning).isoformat()
        == "2026-03-08T23:59:59-04:00"
    )


async def test_the_deliverer_posts_the_report_with_a_service_token_and_the_day_key(
    pro, tokens, settings
) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    symptoms = {"stools_above_baseline": 8, "vomiting_episodes": 6}
    await put_day(pro, patient, "2026-03-03", {"symptoms": symptoms}, at=local("2026-03-03 20:00"))
    [message] = [
        m
        for m in await outbox_messages(pro, "safety.symptom_report")
        if m["payload"]["body"]["subject_id"] == patient.subject_id
    ]
    async with running_receiver() as receiver:
        deliverer = SafetySymptomReportDeliverer(
            settings.model_copy(update={"safety_api_url": receiver.url.removesuffix("/hook")})
        )
        request = await deliverer.prepare(
            OutboxMessage(
                message["id"], message["kind"], message["payload"], 0, message["created_at"]
            )
        )
        assert not isinstance(request, str)
        async with httpx.AsyncClient() as client:
            response = await client.request(
                request.method, request.url, headers=dict(request.headers), content=request.content
            )
        assert response.status_code == 204

    key = f"diary:{patient.patient_id}:2026-03-03:v1"
    assert receiver.requests[key] == ("POST", "/v1/symptom-reports")
    assert json.loads(receiver.bodies[key]) == {
        "subject_id": patient.subject_id,
        "reported_at": "2026-03-03T20:00:00-05:00",
        "source": "diary",
        "report": symptoms,
    }
    principal = tokens.service.verify(
        receiver.headers[key]["authorization"].split()[1], "safety_api"
    )
    assert principal.role == "service" and principal.sub == "pro_api"
