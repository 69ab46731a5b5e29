from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.safety_api.adverse_events.factories import (
    day_of_treatment,
    record_lab,
    report_symptoms,
    site_with_subject,
)
from tests.support.factories import create_site

AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
FHIR_JSON = "application/fhir+json"


async def test_fhir_adverse_events_validate_and_carry_the_ctcae_grade_extension(
    safety, tokens
) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    await report_symptoms(safety, tokens, subject_id, {"vomiting_episodes": 6, "nausea": "none"})
    await record_lab(
        safety,
        subject_id,
        analyte="ALT",
        value=130,
        unit="U/L",
        ref_high=40,
        day=day_of_treatment(8),
    )
    response = await safety.get(
        "/fhir/AdverseEvent",
        params={"subject": subject_id},
        headers=tokens.headers("ehr_client", site=site_id),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "searchset" and bundle.total == 2  # grade 0 nausea is no event
    by_term = {}
    for entry in bundle.entry:
        resource = entry.resource
        assert resource.get_resource_type() == "AdverseEvent"
        assert resource.subject.identifier.value == subject_id
        [grade] = [e for e in resource.extension if e.url == AE_GRADE]
        [meddra] = resource.event.coding
        by_term[meddra.display] = (meddra.system, meddra.code, grade.valueCodeableConcept)
    system, code, grade = by_term["Vomiting"]
    assert (system, code) == ("http://terminology.hl7.org/CodeSystem/mdr", "10047700")
    assert {c.code for c in grade.coding} == {"C41340", "3"}
    _, alt_code, alt_grade = by_term["Alanine aminotransferase increased"]
    assert alt_code == "10001551" and "2" in {c.code for c in alt_grade.coding}


async def test_fhir_search_outside_scope_is_an_operation_outcome_not_found(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    _, subject_b = await site_with_subject(safety, tokens)
    response = await safety.get(
        "/fhir/AdverseEvent",
        params={"subject": subject_b},
        headers=tokens.headers("site_staff", site=site_a),
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(FHIR_JSON)
    outcome = OperationOutcome.model_validate(response.json())
    assert outcome.issue[0].code == "not-found"


async def test_fhir_search_refuses_patients_and_anonymous_callers_with_operation_outcomes(
    safety, tokens
) -> None:
    site_id, subject_id = await site_with_subject(safety, tokens)
    patient = tokens.headers("patient", site=site_id, pid=subject_id)
    for headers, status, code in (
        (patient, 403, "forbidden"),
        ({}, 401, "login"),
        ({"Authorization": "Bearer nonsense"}, 401, "login"),
    ):
        response = await safety.get(
            "/fhir/AdverseEvent", params={"subject": subject_id}, headers=headers
        )
        assert response.status_code == status
        assert OperationOutcome.model_validate(response.json()).issue[0].code == code
