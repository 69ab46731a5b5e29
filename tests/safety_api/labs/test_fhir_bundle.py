"""POST /fhir with a Bundle: batch and collection entries succeed or fail alone; a transaction
is all or nothing."""

from __future__ import annotations

import uuid

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.safety_api.labs.factories import (
    audit_events,
    bundle,
    hours_ago,
    observation,
    stored_adverse_events,
    stored_labs,
    subject_at_new_site,
)


def malformed(subject_id: str) -> dict:
    bad = observation(subject_id, loinc="1920-8")
    bad["valueQuantity"] = {"value": "lots", "code": "U/L"}
    return bad


async def test_fhir_batch_with_one_malformed_observation_stores_the_others_and_reports_the_bad_one(
    safety, tokens
) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = bundle(
        "batch",
        observation(subject, loinc="1742-6"),
        malformed(subject),
        observation(subject, loinc="777-3", value=62, unit="10*3/uL", low=150, high=400),
    )
    response = await safety.post(
        "/fhir", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    answer = Bundle.model_validate(response.json())
    assert answer.type == "batch-response"
    statuses = [entry.response.status for entry in answer.entry]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "201 Created"]
    [issue] = answer.entry[1].response.outcome.issue
    assert issue.expression == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert {row.analyte for row in await stored_labs(safety, subject)} == {"ALT", "PLT"}
    assert len(await stored_adverse_events(safety, subject)) == 2


