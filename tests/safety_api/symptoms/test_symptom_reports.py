from __future__ import annotations

from sqlalchemy import func, select

from services.safety_api.models import AdverseEvent, SymptomReport
from tests.safety_api.adverse_events.factories import (
    C1D1,
    local_noon,
    put_subject,
    report_symptoms,
    site_with_subject,
)
from tests.support.factories import create_site


def grades(body: dict) -> dict[str, int]:
    return {r["term"]: r["grade"] for r in body["results"]}


async def count(client, model, subject_id: str) -> int:
    async with client.app.state.db.sessionmaker() as session:
        query = select(func.count()).select_from(model).where(model.subject_id == subject_id)
        return int((await session.execute(query)).scalar_one())


async def test_diary_report_of_8_extra_stools_and_6_vomiting_episodes_is_diarrhea_3_and_vomiting_3(
    safety, tokens
) -> None:
    _, subject_id = await site_with_subject(safety, tokens)
    body = await report_symptoms(
        safety, tokens, subject_id, {"stools_above_baseline": 8, "vomiting_episodes": 6}
    )
    assert grades(body) == {"Diarrhea": 3, "Vomiting": 3}
    assert body["source"] == "diary" and body["patient_reported"] is True
    assert body["cycle"] == 1
    async with safety.app.state.db.sessionmaker() as session:
        events = (
            await session.execute(select(AdverseEvent).where(AdverseEvent.source_id == body["id"]))
        ).scalars()
        stored = {(e.term, e.grade, e.patient_reported, e.source_kind) for e in events}
    assert stored == {
        ("Diarrhea", 3, True, "symptom_report"),
        ("Vomiting", 3, True, "symptom_report"),
    }


async def test_a_staff_report_is_not_patient_reported(safety, tokens) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    response = await safety.post(
        "/v1/symptom-reports",
        json={
            "subject_id": subject_id,
            "reported_at": local_noon(C1D1),
            "source": "staff",
            "report": {"fatigue": "limits_usual_activities"},
        },
        headers=tokens.headers("site_staff", site=site_id),
    )
    assert response.status_code == 201
    assert response.json()["patient_reported"] is False
    assert grades(response.json()) == {"Fatigue": 2}


async def test_a_replayed_diary_report_is_stored_once(safety, tokens) -> None:
    _, subject_id = await site_with_subject(safety, tokens)
    request = {
        "json": {
            "subject_id": subject_id,
            "reported_at": local_noon(C1D1),
            "source": "diary",
            "report": {"nausea": "appetite_loss"},
        },
        "headers": {**tokens.headers("service"), "Idempotency-Key": f"diary-{subject_id}-v1"},
    }
    first = await safety.post("/v1/symptom-reports", **request)
    again = await safety.post("/v1/symptom-reports", **request)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await count(safety, SymptomReport, subject_id) == 1
    assert await count(safety, AdverseEvent, subject_id) == 1


async def test_hepatic_warning_signs_are_stored_with_the_report_but_not_graded(
    safety, tokens
) -> None:
    _, subject_id = await site_with_subject(safety, tokens)
    body = await report_symptoms(
        safety, tokens, subject_id, {"yellow_eyes_or_skin": True, "nausea": "none"}
    )
    assert grades(body) == {"Nausea": 0}
    assert body["report"] == {"yellow_eyes_or_skin": True, "nausea": "none"}
    async with safety.app.state.db.sessionmaker() as session:
        stored = await session.get(SymptomReport, body["id"])
    assert stored is not None and stored.report["yellow_eyes_or_skin"] is True


async def test_an_unknown_report_field_is_refused_naming_it(safety, tokens) -> None:
    _, subject_id = await site_with_subject(safety, tokens)
    response = await safety.post(
        "/v1/symptom-reports",
        json={
            "subject_id": subject_id,
            "reported_at": local_noon(C1D1),
            "source": "diary",
            "report": {"headache": "mild"},
        },
        headers=tokens.headers("service"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.report.headache"
    assert await count(safety, SymptomReport, subject_id) == 0


async def test_an_answer_outside_the_list_is_refused_listing_the_answers(safety, tokens) -> None:
    _, subject_id = await site_with_subject(safety, tokens)
    response = await safety.post(
        "/v1/symptom-reports",
        json={
            "subject_id": subject_id,
            "reported_at": local_noon(C1D1),
            "source": "diary",
            "report": {"nausea": "a bit", "temperature_c": 101.2},
        },
        headers=tokens.headers("service"),
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "body.report.nausea"
    assert "appetite_loss" in problem["detail"] and "cannot_eat_or_drink" in problem["detail"]


async def test_a_fahrenheit_temperature_is_refused(safety, tokens) -> None:
    _, subject_id = await site_with_subject(safety, tokens)
    response = await safety.post(
        "/v1/symptom-reports",
        json={
            "subject_id": subject_id,
            "reported_at": local_noon(C1D1),
            "source": "diary",
            "report": {"temperature_c": 101.2},
        },
        headers=tokens.headers("service"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.report.temperature_c"


async def test_site_a_staff_cannot_report_for_a_site_b_subject(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    _, subject_b = await site_with_subject(safety, tokens)
    response = await safety.post(
        "/v1/symptom-reports",
        json={
            "subject_id": subject_b,
            "reported_at": local_noon(C1D1),
            "source": "staff",
            "report": {"nausea": "none"},
        },
        headers=tokens.headers("site_staff", site=site_a),
    )
    assert response.status_code == 404
    assert await count(safety, SymptomReport, subject_b) == 0


async def test_patients_report_through_pro_api_not_here_and_a_token_is_required(
    safety, tokens
) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    body = {
        "subject_id": subject_id,
        "reported_at": local_noon(C1D1),
        "source": "diary",
        "report": {"nausea": "none"},
    }
    patient = tokens.headers("patient", site=site_id, pid=subject_id)
    assert (await safety.post("/v1/symptom-reports", json=body, headers=patient)).status_code == 403
    assert (await safety.post("/v1/symptom-reports", json=body)).status_code == 401
    expired = tokens.headers("service", ttl_s=-60)
    assert (await safety.post("/v1/symptom-reports", json=body, headers=expired)).status_code == 401


async def test_a_reported_hepatic_warning_sign_raises_an_alert_to_the_site(safety, tokens) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    body = await report_symptoms(
        safety, tokens, subject_id, {"abdominal_swelling": True}, day="2026-02-20"
    )
    assert body["results"] == []
    assert body["alerts"], body
    assert {a["site_id"] for a in body["alerts"]} == {site_id}
    listed = await safety.get("/v1/alerts", headers=tokens.headers("site_staff", site=site_id))
    assert {a["id"] for a in listed.json()["alerts"]} >= {a["id"] for a in body["alerts"]}
