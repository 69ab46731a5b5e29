"""POST /v1/labs: a batch of lab results for one subject, graded and stored all or nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import update

from services.safety_api.models import Subject
from tests.safety_api.labs.factories import (
    ALT_GRADE_2,
    PLATELETS_GRADE_2,
    audit_events,
    hours_ago,
    stored_adverse_events,
    stored_labs,
    subject_at_new_site,
)


def batch(subject_id: str, *results: dict, collected_at: str | None = None) -> dict:
    return {
        "subject_id": subject_id,
        "collected_at": collected_at or hours_ago(3),
        "results": list(results),
    }


async def test_labs_are_stored_with_their_ctcae_grades(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    body = batch(subject, ALT_GRADE_2, PLATELETS_GRADE_2)
    response = await safety.post(
        "/v1/labs", json=body, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["subject_id"] == subject
    assert dt.datetime.fromisoformat(answer["collected_at"]) == dt.datetime.fromisoformat(
        body["collected_at"]
    )
    alt, plt = answer["results"]
    assert alt | {"id": None} == {
        "id": None,
        "analyte": "ALT",
        "loinc": None,
        "value": 130,
        "unit": "U/L",
        "ref_low": 7,
        "ref_high": 40,
        "term": "Alanine aminotransferase increased",
        "meddra_code": "10001551",
        "grade": 2,
        "direction": "high",
        "x_uln": 3.25,
        "criteria": ">3.0 - 5.0 x ULN",
        "needs_clinical_assessment": False,
    }
    assert (plt["analyte"], plt["loinc"], plt["grade"], plt["direction"]) == (
        "PLT",
        "777-3",
        2,
        "low",
    )
    # ALT grade 2 with no baseline lab on record: two grades above an assumed grade 0.
    assert [(a["rule"], a["labels"]) for a in answer["alerts"]] == [
        ("worsening", ["baseline_assumed_grade_0"])
    ]

    stored = {row.analyte: row for row in await stored_labs(safety, subject)}
    assert set(stored) == {"ALT", "PLT"}
    assert stored["ALT"].id == alt["id"] and stored["ALT"].site_id == site
    assert stored["ALT"].value == Decimal("130") and stored["ALT"].ref_high == Decimal("40")
    assert (stored["ALT"].grade, stored["ALT"].x_uln) == (2, Decimal("3.25"))
    assert stored["ALT"].source == "json"
    assert stored["PLT"].grade == 2


async def test_one_audit_event_per_batch_names_results_and_grades_but_not_values(
    safety, tokens
) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, ALT_GRADE_2, PLATELETS_GRADE_2),
        headers=tokens.headers("site_staff", site=site),
    )
    assert response.status_code == 201
    [event] = await audit_events(safety, "labs.ingest", subject)
    assert event["entity_type"] == "lab_batch" and event["site_id"] == site
    ids = [r["id"] for r in response.json()["results"]]
    assert event["after"]["results"] == [
        {"id": ids[0], "analyte": "ALT", "grade": 2},
        {"id": ids[1], "analyte": "PLT", "grade": 2},
    ]
    assert "130" not in str(event["after"])


async def test_a_batch_with_one_ungradable_result_stores_nothing_and_names_it(
    safety, tokens
) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    body = batch(subject, ALT_GRADE_2, {**ALT_GRADE_2, "unit": "furlongs"})
    response = await safety.post(
        "/v1/labs", json=body, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "body.results[1].unit"
    assert "furlongs" in error["message"] and "U/L" in error["message"]
    assert await stored_labs(safety, subject) == []
    assert await stored_adverse_events(safety, subject) == []


async def test_every_ungradable_result_of_a_batch_is_named_in_one_problem(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    body = batch(
        subject,
        {**ALT_GRADE_2, "analyte": "SGPT"},
        PLATELETS_GRADE_2,
        {**ALT_GRADE_2, "ref_high": None},
    )
    response = await safety.post(
        "/v1/labs", json=body, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["body.results[0].analyte", "body.results[2].ref_high"]
    assert await stored_labs(safety, subject) == []


async def test_a_collection_time_in_the_future_is_refused(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, ALT_GRADE_2, collected_at=later),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body.collected_at" and "future" in error["message"]
    assert await stored_labs(safety, subject) == []


async def test_a_collection_time_a_few_minutes_ahead_is_clock_skew_and_accepted(
    safety, tokens
) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)).isoformat()
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, ALT_GRADE_2, collected_at=ahead),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 201, response.text


async def test_a_collection_time_without_utc_offset_is_refused(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, ALT_GRADE_2, collected_at="2026-03-02T08:15:00"),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body.collected_at"
    assert "UTC offset" in error["fix"]
    assert await stored_labs(safety, subject) == []


async def test_a_retry_with_the_same_idempotency_key_stores_once(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    headers = {**tokens.headers("ehr_client", site=site), "Idempotency-Key": uuid.uuid4().hex}
    body = batch(subject, ALT_GRADE_2)
    first = await safety.post("/v1/labs", json=body, headers=headers)
    again = await safety.post("/v1/labs", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(await stored_labs(safety, subject)) == 1
    assert len(await stored_adverse_events(safety, subject)) == 1


@pytest.mark.parametrize("role", ["ehr_client", "site_staff", "site_admin"])
async def test_a_subject_of_another_site_is_not_found_and_nothing_is_stored(
    safety, tokens, role
) -> None:
    _, subject = await subject_at_new_site(safety, tokens)
    other_site, _ = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, ALT_GRADE_2),
        headers=tokens.headers(role, site=other_site),
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert await stored_labs(safety, subject) == []


async def test_an_unknown_subject_is_not_found(safety, tokens) -> None:
    site, _ = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/v1/labs",
        json=batch(f"{site}-nobody", ALT_GRADE_2),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "claims"), [("monitor", {}), ("patient", {"pid": "p1"}), ("trial_admin", {})]
)
async def test_roles_that_do_not_enter_labs_are_forbidden(safety, tokens, role, claims) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    if role == "patient":
        claims = {**claims, "site": site}
    response = await safety.post(
        "/v1/labs", json=batch(subject, ALT_GRADE_2), headers=tokens.headers(role, **claims)
    )
    assert response.status_code == 403
    assert await stored_labs(safety, subject) == []


async def test_labs_need_a_valid_token(safety, tokens) -> None:
    _site, subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, ALT_GRADE_2),
        headers={"Authorization": "Bearer forged.token.value"},
    )
    assert response.status_code == 401
    assert await stored_labs(safety, subject) == []


async def test_chromogranin_a_is_stored_ungraded_and_makes_no_adverse_event(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    cga = {"analyte": "CGA", "value": 310, "unit": "ng/mL", "ref_high": 100}
    response = await safety.post(
        "/v1/labs", json=batch(subject, cga), headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 201, response.text
    [result] = response.json()["results"]
    assert result["analyte"] == "CGA" and result["value"] == 310
    assert result["grade"] is None and result["term"] is None
    [row] = await stored_labs(safety, subject)
    assert row.grade is None and row.value == Decimal("310")
    assert await stored_adverse_events(safety, subject) == []


async def test_graded_results_enter_the_ae_record_in_the_local_cycle_of_collection(
    safety, tokens
) -> None:
    # C1D1 2026-01-05, so C2D1 is 2026-02-02. 03:00 UTC on 2 Feb is still 1 Feb in New York.
    site, subject = await subject_at_new_site(safety, tokens, treatment_start="2026-01-05")
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, ALT_GRADE_2, collected_at="2026-02-02T03:00:00Z"),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 201, response.text
    [event] = await stored_adverse_events(safety, subject)
    [lab] = response.json()["results"]
    assert (event.cycle, event.grade, event.category) == (1, 2, "hepatic")
    assert (event.source_kind, event.source_id, event.patient_reported) == ("lab", lab["id"], False)
    assert event.meddra_code == "10001551"


async def test_a_lab_before_treatment_start_is_a_baseline_occurrence(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens, treatment_start="2026-01-05")
    response = await safety.post(
        "/v1/labs",
        json=batch(subject, PLATELETS_GRADE_2, collected_at="2025-12-30T09:00:00-05:00"),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 201
    [event] = await stored_adverse_events(safety, subject)
    assert (event.cycle, event.category) == (0, "systemic")


async def test_creatinine_is_graded_against_the_subjects_enrolment_baseline(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    async with safety.app.state.db.sessionmaker() as session:
        await session.execute(
            update(Subject)
            .where(Subject.id == subject)
            .values(baseline={"CREAT": {"value": 0.6, "unit": "mg/dL"}})
        )
        await session.commit()
    creatinine = {"analyte": "CREAT", "value": 1.0, "unit": "mg/dL", "ref_high": 1.2}
    response = await safety.post(
        "/v1/labs", json=batch(subject, creatinine), headers=tokens.headers("ehr_client", site=site)
    )
    # 1.0 is below ULN but 1.67 x baseline: CTCAE creatinine increased grade 2 (>1.5 - 3.0).
    [result] = response.json()["results"]
    assert result["grade"] == 2
    [row] = await stored_labs(safety, subject)
    assert row.baseline_value == Decimal("0.6")
