from __future__ import annotations

import csv
import io

from services.safety_api.reports.service import Occurrence, tabulate
from tests.safety_api.adverse_events.factories import (
    day_of_treatment,
    put_subject,
    record_lab,
    report_symptoms,
)
from tests.support.factories import create_site


def term_row(report: dict, term: str) -> dict:
    [row] = [t for t in report["terms"] if t["term"] == term]
    return row


def by_grade(row: dict) -> dict[int, tuple[int, int]]:
    return {
        c["grade"]: (c["participants"], c["patient_reported_only"])
        for c in row["by_worst_grade"]
        if c["participants"]
    }


async def toxicity(client, tokens, site_id: str, category: str, **headers) -> dict:
    response = await client.get(
        "/v1/reports/toxicity",
        params={"category": category},
        headers={**tokens.headers("site_staff", site=site_id), **headers},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_participant_is_counted_once_per_term_at_their_worst_grade(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    first = await put_subject(safety, tokens, site_id)
    second = await put_subject(safety, tokens, site_id)
    for day, stools in ((2, 2), (9, 8), (35, 5)):  # grades 1, 3, 2 over two cycles
        await report_symptoms(
            safety, tokens, first, {"stools_above_baseline": stools}, day=day_of_treatment(day)
        )
    await report_symptoms(safety, tokens, second, {"stools_above_baseline": 5})
    # Diarrhoea before C1D1 is baseline, not toxicity.
    await report_symptoms(safety, tokens, second, {"stools_above_baseline": 9}, day="2025-12-30")
    await put_subject(safety, tokens, site_id)  # a participant without toxicity

    report = await toxicity(safety, tokens, site_id, "systemic")
    assert report["participants"] == 3 and report["site_id"] == site_id
    diarrhea = term_row(report, "Diarrhea")
    assert by_grade(diarrhea) == {2: (1, 1), 3: (1, 1)}
    assert diarrhea["any_grade"] == 2 and diarrhea["grade_3_or_higher"] == 1
    assert report["totals"]["any_grade"] == 2
    assert "patient-reported" in report["grades_counted"].lower()


async def test_clinician_grades_replace_patient_reported_ones_and_labs_count_as_corroborated(
    safety, tokens
) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    reported = await report_symptoms(
        safety, tokens, subject_id, {"vomiting_episodes": 6}, day=day_of_treatment(4)
    )
    await record_lab(
        safety,
        subject_id,
        analyte="ALT",
        value=250,
        unit="U/L",
        ref_high=40,
        day=day_of_treatment(15),
    )
    staff = tokens.headers("site_staff", site=site_id)
    record = (await safety.get(f"/v1/subjects/{subject_id}/adverse-events", headers=staff)).json()
    [vomiting] = [e for e in record["events"] if e["source_id"] == reported["id"]]
    await safety.post(
        f"/v1/adverse-events/{vomiting['id']}/confirm",
        json={"grade": 2, "reason": "Four episodes on review."},
        headers=staff,
    )
    systemic = await toxicity(safety, tokens, site_id, "systemic")
    assert by_grade(term_row(systemic, "Vomiting")) == {2: (1, 0)}
    hepatic = await toxicity(safety, tokens, site_id, "hepatic")
    assert [t["term"] for t in hepatic["terms"]] == ["Alanine aminotransferase increased"]
    assert by_grade(hepatic["terms"][0]) == {3: (1, 0)}
    assert hepatic["totals"]["grade_3_or_higher"] == 1


async def test_toxicity_report_exports_csv(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    await report_symptoms(safety, tokens, subject_id, {"fatigue": "limits_self_care"})
    response = await safety.get(
        "/v1/reports/toxicity",
        params={"category": "systemic"},
        headers={**tokens.headers("site_staff", site=site_id), "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    fatigue = {r["worst_grade"]: r for r in rows if r["term"] == "Fatigue"}
    assert fatigue["3"]["participants"] == "1" and fatigue["3"]["patient_reported_only"] == "1"
    assert fatigue[">=3"]["participants"] == "1" and fatigue["1"]["participants"] == "0"
    assert {r["site_id"] for r in rows} == {site_id}
    assert rows[-1]["term"] == "All terms" and rows[-1]["worst_grade"] == ">=3"


async def test_site_staff_see_their_own_site_and_monitors_choose_one(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    site_b = await create_site(safety, tokens, aud="safety_api")
    subject_b = await put_subject(safety, tokens, site_b)
    await report_symptoms(safety, tokens, subject_b, {"nausea": "eating_less"})

    assert (await toxicity(safety, tokens, site_a, "systemic"))["terms"] == []
    other = await safety.get(
        "/v1/reports/toxicity",
        params={"category": "systemic", "site_id": site_b},
        headers=tokens.headers("site_staff", site=site_a),
    )
    assert other.status_code == 404
    monitor = await safety.get(
        "/v1/reports/toxicity",
        params={"category": "systemic", "site_id": site_b},
        headers=tokens.headers("monitor"),
    )
    assert monitor.status_code == 200
    assert by_grade(term_row(monitor.json(), "Nausea")) == {2: (1, 1)}


async def test_toxicity_report_refuses_patients_unknown_categories_and_missing_tokens(
    safety, tokens
) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    url = "/v1/reports/toxicity"
    patient = tokens.headers("patient", site=site_id, pid="x-1")
    assert (
        await safety.get(url, params={"category": "hepatic"}, headers=patient)
    ).status_code == 403
    assert (await safety.get(url, params={"category": "hepatic"})).status_code == 401
    wrong = await safety.get(url, params={"category": "cardiac"}, headers=tokens.headers("monitor"))
    assert wrong.status_code == 422 and "hepatic" in wrong.json()["detail"]


def test_a_confirmed_grade_below_an_unreviewed_diary_grade_is_labelled_patient_reported() -> None:
    occurrences = [
        Occurrence("p1", "10012727", "Diarrhea", 3, None, True),
        Occurrence("p1", "10012727", "Diarrhea", 2, None, False),
    ]
    table = tabulate(occurrences)
    [diarrhea] = table["terms"]
    assert by_grade(diarrhea) == {3: (1, 1)}
    assert diarrhea["any_grade_patient_reported_only"] == 0
    assert diarrhea["grade_3_or_higher_patient_reported_only"] == 1
