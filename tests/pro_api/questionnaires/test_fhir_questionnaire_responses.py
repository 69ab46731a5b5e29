"""FHIR: POST /fhir/QuestionnaireResponse submits like the JSON API; GET ?subject= returns a
searchset Bundle with each response's scale scores as included Observations; errors are
OperationOutcome."""

from __future__ import annotations

import uuid

from fhir.resources.R4B.bundle import Bundle

from services.pro_api.instruments.loader import load_instruments
from services.pro_api.instruments.scoring import score_response
from tests.pro_api.questionnaires.factories import answers, enrol, submit


def fhir_response(timepoint: str = "baseline", given: dict[str, int] | None = None, **extra):
    given = answers(2, 6) if given is None else given
    items = []
    for number, code in given.items():
        value = {"valueInteger": code} if int(number) % 2 else {"valueCoding": {"code": str(code)}}
        items.append({"linkId": number, "answer": [value]})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "urn:captem:questionnaire:eortc-net",
        "status": "completed",
        "extension": [{"url": "urn:captem:fhir:timepoint", "valueCode": timepoint}],
        "item": items,
        **extra,
    }


async def test_a_fhir_questionnaire_response_is_stored_and_scored_like_the_json_api(
    pro, tokens
) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.post(
        "/fhir/QuestionnaireResponse", json=fhir_response(), headers=patient.headers
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource = response.json()
    assert resource["resourceType"] == "QuestionnaireResponse"
    assert response.headers["location"].endswith(f"/fhir/QuestionnaireResponse/{resource['id']}")
    stored = (
        await pro.get(
            f"/v1/patients/{patient.patient_id}/questionnaire-responses/{resource['id']}",
            headers=patient.headers,
        )
    ).json()
    expected = score_response(
        load_instruments().get("eortc-net"), {int(k): v for k, v in answers(2, 6).items()}
    )
    assert stored["scores"] == expected and stored["mode"] == "electronic"


async def test_a_fhir_submission_follows_the_same_window_and_once_rules(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    closed = await pro.post(
        "/fhir/QuestionnaireResponse", json=fhir_response("M6"), headers=patient.headers
    )
    assert closed.status_code == 422
    assert closed.json()["resourceType"] == "OperationOutcome"
    assert "not open yet" in closed.json()["issue"][0]["diagnostics"]
    assert (await submit(pro, patient)).status_code == 201
    twice = await pro.post(
        "/fhir/QuestionnaireResponse", json=fhir_response(), headers=patient.headers
    )
    assert twice.status_code == 409 and twice.json()["issue"][0]["code"] == "conflict"


async def test_a_fhir_answer_outside_the_codes_is_an_operation_outcome_naming_the_item(
    pro, tokens
) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.post(
        "/fhir/QuestionnaireResponse",
        json=fhir_response(given={"1": 9}),
        headers=patient.headers,
    )
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["QuestionnaireResponse.item.where(linkId='1')"]
    assert "allowed: 1, 2, 3, 4" in issue["diagnostics"]


async def test_a_fhir_submission_needs_timepoint_questionnaire_and_valid_status(
    pro, tokens
) -> None:
    patient = await enrol(pro, tokens)
    body = fhir_response(status="amended")
    del body["extension"], body["questionnaire"]
    response = await pro.post("/fhir/QuestionnaireResponse", json=body, headers=patient.headers)
    assert response.status_code == 422
    expressions = {issue["expression"][0] for issue in response.json()["issue"]}
    assert expressions == {
        "QuestionnaireResponse.questionnaire",
        "QuestionnaireResponse.extension",
        "QuestionnaireResponse.status",
    }
    malformed = await pro.post(
        "/fhir/QuestionnaireResponse",
        json={"resourceType": "QuestionnaireResponse", "status": "completed", "item": "x"},
        headers=patient.headers,
    )
    assert malformed.status_code == 400
    assert malformed.json()["resourceType"] == "OperationOutcome"


async def test_fhir_submission_for_another_subject_is_404(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    other = await enrol(pro, tokens, site_id=patient.site_id)
    body = fhir_response(
        subject={"identifier": {"system": "urn:captem:subject-id", "value": other.subject_id}}
    )
    response = await pro.post("/fhir/QuestionnaireResponse", json=body, headers=patient.headers)
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-found"


async def test_fhir_submission_is_idempotent(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    headers = {**patient.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await pro.post("/fhir/QuestionnaireResponse", json=fhir_response(), headers=headers)
    again = await pro.post("/fhir/QuestionnaireResponse", json=fhir_response(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["content-type"].startswith("application/fhir+json")


async def test_search_by_subject_returns_a_searchset_with_score_observations(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    created = (await submit(pro, patient, "baseline", answers(1, 7, skip=(1, 2, 3)))).json()
    response = await pro.get(
        f"/fhir/QuestionnaireResponse?subject={patient.subject_id}",
        headers=tokens.headers("monitor", aud="pro_api"),
    )
    assert response.status_code == 200
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "searchset" and bundle.total == 1
    matches = [e for e in bundle.entry if e.search.mode == "match"]
    included = [e for e in bundle.entry if e.search.mode == "include"]
    assert matches[0].resource.id == created["id"]
    scores = {
        e.resource.code.coding[0].code: float(e.resource.valueQuantity.value) for e in included
    }
    expected = {k: v for k, v in created["scores"].items() if v is not None}
    assert scores == expected
    assert "PF2" not in scores  # 2 of 5 items answered: unscored, so no Observation
    assert all(
        e.resource.derivedFrom[0].reference == f"QuestionnaireResponse/{created['id']}"
        for e in included
    )


async def test_search_for_another_patient_or_site_is_404_and_needs_a_token(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    other = await enrol(pro, tokens, site_id=patient.site_id)
    url = f"/fhir/QuestionnaireResponse?subject={other.subject_id}"
    mine_only = await pro.get(url, headers=patient.headers)
    assert mine_only.status_code == 404
    assert mine_only.json()["resourceType"] == "OperationOutcome"
    foreign_staff = tokens.headers("site_staff", site="elsewhere", aud="pro_api")
    assert (await pro.get(url, headers=foreign_staff)).status_code == 404
    unauthenticated = await pro.get(url)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["issue"][0]["code"] == "login"
    own = await pro.get("/fhir/QuestionnaireResponse", headers=patient.headers)
    assert own.status_code == 200 and own.json()["total"] == 0
    staff_without_subject = await pro.get("/fhir/QuestionnaireResponse", headers=patient.staff)
    assert staff_without_subject.status_code == 400
