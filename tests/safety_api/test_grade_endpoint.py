"""POST /v1/grade: stateless CTCAE v4.03 grading for any authenticated caller."""

from __future__ import annotations

import pytest

ALT_130 = {
    "kind": "lab",
    "analyte": "ALT",
    "value": 130,
    "unit": "U/L",
    "ref_low": 7,
    "ref_high": 40,
}


async def test_alt_130_with_uln_40_is_grade_2_at_3_25_times_uln(safety, tokens) -> None:
    response = await safety.post("/v1/grade", json=ALT_130, headers=tokens.headers("monitor"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "results": [
            {
                "term": "Alanine aminotransferase increased",
                "meddra_code": "10001551",
                "grade": 2,
                "direction": "high",
                "x_uln": 3.25,
                "criteria": ">3.0 - 5.0 x ULN",
                "needs_clinical_assessment": False,
            }
        ]
    }


async def test_loinc_may_name_the_analyte_instead(safety, tokens) -> None:
    body = {**ALT_130, "analyte": None, "loinc": "1742-6"}
    response = await safety.post(
        "/v1/grade", json=body, headers=tokens.headers("site_staff", site="101")
    )
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert (result["term"], result["grade"]) == ("Alanine aminotransferase increased", 2)


async def test_platelets_below_lln_are_graded_low_without_x_uln(safety, tokens) -> None:
    body = {"kind": "lab", "loinc": "777-3", "value": 62, "unit": "10*3/uL", "ref_low": 150}
    response = await safety.post("/v1/grade", json=body, headers=tokens.headers("monitor"))
    [result] = response.json()["results"]
    assert (result["grade"], result["direction"], result["x_uln"]) == (2, "low", None)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"analyte": "XYZ"}, "body.analyte", "Unknown analyte"),
        ({"unit": "mg/dL"}, "body.unit", "not accepted for ALT"),
        ({"ref_high": None}, "body.ref_high", "send ref_high"),
    ],
    ids=["unknown-analyte", "unit-not-convertible", "missing-ref-high"],
)
async def test_a_lab_that_cannot_be_graded_is_422_naming_the_field(
    safety, tokens, change, field, words
) -> None:
    response = await safety.post(
        "/v1/grade", json={**ALT_130, **change}, headers=tokens.headers("monitor")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    [error] = problem["errors"]
    assert error["field"] == field
    assert words in error["message"]
    assert field in problem["detail"]


async def test_chromogranin_a_is_not_graded_and_says_so(safety, tokens) -> None:
    body = {"kind": "lab", "analyte": "CGA", "value": 180, "unit": "ng/mL", "ref_high": 100}
    response = await safety.post("/v1/grade", json=body, headers=tokens.headers("monitor"))
    assert response.status_code == 200
    answer = response.json()
    assert answer["results"] == []
    assert "tumour marker" in answer["note"] and "not grade" in answer["note"]


async def test_symptoms_give_one_result_per_reported_symptom_grade_0_included(
    safety, tokens
) -> None:
    body = {
        "kind": "symptoms",
        "report": {"nausea": "eating_less", "fatigue": "none", "yellow_eyes_or_skin": False},
    }
    response = await safety.post(
        "/v1/grade", json=body, headers=tokens.headers("patient", site="101", pid="p1")
    )
    assert response.status_code == 200, response.text
    results = {r["term"]: r for r in response.json()["results"]}
    assert set(results) == {"Nausea", "Fatigue"}  # warning signs alert, they are not graded
    assert results["Nausea"]["grade"] == 2 and results["Nausea"]["direction"] is None
    assert results["Fatigue"]["grade"] == 0 and results["Fatigue"]["criteria"] is None


async def test_a_symptom_answer_outside_the_choices_is_422_naming_it(safety, tokens) -> None:
    body = {"kind": "symptoms", "report": {"nausea": "a bit"}}
    response = await safety.post("/v1/grade", json=body, headers=tokens.headers("monitor"))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body.report.nausea"
    assert "eating_less" in error["message"]


async def test_an_unknown_kind_is_422(safety, tokens) -> None:
    response = await safety.post(
        "/v1/grade", json={"kind": "vitals"}, headers=tokens.headers("monitor")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_grading_needs_a_valid_token(safety) -> None:
    response = await safety.post(
        "/v1/grade", json=ALT_130, headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
