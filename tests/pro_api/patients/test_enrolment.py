"""Enrolment: site staff enrol a subject of their own site and get a one-time activation code;
the patient is queued for safety_api in the same transaction."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from services.pro_api.auth.codes import CROCKFORD_ALPHABET
from tests.pro_api.patients.factories import (
    audit_events,
    enrol,
    enrolment,
    patients_with_subject,
    pro_site,
    staff,
    subject_upserts,
)
from tests.support.factories import new_site_id, new_subject_id

CODE_SHAPE = re.compile(rf"^[{CROCKFORD_ALPHABET}]{{5}}-[{CROCKFORD_ALPHABET}]{{5}}$")


async def test_site_staff_enrol_a_patient_and_receive_a_one_time_activation_code(
    pro, tokens
) -> None:
    site_id = await pro_site(pro, tokens)
    subject_id = new_subject_id(site_id)
    response = await pro.post(
        "/v1/patients", json=enrolment(subject_id), headers=staff(tokens, site_id)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["subject_id"] == subject_id and body["site_id"] == site_id
    assert CODE_SHAPE.match(body["activation_code"])
    assert body["activation_link"] == f"/app/#activate={body['activation_code']}"
    assert response.headers["cache-control"] == "no-store"
    [patient] = await patients_with_subject(pro, subject_id)
    assert patient.id == body["id"] and patient.status == "active"
    assert patient.regimen == {"code": "default", "capecitabine_mg": 1500, "temozolomide_mg": 300}
    assert patient.tare_dates == ["2026-02-08"]


async def test_site_admin_may_enrol_too(pro, tokens) -> None:
    site_id = await pro_site(pro, tokens)
    response = await pro.post(
        "/v1/patients",
        json=enrolment(new_subject_id(site_id)),
        headers=staff(tokens, site_id, role="site_admin"),
    )
    assert response.status_code == 201, response.text


async def test_activation_code_expires_fourteen_days_after_enrolment(pro, tokens) -> None:
    import datetime as dt

    body = await enrol(pro, tokens)
    expires = dt.datetime.fromisoformat(body["activation_expires_at"])
    remaining = expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=13, hours=23) < remaining <= dt.timedelta(days=14)


async def test_language_tag_is_stored_in_its_usual_case(pro, tokens) -> None:
    body = await enrol(pro, tokens, language="es-mx")
    [patient] = await patients_with_subject(pro, body["subject_id"])
    assert patient.language == "es-MX"


async def test_tare_dates_are_stored_in_date_order(pro, tokens) -> None:
    body = await enrol(pro, tokens, tare_dates=["2026-03-08", "2026-02-08"])
    [patient] = await patients_with_subject(pro, body["subject_id"])
    assert patient.tare_dates == ["2026-02-08", "2026-03-08"]


async def test_a_subject_enrolled_twice_is_409_pointing_to_the_existing_patient(
    pro, tokens
) -> None:
    site_id = await pro_site(pro, tokens)
    first = await enrol(pro, tokens, site_id)
    again = await pro.post(
        "/v1/patients", json=enrolment(first["subject_id"]), headers=staff(tokens, site_id)
    )
    assert again.status_code == 409
    problem = again.json()
    assert f"Subject {first['subject_id']} is already enrolled" in problem["detail"]
    assert f"/v1/patients/{first['id']}/activation-code" in problem["detail"]
    assert problem["patient_id"] == first["id"]
    assert len(await patients_with_subject(pro, first["subject_id"])) == 1


async def test_a_subject_enrolled_at_another_site_is_409_without_revealing_that_patient(
    pro, tokens
) -> None:
    first = await enrol(pro, tokens)
    other_site = await pro_site(pro, tokens)
    again = await pro.post(
        "/v1/patients", json=enrolment(first["subject_id"]), headers=staff(tokens, other_site)
    )
    assert again.status_code == 409
    assert first["id"] not in again.text


async def test_idempotent_replay_of_enrolment_returns_the_same_code_and_creates_one_patient(
    pro, tokens
) -> None:
    site_id = await pro_site(pro, tokens)
    body = enrolment(new_subject_id(site_id))
    headers = {**staff(tokens, site_id), "Idempotency-Key": "enrol-retry-1"}
    first = await pro.post("/v1/patients", json=body, headers=headers)
    retry = await pro.post("/v1/patients", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json() == first.json()
    assert len(await patients_with_subject(pro, body["subject_id"])) == 1
    assert len(await subject_upserts(pro, body["subject_id"])) == 1
    # The activation code is in the replayable response, but not readable in the database.
    table = pro.app.state.tables.idempotency_keys
    async with pro.app.state.db.sessionmaker() as session:
        stored = [str(dict(r)) for r in (await session.execute(select(table))).mappings()]
    code = first.json()["activation_code"]
    assert stored and not any(code in row or body["subject_id"] in row for row in stored)


async def test_same_idempotency_key_with_a_different_body_is_422(pro, tokens) -> None:
    site_id = await pro_site(pro, tokens)
    headers = {**staff(tokens, site_id), "Idempotency-Key": "enrol-retry-2"}
    first = await pro.post("/v1/patients", json=enrolment(new_subject_id(site_id)), headers=headers)
    other = await pro.post("/v1/patients", json=enrolment(new_subject_id(site_id)), headers=headers)
    assert first.status_code == 201 and other.status_code == 422


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        ({"subject_id": "101 0007"}, "body.subject_id", "format"),
        ({"subject_id": "1" * 33}, "body.subject_id", "Shorten"),
        ({"timezone": "Mars/Olympus"}, "body.timezone", "America/New_York"),
        ({"language": "english please"}, "body.language", "es-MX"),
        ({"treatment_start": "05/01/2026"}, "body.treatment_start", "YYYY-MM-DD"),
        ({"regimen": {"capecitabine_mg": 0, "temozolomide_mg": 300}}, "capecitabine_mg", "0"),
        ({"regimen": {"capecitabine_mg": 15000, "temozolomide_mg": 300}}, "capecitabine_mg", ""),
        ({"regimen": {"capecitabine_mg": 1500}}, "temozolomide_mg", "Add this field"),
        (
            {"regimen": {"code": "experimental", "capecitabine_mg": 1500, "temozolomide_mg": 300}},
            "body.regimen.code",
            "g2_pilot",
        ),
        ({"tare_dates": ["2026-01-04"]}, "body.tare_dates", "before treatment_start"),
        ({"tare_dates": ["2026-02-08", "2026-02-08"]}, "body.tare_dates", "twice"),
        ({"name": "Jane Doe"}, "body.name", "Remove this field"),
    ],
)
async def test_invalid_enrolment_is_422_naming_the_field_and_the_fix(
    pro, tokens, change, field, hint
) -> None:
    site_id = await pro_site(pro, tokens)
    body = {**enrolment(new_subject_id(site_id)), **change}
    response = await pro.post("/v1/patients", json=body, headers=staff(tokens, site_id))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert any(field in e["field"] for e in problem["errors"]), problem
    assert hint in problem["detail"]
    assert await patients_with_subject(pro, body["subject_id"]) == []


async def test_enrolment_at_a_site_not_registered_in_pro_api_is_422(pro, tokens) -> None:
    site_id = new_site_id()
    response = await pro.post(
        "/v1/patients", json=enrolment(new_subject_id(site_id)), headers=staff(tokens, site_id)
    )
    assert response.status_code == 422
    assert "not registered in pro_api" in response.json()["detail"]


@pytest.mark.parametrize("role", ["monitor", "trial_admin", "ehr_client", "service", "patient"])
async def test_only_site_staff_and_site_admin_enrol(pro, tokens, role) -> None:
    site_id = await pro_site(pro, tokens)
    response = await pro.post(
        "/v1/patients",
        json=enrolment(new_subject_id(site_id)),
        headers=tokens.headers(role, site=site_id, pid="p-1", aud="pro_api"),
    )
    assert response.status_code == 403


async def test_enrolment_with_a_bad_token_is_401(pro, tokens) -> None:
    site_id = await pro_site(pro, tokens)
    body = enrolment(new_subject_id(site_id))
    expired = tokens.headers("site_staff", site=site_id, aud="pro_api", ttl_s=-60)
    for_safety = tokens.headers("site_staff", site=site_id, aud="safety_api")
    for headers in ({}, expired, for_safety, {"Authorization": "Bearer not-a-jwt"}):
        response = await pro.post("/v1/patients", json=body, headers=headers)
        assert response.status_code == 401, headers
    assert await patients_with_subject(pro, body["subject_id"]) == []


async def test_enrolment_is_audited_without_the_activation_code(pro, tokens) -> None:
    body = await enrol(pro, tokens)
    [event] = await audit_events(pro, body["id"])
    assert event["action"] == "patient.enrol"
    assert event["after"]["subject_id"] == body["subject_id"]
    assert event["actor"].endswith("test-site_staff")
    code = body["activation_code"]
    assert code not in repr(event) and code.replace("-", "") not in repr(event)


async def test_enrolment_enqueues_exactly_one_safety_subject_upsert(pro, tokens) -> None:
    body = await enrol(pro, tokens, tare_dates=["2026-02-08", "2026-03-08"])
    [message] = await subject_upserts(pro, body["subject_id"])
    assert message["status"] == "pending"
    assert message["payload"] == {
        "subject_id": body["subject_id"],
        "body": {
            "site_id": body["site_id"],
            "treatment_start": "2026-01-05",
            "tare_dates": ["2026-02-08", "2026-03-08"],
        },
    }
    assert "authorization" not in repr(message).lower()


async def test_a_refused_enrolment_enqueues_nothing(pro, tokens) -> None:
    site_id = await pro_site(pro, tokens)
    first = await enrol(pro, tokens, site_id)
    again = await pro.post(
        "/v1/patients", json=enrolment(first["subject_id"]), headers=staff(tokens, site_id)
    )
    assert again.status_code == 409
    assert len(await subject_upserts(pro, first["subject_id"])) == 1


async def test_an_enrolment_failing_after_the_message_was_queued_leaves_neither(
    pro, tokens, monkeypatch
) -> None:
    """The message and the patient commit together or not at all."""
    from services.common import audit

    async def audit_down(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("audit table unavailable")

    site_id = await pro_site(pro, tokens)
    subject_id = new_subject_id(site_id)
    monkeypatch.setattr(audit, "record", audit_down)
    response = await pro.post(
        "/v1/patients", json=enrolment(subject_id), headers=staff(tokens, site_id)
    )
    assert response.status_code == 500
    assert await patients_with_subject(pro, subject_id) == []
    assert await subject_upserts(pro, subject_id) == []
