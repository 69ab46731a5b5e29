"""POST /fhir/Observation: a FHIR R4 lab Observation, stored and graded; errors are
OperationOutcome."""

from __future__ import annotations

import uuid
from decimal import Decimal

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.safety_api.labs.factories import (
    FHIR_JSON,
    hours_ago,
    observation,
    stored_adverse_events,
    stored_labs,
    subject_at_new_site,
)

AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"


def grade_of(resource: dict) -> dict:
    [extension] = [e for e in resource.get("extension", []) if e["url"] == AE_GRADE]
    return extension["valueCodeableConcept"]


def outcome_of(response) -> OperationOutcome:
    assert response.headers["content-type"].startswith("application/fhir+json")
    return OperationOutcome.model_validate(response.json())


async def test_an_observation_is_stored_and_returned_with_its_ctcae_grade(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = observation(subject, id=f"lab-{uuid.uuid4().hex[:8]}")
    response = await safety.post(
        "/fhir/Observation", json=sent, headers={**tokens.headers("ehr_client", site=site)}
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    stored = response.json()
    Observation.model_validate(stored)  # valid FHIR R4
    [row] = await stored_labs(safety, subject)
    assert stored["id"] == row.id != sent["id"]
    assert response.headers["location"] == f"/fhir/Observation/{row.id}"
    assert stored["identifier"][0]["value"] == sent["id"]
    assert stored["subject"]["identifier"]["value"] == subject
    assert stored["valueQuantity"]["value"] == 130
    grade = grade_of(stored)
    assert {"system": "urn:captem:ctcae-v4.03-grade", "code": "2", "display": "Grade 2"} in grade[
        "coding"
    ]
    assert any(c["code"] == "C41339" for c in grade["coding"])  # NCIt Grade 2 Moderate
    assert "Alanine aminotransferase increased" in grade["text"]
    assert (row.analyte, row.loinc, row.grade, row.source) == ("ALT", "1742-6", 2, "fhir")
    assert row.value == Decimal("130") and row.ref_high == Decimal("40")
    [event] = await stored_adverse_events(safety, subject)
    assert (event.source_id, event.grade) == (row.id, 2)


async def test_plain_application_json_is_accepted_too(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/fhir/Observation",
        json=observation(subject),
        headers={**tokens.headers("ehr_client", site=site), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text


async def test_the_fhir_media_type_is_accepted(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    import json

    response = await safety.post(
        "/fhir/Observation",
        content=json.dumps(observation(subject)),
        headers={**tokens.headers("ehr_client", site=site), **FHIR_JSON},
    )
    assert response.status_code == 201, response.text


async def test_a_repeat_of_the_same_observation_returns_the_stored_one(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = observation(subject, id=f"lab-{uuid.uuid4().hex[:8]}")
    headers = tokens.headers("ehr_client", site=site)
    first = await safety.post("/fhir/Observation", json=sent, headers=headers)
    again = await safety.post("/fhir/Observation", json=sent, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert len(await stored_labs(safety, subject)) == 1
    assert len(await stored_adverse_events(safety, subject)) == 1


async def test_the_first_identifier_names_the_observation_when_it_has_no_id(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = observation(subject) | {"identifier": [{"system": "urn:lab", "value": "acc-77"}]}
    headers = tokens.headers("ehr_client", site=site)
    await safety.post("/fhir/Observation", json=sent, headers=headers)
    again = await safety.post("/fhir/Observation", json=sent, headers=headers)
    assert again.status_code == 200
    [row] = await stored_labs(safety, subject)
    assert row.source_id == "acc-77"


async def test_an_observation_without_subject_identifier_is_a_422_operation_outcome(
    safety, tokens
) -> None:
    site, _subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/fhir/Observation",
        json=observation(None),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 422
    [issue] = outcome_of(response).issue
    assert issue.code == "required"
    assert issue.expression == ["Observation.subject.identifier.value"]
    assert "study subject ID" in issue.diagnostics


async def test_every_problem_of_an_observation_is_listed(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = observation(subject, effective="2026-03-01")
    del sent["valueQuantity"]["code"], sent["valueQuantity"]["unit"]
    sent["status"] = "preliminary"
    response = await safety.post(
        "/fhir/Observation", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 422
    expressions = {e for i in outcome_of(response).issue for e in i.expression}
    assert expressions == {
        "Observation.status",
        "Observation.valueQuantity.code",
        "Observation.effectiveDateTime",
    }
    assert await stored_labs(safety, subject) == []


async def test_an_ungradable_observation_names_the_fhir_element(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/fhir/Observation",
        json=observation(subject, high=None),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 422
    [issue] = outcome_of(response).issue
    assert issue.expression == ["Observation.referenceRange[0].high.value"]
    assert "referenceRange.high" in issue.diagnostics


async def test_a_collection_time_in_the_future_is_refused(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/fhir/Observation",
        json=observation(subject, effective=hours_ago(-2)),
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 422
    [issue] = outcome_of(response).issue
    assert "future" in issue.diagnostics


async def test_a_subject_of_another_site_is_a_404_operation_outcome(safety, tokens) -> None:
    _, subject = await subject_at_new_site(safety, tokens)
    other_site, _ = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/fhir/Observation",
        json=observation(subject),
        headers=tokens.headers("ehr_client", site=other_site),
    )
    assert response.status_code == 404
    [issue] = outcome_of(response).issue
    assert issue.code == "not-found"
    assert await stored_labs(safety, subject) == []


async def test_a_monitor_cannot_post_observations(safety, tokens) -> None:
    _site, subject = await subject_at_new_site(safety, tokens)
    response = await safety.post(
        "/fhir/Observation", json=observation(subject), headers=tokens.headers("monitor")
    )
    assert response.status_code == 403
    assert outcome_of(response).issue[0].code == "forbidden"


async def test_a_bad_token_is_a_401_operation_outcome(safety) -> None:
    response = await safety.post(
        "/fhir/Observation",
        json=observation("101-0001"),
        headers={"Authorization": "Bearer nope"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert outcome_of(response).issue[0].code == "login"


async def test_a_body_that_is_not_json_is_refused(safety, tokens) -> None:
    response = await safety.post(
        "/fhir/Observation",
        content=b"<Observation/>",
        headers={**tokens.headers("ehr_client", site="101"), "Content-Type": "application/xml"},
    )
    assert response.status_code == 415
    assert outcome_of(response).issue[0].code == "not-supported"


async def test_another_resource_type_is_refused(safety, tokens) -> None:
    response = await safety.post(
        "/fhir/Observation",
        json={"resourceType": "Patient"},
        headers=tokens.headers("ehr_client", site="101"),
    )
    assert response.status_code == 422
    assert "Patient" in outcome_of(response).issue[0].diagnostics


async def test_a_stored_observation_can_be_read_back_within_the_site_only(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    other_site, _ = await subject_at_new_site(safety, tokens)
    created = await safety.post(
        "/fhir/Observation",
        json=observation(subject),
        headers=tokens.headers("ehr_client", site=site),
    )
    location = created.headers["location"]
    mine = await safety.get(location, headers=tokens.headers("site_staff", site=site))
    assert mine.status_code == 200 and mine.json() == created.json()
    theirs = await safety.get(location, headers=tokens.headers("site_staff", site=other_site))
    assert theirs.status_code == 404
    assert outcome_of(theirs).issue[0].code == "not-found"


async def test_an_idempotent_retry_replays_the_fhir_response(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    headers = {**tokens.headers("ehr_client", site=site), "Idempotency-Key": uuid.uuid4().hex}
    sent = observation(subject)  # no id: only the key tells the retry from a new result
    first = await safety.post("/fhir/Observation", json=sent, headers=headers)
    again = await safety.post("/fhir/Observation", json=sent, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"].startswith("application/fhir+json")
    assert again.json() == first.json()
    assert len(await stored_labs(safety, subject)) == 1
