from __future__ import annotations

import pytest
from sqlalchemy import select

from services.safety_api.models import AdverseEvent
from tests.safety_api.adverse_events.factories import (
    cycle_of_term,
    day_of_treatment,
    record_lab,
    report_symptoms,
    site_with_subject,
    term_of,
)
from tests.support.factories import create_site


async def record_of(client, tokens, site_id: str, subject_id: str) -> dict:
    response = await client.get(
        f"/v1/subjects/{subject_id}/adverse-events",
        headers=tokens.headers("site_staff", site=site_id),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_day_28_is_cycle_1_and_day_29_is_cycle_2(safety, tokens) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    await report_symptoms(
        safety, tokens, subject_id, {"nausea": "eating_less"}, day=day_of_treatment(28)
    )
    await report_symptoms(
        safety, tokens, subject_id, {"nausea": "appetite_loss"}, day=day_of_treatment(29)
    )
    record = await record_of(safety, tokens, site_id, subject_id)
    assert [(e["cycle"], e["grade"]) for e in record["events"]] == [(1, 2), (2, 1)]
    assert cycle_of_term(record, "Nausea", 1)["worst_grade"] == 2
    assert cycle_of_term(record, "Nausea", 2)["worst_grade"] == 1


async def test_worst_grade_per_term_per_cycle_keeps_patient_and_clinician_grades_apart(
    safety, tokens
) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    await report_symptoms(
        safety, tokens, subject_id, {"stools_above_baseline": 2}, day=day_of_treatment(3)
    )
    severe = await report_symptoms(
        safety, tokens, subject_id, {"stools_above_baseline": 8}, day=day_of_treatment(10)
    )
    await report_symptoms(
        safety, tokens, subject_id, {"stools_above_baseline": 0}, day=day_of_treatment(12)
    )
    record = await record_of(safety, tokens, site_id, subject_id)
    cycle_1 = cycle_of_term(record, "Diarrhea", 1)
    assert cycle_1 == {
        "cycle": 1,
        "occurrences": 3,
        "worst_grade": 3,
        "worst_patient_reported_grade": 3,
        "worst_clinician_grade": None,
        "unconfirmed_patient_reported": 3,
        "shift_from_baseline": None,
    }
    [event_id] = [e["id"] for e in record["events"] if e["source_id"] == severe["id"]]
    confirmed = await safety.post(
        f"/v1/adverse-events/{event_id}/confirm",
        json={"grade": 2, "reason": "Six stools on review of the diary, not eight."},
        headers=tokens.headers("site_staff", site=site_id),
    )
    assert confirmed.status_code == 200, confirmed.text
    cycle_1 = cycle_of_term(await record_of(safety, tokens, site_id, subject_id), "Diarrhea", 1)
    assert cycle_1["worst_grade"] == 2
    assert cycle_1["worst_patient_reported_grade"] == 3
    assert cycle_1["worst_clinician_grade"] == 2
    assert cycle_1["unconfirmed_patient_reported"] == 2


async def test_baseline_grade_is_the_last_value_on_or_before_c1d1_and_shift_is_measured_from_it(
    safety, tokens
) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    alt = {"analyte": "ALT", "unit": "U/L", "ref_high": 40}
    await record_lab(safety, subject_id, **alt, value=130, day="2025-12-20")  # grade 2
    await record_lab(safety, subject_id, **alt, value=50, day=day_of_treatment(1))  # grade 1
    await record_lab(safety, subject_id, **alt, value=210, day=day_of_treatment(15))  # grade 3
    record = await record_of(safety, tokens, site_id, subject_id)
    term = term_of(record, "Alanine aminotransferase increased")
    assert term["category"] == "hepatic"
    assert term["baseline_grade"] == 1
    assert term["worst_grade_on_treatment"] == 3
    assert cycle_of_term(record, "Alanine aminotransferase increased", 0)["worst_grade"] == 2
    assert (
        cycle_of_term(record, "Alanine aminotransferase increased", 1)["shift_from_baseline"] == 2
    )


async def test_an_override_needs_a_reason_and_keeps_the_original_grade(safety, tokens) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    body = await report_symptoms(safety, tokens, subject_id, {"vomiting_episodes": 6})
    [event] = (await record_of(safety, tokens, site_id, subject_id))["events"]
    staff = tokens.headers("site_staff", site=site_id)
    url = f"/v1/adverse-events/{event['id']}/confirm"

    no_reason = await safety.post(url, json={"grade": 2}, headers=staff)
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "body.reason"
    assert "recorded grade 3" in no_reason.json()["detail"]

    overridden = await safety.post(
        url, json={"grade": 2, "reason": "Five episodes per the nurse call."}, headers=staff
    )
    assert overridden.status_code == 200
    shown = overridden.json()
    assert shown["grade"] == 3 and shown["effective_grade"] == 2
    assert shown["clinician"]["grade"] == 2 and shown["patient_reported"] is True
    assert shown["source_id"] == body["id"]

    async with safety.app.state.db.sessionmaker() as session:
        stored = await session.get(AdverseEvent, event["id"])
        audit = safety.app.state.tables.audit_events
        [row] = (
            await session.execute(select(audit).where(audit.c.entity_id == event["id"]))
        ).mappings()
    assert stored is not None and stored.grade == 3 and stored.clinician_grade == 2
    assert row["action"] == "adverse_event.override"
    assert row["before"]["clinician_grade"] is None and row["after"]["clinician_grade"] == 2
    assert row["reason"] == "Five episodes per the nurse call."


async def test_confirming_the_recorded_grade_needs_no_reason(safety, tokens) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    await report_symptoms(safety, tokens, subject_id, {"fatigue": "relieved_by_rest"})
    [event] = (await record_of(safety, tokens, site_id, subject_id))["events"]
    response = await safety.post(
        f"/v1/adverse-events/{event['id']}/confirm",
        json={"grade": 1},
        headers=tokens.headers("site_admin", site=site_id),
    )
    assert response.status_code == 200
    assert response.json()["clinician"]["grade"] == 1


async def test_a_grade_ctcae_does_not_define_for_the_term_is_refused(safety, tokens) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    await report_symptoms(safety, tokens, subject_id, {"nausea": "cannot_eat_or_drink"})
    [event] = (await record_of(safety, tokens, site_id, subject_id))["events"]
    response = await safety.post(
        f"/v1/adverse-events/{event['id']}/confirm",
        json={"grade": 4, "reason": "worse"},
        headers=tokens.headers("site_staff", site=site_id),
    )
    assert response.status_code == 422
    assert "no grade 4 for Nausea" in response.json()["detail"]


@pytest.mark.parametrize("role", ["monitor", "trial_admin", "ehr_client", "site_admin"])
async def test_the_record_is_readable_by_monitors_and_the_subjects_site(
    safety, tokens, role
) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    await report_symptoms(safety, tokens, subject_id, {"nausea": "none"})
    response = await safety.get(
        f"/v1/subjects/{subject_id}/adverse-events", headers=tokens.headers(role, site=site_id)
    )
    assert response.status_code == 200
    assert len(response.json()["events"]) == 1


async def test_site_a_staff_cannot_see_or_confirm_site_b_adverse_events(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    site_b, subject_b = await site_with_subject(safety, tokens)
    await report_symptoms(safety, tokens, subject_b, {"nausea": "eating_less"})
    [event] = (await record_of(safety, tokens, site_b, subject_b))["events"]
    staff_a = tokens.headers("site_staff", site=site_a)
    record = await safety.get(f"/v1/subjects/{subject_b}/adverse-events", headers=staff_a)
    assert record.status_code == 404
    confirm = await safety.post(
        f"/v1/adverse-events/{event['id']}/confirm", json={"grade": 2}, headers=staff_a
    )
    assert confirm.status_code == 404


async def test_patients_and_missing_tokens_are_refused(safety, tokens) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    await report_symptoms(safety, tokens, subject_id, {"nausea": "none"})
    [event] = (await record_of(safety, tokens, site_id, subject_id))["events"]
    patient = tokens.headers("patient", site=site_id, pid=subject_id)
    record_url = f"/v1/subjects/{subject_id}/adverse-events"
    confirm_url = f"/v1/adverse-events/{event['id']}/confirm"
    assert (await safety.get(record_url, headers=patient)).status_code == 403
    assert (await safety.get(record_url)).status_code == 401
    assert (await safety.post(confirm_url, json={"grade": 0}, headers=patient)).status_code == 403
    assert (await safety.post(confirm_url, json={"grade": 0})).status_code == 401
    # Only site clinicians confirm: not the EHR, not monitors.
    for role in ("ehr_client", "monitor", "service"):
        response = await safety.post(
            confirm_url, json={"grade": 0}, headers=tokens.headers(role, site=site_id)
        )
        assert response.status_code == 403, role
