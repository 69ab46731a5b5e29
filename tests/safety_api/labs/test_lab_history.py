"""``GET /v1/subjects/{id}/labs``: results over time with their grades, own site only."""

from __future__ import annotations

from tests.safety_api.labs.factories import ALT_GRADE_2, hours_ago, subject_at_new_site

BILI_NORMAL = {"analyte": "BILI", "value": 0.8, "unit": "mg/dL", "ref_low": 0.1, "ref_high": 1.2}


async def post(safety, tokens, site: str, subject: str, collected: str, *results) -> None:
    response = await safety.post(
        "/v1/labs",
        json={"subject_id": subject, "collected_at": collected, "results": list(results)},
        headers=tokens.headers("ehr_client", site=site),
    )
    assert response.status_code == 201, response.text


async def test_results_come_oldest_first_with_grade_and_x_uln(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    await post(safety, tokens, site, subject, hours_ago(2), ALT_GRADE_2)
    await post(
        safety, tokens, site, subject, hours_ago(50), {**ALT_GRADE_2, "value": 30}, BILI_NORMAL
    )
    response = await safety.get(
        f"/v1/subjects/{subject}/labs", headers=tokens.headers("site_staff", site=site)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject_id"] == subject and body["site_id"] == site
    assert [(r["analyte"], r["value"], r["grade"]) for r in body["results"]] == [
        ("ALT", 30.0, 0),
        ("BILI", 0.8, 0),
        ("ALT", 130.0, 2),
    ]
    assert body["results"][2]["x_uln"] == 3.25
    assert body["results"][0]["collected_at"] < body["results"][2]["collected_at"]


async def test_analyte_filter_keeps_one_analyte(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    await post(safety, tokens, site, subject, hours_ago(2), ALT_GRADE_2, BILI_NORMAL)
    response = await safety.get(
        f"/v1/subjects/{subject}/labs",
        params={"analyte": "BILI"},
        headers=tokens.headers("site_staff", site=site),
    )
    assert [r["analyte"] for r in response.json()["results"]] == ["BILI"]


async def test_another_sites_subject_is_not_found(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    await post(safety, tokens, site, subject, hours_ago(2), ALT_GRADE_2)
    response = await safety.get(
        f"/v1/subjects/{subject}/labs", headers=tokens.headers("site_staff", site="elsewhere")
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_monitor_reads_any_site_and_a_patient_token_is_forbidden(safety, tokens) -> None:
    site, subject = await subject_at_new_site(safety, tokens)
    monitor = await safety.get(f"/v1/subjects/{subject}/labs", headers=tokens.headers("monitor"))
    assert monitor.status_code == 200
    patient = await safety.get(
        f"/v1/subjects/{subject}/labs", headers=tokens.headers("patient", site=site, pid="p")
    )
    assert patient.status_code == 403
