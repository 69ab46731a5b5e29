"""Staff enter paper or interview answers and correct completed responses: a reason always,
the window checked against when the patient answered, every change audited, and no way to
change a completed response other than a correction that creates a new version."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from services.pro_api.instruments.schedule import add_months
from tests.pro_api.questionnaires.factories import answers, enrol, local_today, submit
from tests.support.factories import create_site

REASON = "Patient completed the paper form at the clinic visit."


def entry(timepoint: str = "baseline", **extra):
    return {
        "instrument": "eortc-net",
        "timepoint": timepoint,
        "answers": answers(2, 5),
        "mode": "paper",
        "reason": REASON,
        **extra,
    }


async def audit_rows(client, entity_id: str):
    audit = client.app.state.tables.audit_events
    async with client.app.state.db.sessionmaker() as session:
        query = select(audit).where(audit.c.entity_id == entity_id).order_by(audit.c.id)
        return (await session.execute(query)).mappings().all()


async def six_months_in(pro, tokens):
    """A patient whose M3 window closed about two weeks ago and whose M6 is due today."""
    start = add_months(local_today(), -6)
    patient = await enrol(pro, tokens, treatment_start=start)
    m3_due = add_months(start, 3)
    return patient, m3_due


async def test_staff_enter_paper_answers_with_a_reason_and_it_is_audited(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.post(
        f"/v1/patients/{patient.patient_id}/questionnaire-responses",
        json=entry(),
        headers=patient.staff,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mode"] == "paper" and body["reason"] == REASON
    assert body["scores"]["QL2"] == 66.67
    rows = await audit_rows(pro, body["id"])
    assert [r["action"] for r in rows] == ["questionnaire_response.staff_entry"]
    assert rows[0]["reason"] == REASON and rows[0]["after"]["window_override"] is False


async def test_paper_entry_needs_a_reason_and_a_mode(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    body = entry()
    del body["reason"], body["mode"]
    response = await pro.post(
        f"/v1/patients/{patient.patient_id}/questionnaire-responses",
        json=body,
        headers=patient.staff,
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"body.reason", "body.mode"}


async def test_paper_answers_given_inside_the_window_are_accepted_after_it_closed(
    pro, tokens
) -> None:
    patient, m3_due = await six_months_in(pro, tokens)
    answered = dt.datetime.combine(m3_due, dt.time(15, 0), tzinfo=dt.UTC).isoformat()
    response = await pro.post(
        f"/v1/patients/{patient.patient_id}/questionnaire-responses",
        json=entry("M3", completed_at=answered),
        headers=patient.staff,
    )
    assert response.status_code == 201, response.text
    assert response.json()["completed_at"].startswith(m3_due.isoformat())


async def test_answers_given_outside_the_window_need_window_override(pro, tokens) -> None:
    patient, _ = await six_months_in(pro, tokens)
    url = f"/v1/patients/{patient.patient_id}/questionnaire-responses"
    refused = await pro.post(url, json=entry("M3"), headers=patient.staff)
    assert refused.status_code == 422
    assert "window_override" in refused.json()["detail"]
    accepted = await pro.post(url, json=entry("M3", window_override=True), headers=patient.staff)
    assert accepted.status_code == 201
    rows = await audit_rows(pro, accepted.json()["id"])
    assert rows[0]["after"]["window_override"] is True


async def test_paper_entry_for_a_completed_timepoint_is_409(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    first = await submit(pro, patient)
    response = await pro.post(
        f"/v1/patients/{patient.patient_id}/questionnaire-responses",
        json=entry(),
        headers=patient.staff,
    )
    assert response.status_code == 409
    assert f"{first.json()['id']}/corrections" in response.json()["detail"]


async def test_staff_of_another_site_cannot_enter_answers(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    other_site = await create_site(pro, tokens, aud="pro_api")
    response = await pro.post(
        f"/v1/patients/{patient.patient_id}/questionnaire-responses",
        json=entry(),
        headers=tokens.headers("site_staff", site=other_site, aud="pro_api"),
    )
    assert response.status_code == 404


async def test_only_site_staff_enter_answers(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    url = f"/v1/patients/{patient.patient_id}/questionnaire-responses"
    assert (await pro.post(url, json=entry())).status_code == 401
    for headers in (patient.headers, tokens.headers("monitor", aud="pro_api")):
        assert (await pro.post(url, json=entry(), headers=headers)).status_code == 403


async def test_a_correction_creates_version_2_and_keeps_the_original(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    original = (await submit(pro, patient, "baseline", answers(1, 7))).json()
    base = f"/v1/patients/{patient.patient_id}/questionnaire-responses"
    reason = "Patient says item 29 was meant to be 4, not 7."
    corrected = await pro.post(
        f"{base}/{original['id']}/corrections",
        json={"answers": {**answers(1, 7), "29": 4}, "reason": reason},
        headers=patient.staff,
    )
    assert corrected.status_code == 201, corrected.text
    new = corrected.json()
    assert new["version"] == 2 and new["supersedes_id"] == original["id"]
    assert new["scores"]["QL2"] == 75.0 and new["reason"] == reason
    assert new["completed_at"] == original["completed_at"]
    kept = (await pro.get(f"{base}/{original['id']}", headers=patient.staff)).json()
    assert kept["status"] == "superseded"
    assert kept["answers"] == original["answers"] and kept["scores"] == original["scores"]
    rows = await audit_rows(pro, new["id"])
    assert rows[-1]["action"] == "questionnaire_response.correct"
    assert rows[-1]["reason"] == reason
    assert rows[-1]["before"]["answers"]["29"] == 7 and rows[-1]["after"]["answers"]["29"] == 4
    outcomes = (await pro.get(base, headers=patient.staff)).json()
    assert outcomes["timepoints"][0]["response_id"] == new["id"]
    assert [v["version"] for v in outcomes["timepoints"][0]["versions"]] == [1, 2]


async def test_a_superseded_version_cannot_be_corrected_again(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    original = (await submit(pro, patient)).json()
    url = f"/v1/patients/{patient.patient_id}/questionnaire-responses/{original['id']}/corrections"
    body = {"answers": answers(2), "reason": "Transcription error."}
    assert (await pro.post(url, json=body, headers=patient.staff)).status_code == 201
    again = await pro.post(url, json=body, headers=patient.staff)
    assert again.status_code == 409 and "current version" in again.json()["detail"]


async def test_corrections_need_a_reason_and_staff_of_the_patients_site(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    original = (await submit(pro, patient)).json()
    url = f"/v1/patients/{patient.patient_id}/questionnaire-responses/{original['id']}/corrections"
    no_reason = await pro.post(url, json={"answers": answers(2)}, headers=patient.staff)
    assert no_reason.status_code == 422
    body = {"answers": answers(2), "reason": "Transcription error."}
    assert (await pro.post(url, json=body)).status_code == 401
    assert (await pro.post(url, json=body, headers=patient.headers)).status_code == 403
    other = tokens.headers("site_staff", site="elsewhere", aud="pro_api")
    assert (await pro.post(url, json=body, headers=other)).status_code == 404


async def test_a_completed_response_cannot_be_changed_by_any_other_route(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    original = (await submit(pro, patient)).json()
    one = f"/v1/patients/{patient.patient_id}/questionnaire-responses/{original['id']}"
    for method in ("PUT", "PATCH", "DELETE"):
        response = await pro.request(method, one, json=answers(4), headers=patient.staff)
        assert response.status_code == 405, method
    assert (await submit(pro, patient, "baseline", answers(4))).status_code == 409
    draft = await pro.put(
        "/v1/me/questionnaire-responses/baseline/draft",
        json={"answers": answers(4)},
        headers=patient.headers,
    )
    assert draft.status_code == 409
    kept = (await pro.get(one, headers=patient.staff)).json()
    assert kept["answers"] == original["answers"] and kept["status"] == "completed"


async def test_another_patients_response_is_404(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    other = await enrol(pro, tokens, site_id=patient.site_id)
    theirs = (await submit(pro, other)).json()
    mine = f"/v1/patients/{patient.patient_id}/questionnaire-responses/{theirs['id']}"
    assert (await pro.get(mine, headers=patient.headers)).status_code == 404
    direct = f"/v1/patients/{other.patient_id}/questionnaire-responses/{theirs['id']}"
    assert (await pro.get(direct, headers=patient.headers)).status_code == 404
    missing = f"/v1/patients/{patient.patient_id}/questionnaire-responses/{uuid.uuid4()}"
    assert (await pro.get(missing, headers=patient.staff)).status_code == 404