async def test_fhir_transaction_with_one_malformed_observation_stores_none(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = bundle("transaction", observation(subject), malformed(subject), observation(subject))
    response = await safety.post(
        "/fhir", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 422
    outcome = OperationOutcome.model_validate(response.json())
    assert "nothing was stored" in outcome.issue[0].diagnostics
    [bad] = outcome.issue[1:]
    assert bad.expression == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert "urn:uuid:00000000-0000-0000-0000-000000000001" in bad.diagnostics
    assert await stored_labs(safety, subject) == []
    assert await stored_adverse_events(safety, subject) == []


async def test_a_transaction_lists_every_failed_entry(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    _, elsewhere = await subject_at_new_site(safety, tokens)
    sent = bundle(
        "transaction",
        malformed(subject),
        observation(subject),
        observation(elsewhere),
        {"resourceType": "Patient", "id": "x"},
    )
    response = await safety.post(
        "/fhir", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 422
    issues = OperationOutcome.model_validate(response.json()).issue[1:]
    assert [i.expression[0].split(".resource")[0] for i in issues] == [
        "Bundle.entry[0]",
        "Bundle.entry[2]",
        "Bundle.entry[3]",
    ]
    assert [i.code for i in issues] == ["structure", "not-found", "not-supported"]
    assert await stored_labs(safety, subject) == []


async def test_a_good_transaction_stores_every_entry(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = bundle(
        "transaction",
        observation(subject, loinc="1742-6"),
        observation(subject, loinc="1920-8", value=50, high=35),
    )
    response = await safety.post(
        "/fhir", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    assert response.status_code == 200, response.text
    answer = Bundle.model_validate(response.json())
    assert answer.type == "transaction-response"
    assert [e.response.status for e in answer.entry] == ["201 Created", "201 Created"]
    assert {row.analyte for row in await stored_labs(safety, subject)} == {"ALT", "AST"}


async def test_batch_entries_for_another_sites_subject_are_404_alone(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    _, elsewhere = await subject_at_new_site(safety, tokens)
    sent = bundle("batch", observation(elsewhere), observation(subject))
    response = await safety.post(
        "/fhir", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    answer = Bundle.model_validate(response.json())
    assert [e.response.status for e in answer.entry] == ["404 Not Found", "201 Created"]
    assert answer.entry[0].response.outcome.issue[0].code == "not-found"
    assert await stored_labs(safety, elsewhere) == []


async def test_a_collection_is_treated_like_a_batch_and_other_resources_are_refused(
    safety, tokens
) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    sent = bundle("collection", {"resourceType": "Patient", "id": "p"}, observation(subject))
    for entry in sent["entry"]:
        del entry["request"]
    response = await safety.post(
        "/fhir", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    answer = Bundle.model_validate(response.json())
    assert answer.type == "batch-response"
    assert [e.response.status for e in answer.entry] == ["422 Unprocessable Entity", "201 Created"]
    assert "only Observation" in answer.entry[0].response.outcome.issue[0].diagnostics.replace(
        "Only", "only"
    )


async def test_a_repeated_observation_in_a_batch_is_not_stored_twice(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    same = observation(subject, id=f"lab-{uuid.uuid4().hex[:8]}")
    sent = bundle("batch", same, same)
    response = await safety.post(
        "/fhir", json=sent, headers=tokens.headers("ehr_client", site=site)
    )
    answer = Bundle.model_validate(response.json())
    assert [e.response.status for e in answer.entry] == ["201 Created", "200 OK"]
    assert answer.entry[0].resource.id == answer.entry[1].resource.id
    assert len(await stored_labs(safety, subject)) == 1


async def test_a_panel_in_a_batch_is_stored_like_one_json_batch(safety, tokens) -> None:
    """A lab feed's Bundle of one draw: one stored batch per subject and collection time (one
    audit event, one alert evaluation), however many Observations it holds."""
    site, subject = await subject_at_new_site(safety, tokens)
    drawn, later = hours_ago(3), hours_ago(1)
    panel = [
        observation(subject, loinc="1742-6", effective=drawn),
        observation(subject, loinc="1920-8", value=50, high=35, effective=drawn),
        observation(subject, loinc="6768-6", value=200, high=120, effective=drawn),
        observation(subject, loinc="1742-6", value=45, effective=later),
    ]
    response = await safety.post(
        "/fhir", json=bundle("batch", *panel), headers=tokens.headers("ehr_client", site=site)
    )
    answer = Bundle.model_validate(response.json())
    assert [e.response.status for e in answer.entry] == ["201 Created"] * 4
    events = await audit_events(safety, "labs.ingest", subject)
    assert sorted(len(e["after"]["results"]) for e in events) == [1, 3]
    assert [r.analyte for r in await stored_labs(safety, subject)] == ["ALP", "ALT", "ALT", "AST"]


async def test_an_observation_stored_before_is_answered_beside_new_ones(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    drawn = hours_ago(2)
    known = observation(subject, id=f"lab-{uuid.uuid4().hex[:8]}", effective=drawn)
    headers = tokens.headers("ehr_client", site=site)
    first = await safety.post("/fhir", json=bundle("batch", known), headers=headers)
    assert Bundle.model_validate(first.json()).entry[0].response.status == "201 Created"
    fresh = observation(subject, id=f"lab-{uuid.uuid4().hex[:8]}", loinc="1920-8", effective=drawn)
    again = await safety.post("/fhir", json=bundle("batch", known, fresh), headers=headers)
    answer = Bundle.model_validate(again.json())
    assert [e.response.status for e in answer.entry] == ["200 OK", "201 Created"]
    assert answer.entry[0].resource.id == Bundle.model_validate(first.json()).entry[0].resource.id
    assert len(await stored_labs(safety, subject)) == 2


async def test_two_copies_of_one_bundle_at_once_store_each_observation_once(safety, tokens) -> None:
    """A sender that retries before its first try was answered: both answers list every
    Observation, and each is stored once (the second copy finds them, or loses the insert race
    and then finds them)."""
    import asyncio

    site, subject = await subject_at_new_site(safety, tokens)
    drawn = hours_ago(2)
    resources = [
        observation(subject, id=f"lab-{uuid.uuid4().hex[:8]}", loinc=loinc, effective=drawn)
        for loinc in ("1742-6", "1920-8", "6768-6")
    ]
    headers = tokens.headers("ehr_client", site=site)
    responses = await asyncio.gather(
        *(safety.post("/fhir", json=bundle("batch", *resources), headers=headers) for _ in "ab")
    )
    ids = []
    for response in responses:
        answer = Bundle.model_validate(response.json())
        assert {e.response.status for e in answer.entry} <= {"201 Created", "200 OK"}
        ids.append([e.resource.id for e in answer.entry])
    assert ids[0] == ids[1]
    assert len(await stored_labs(safety, subject)) == 3


async def test_only_bundles_of_batch_transaction_or_collection_are_accepted(safety, tokens) -> None:
    response = await safety.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "searchset", "entry": []},
        headers=tokens.headers("ehr_client", site="101"),
    )
    assert response.status_code == 422
    assert OperationOutcome.model_validate(response.json()).issue[0].expression == ["Bundle.type"]


async def test_a_monitor_cannot_post_bundles(safety, tokens) -> None:
    response = await safety.post("/fhir", json=bundle("batch"), headers=tokens.headers("monitor"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/fhir+json")
