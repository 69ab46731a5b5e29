"""POST /v1/me/questionnaire-responses and drafts: only inside the timepoint's window, once per
timepoint, idempotent, scored by the server exactly as the pure EORTC scorer scores."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from services.pro_api.instruments.loader import load_instruments
from services.pro_api.instruments.scoring import score_response
from services.pro_api.models import QuestionnaireResponse
from tests.pro_api.questionnaires.factories import (
    answers,
    enrol,
    local_today,
    start_for_offset,
    submit,
)

C30_SCALES = "QL2 PF2 RF2 EF CF SF FA NV PA DY SL AP CO DI FI C30SUMMARY".split()


async def stored_versions(client, patient_id: str) -> int:
    async with client.app.state.db.sessionmaker() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(QuestionnaireResponse)
                    .where(QuestionnaireResponse.patient_id == patient_id)
                )
            ).scalar_one()
        )


@pytest.mark.parametrize(
    ("days_from_due", "accepted"), [(-15, False), (-14, True), (14, True), (15, False)]
)
async def test_m3_window_is_due_date_minus_14_to_plus_14_local_days(
    pro, tokens, days_from_due, accepted
) -> None:
    timepoint, start = start_for_offset(days_from_due)
    patient = await enrol(pro, tokens, treatment_start=start)
    response = await submit(pro, patient, timepoint)
    if accepted:
        assert response.status_code == 201, response.text
        assert response.json()["timepoint"] == timepoint
    else:
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"].endswith("outside-window")
        window = problem["window"]
        opens = dt.date.fromisoformat(window["opens_on"])
        closes = dt.date.fromisoformat(window["closes_on"])
        assert (closes - opens).days == 28
        assert f"{opens.day} {opens:%B %Y}" in problem["detail"]
        assert "America/New_York" in problem["detail"]
        assert await stored_versions(pro, patient.patient_id) == 0


async def test_completed_response_returns_the_servers_scores_keyed_by_eortc_abbreviation(
    pro, tokens
) -> None:
    patient = await enrol(pro, tokens)
    given = answers(2, 5, skip=(2, 3, 4, 31, 32))
    response = await submit(pro, patient, "baseline", given)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"id", "timepoint", "completed_at", "scores"}
    assert body["status"] == "completed" and body["version"] == 1
    catalog = load_instruments()
    expected = score_response(catalog.get("eortc-net"), {int(k): v for k, v in given.items()})
    assert body["scores"] == expected
    assert set(C30_SCALES) <= set(body["scores"])
    assert body["scores"]["PF2"] is None  # 2 of 5 items answered: the half rule leaves it out
    assert body["scores"]["C30SUMMARY"] is None  # needs every component scale


async def test_all_best_answers_score_as_in_the_eortc_worked_example(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    body = (await submit(pro, patient, "baseline", answers(1, 7))).json()
    assert body["scores"]["QL2"] == 100.0 and body["scores"]["PF2"] == 100.0
    assert body["scores"]["FA"] == 0.0 and body["scores"]["C30SUMMARY"] == 100.0


async def test_a_timepoint_is_submitted_once_then_409_explains_corrections(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    assert (await submit(pro, patient)).status_code == 201
    again = await submit(pro, patient, "baseline", answers(2))
    assert again.status_code == 409
    assert "correction" in again.json()["detail"]
    assert "already completed" in again.json()["detail"]
    assert await stored_versions(pro, patient.patient_id) == 1


async def test_idempotent_replay_returns_the_same_response_and_stores_one(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await submit(pro, patient, headers=key)
    replay = await submit(pro, patient, headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert await stored_versions(pro, patient.patient_id) == 1


async def test_an_answer_outside_the_items_codes_names_the_field_and_allowed_codes(
    pro, tokens
) -> None:
    patient = await enrol(pro, tokens)
    response = await submit(pro, patient, "baseline", {**answers(), "5": 9, "30": 0, "77": 1})
    assert response.status_code == 422
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert set(errors) == {"body.answers.5", "body.answers.30", "body.answers.77"}
    assert "1 = Not at all" in errors["body.answers.5"]["fix"]
    assert "7 = Excellent" in errors["body.answers.30"]["fix"]
    assert "not part of eortc-net" in errors["body.answers.77"]["message"]


async def test_answers_must_be_whole_numbers(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await submit(pro, patient, "baseline", {"1": "2", "2": True})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "body.answers.1",
        "body.answers.2",
    }


async def test_unanswered_items_are_allowed(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await submit(pro, patient, "baseline", {"29": 4, "30": None})
    assert response.status_code == 201
    assert response.json()["answers"] == {"29": 4}
    assert response.json()["scores"]["QL2"] == 50.0


async def test_an_unknown_timepoint_lists_the_valid_ones(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await submit(pro, patient, "M4")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.timepoint"
    assert "baseline, M3, M6" in response.json()["detail"]


async def test_a_withdrawn_patient_cannot_submit(pro, tokens) -> None:
    patient = await enrol(
        pro, tokens, status="withdrawn", status_changed_at="2026-01-01T00:00:00+00:00"
    )
    response = await submit(pro, patient)
    assert response.status_code == 403
    assert "withdrawn" in response.json()["detail"]


async def test_a_draft_is_saved_resumed_updated_and_then_submitted(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    saved = await submit(pro, patient, "baseline", {"1": 2}, status="draft")
    assert saved.status_code == 201
    assert saved.json()["status"] == "draft" and saved.json()["scores"] is None
    path = "/v1/me/questionnaire-responses/baseline/draft"
    resumed = await pro.get(path, headers=patient.headers)
    assert resumed.status_code == 200 and resumed.json()["answers"] == {"1": 2}
    updated = await pro.put(path, json={"answers": {"1": 2, "2": 3}}, headers=patient.headers)
    assert updated.status_code == 200 and updated.json()["id"] == saved.json()["id"]
    done = await submit(pro, patient, "baseline", answers(1))
    assert done.status_code == 201
    assert done.json()["id"] == saved.json()["id"] and done.json()["status"] == "completed"
    assert (await pro.get(path, headers=patient.headers)).status_code == 404
    assert await stored_versions(pro, patient.patient_id) == 1


async def test_a_draft_is_refused_outside_the_window_too(pro, tokens) -> None:
    timepoint, start = start_for_offset(20)
    patient = await enrol(pro, tokens, treatment_start=start)
    response = await pro.put(
        f"/v1/me/questionnaire-responses/{timepoint}/draft",
        json={"answers": {"1": 1}},
        headers=patient.headers,
    )
    assert response.status_code == 422
    assert "closed" in response.json()["detail"]


async def test_a_draft_cannot_be_saved_over_a_completed_response(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    await submit(pro, patient)
    response = await pro.put(
        "/v1/me/questionnaire-responses/baseline/draft",
        json={"answers": {"1": 4}},
        headers=patient.headers,
    )
    assert response.status_code == 409


async def test_submission_needs_a_patient_token(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    body = {"timepoint": "baseline", "answers": answers()}
    assert (await pro.post("/v1/me/questionnaire-responses", json=body)).status_code == 401
    staff = await pro.post("/v1/me/questionnaire-responses", json=body, headers=patient.staff)
    assert staff.status_code == 403


async def test_a_patient_token_for_no_enrolled_patient_is_404(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    stranger = tokens.headers("patient", site=patient.site_id, pid=str(uuid.uuid4()), aud="pro_api")
    response = await pro.post(
        "/v1/me/questionnaire-responses",
        json={"timepoint": "baseline", "answers": answers()},
        headers=stranger,
    )
    assert response.status_code == 404


async def test_assessments_show_each_timepoint_with_status_and_window(pro, tokens) -> None:
    today = local_today()
    patient = await enrol(
        pro, tokens, treatment_start=today - dt.timedelta(days=100), enrolled_on=None
    )
    response = await pro.get("/v1/me/assessments", headers=patient.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "America/New_York"
    codes = [tp["code"] for tp in body["timepoints"]]
    assert codes == ["baseline", "M3", "M6", "M9", "M12", "M15", "M18", "M21", "M24"]
    status = {tp["code"]: tp["status"] for tp in body["timepoints"]}
    assert status["baseline"] == "missed" and status["M3"] == "open"
    assert status["M6"] == "upcoming"
    m3 = body["timepoints"][1]["window"]
    assert dt.datetime.fromisoformat(m3["opens_at"]).utcoffset() == dt.timedelta(0)
    assert dt.date.fromisoformat(m3["opens_on"]) <= today <= dt.date.fromisoformat(m3["closes_on"])


async def test_a_completed_timepoint_shows_as_completed(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    created = (await submit(pro, patient)).json()
    body = (await pro.get("/v1/me/assessments", headers=patient.headers)).json()
    baseline = body["timepoints"][0]
    assert baseline["status"] == "completed" and baseline["response_id"] == created["id"]


async def test_assessments_are_the_patients_own_only(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    assert (await pro.get("/v1/me/assessments")).status_code == 401
    assert (await pro.get("/v1/me/assessments", headers=patient.staff)).status_code == 403
    other_site = tokens.headers("patient", site="elsewhere", pid=patient.patient_id, aud="pro_api")
    assert (await pro.get("/v1/me/assessments", headers=other_site)).status_code == 404
