"""Scores per timepoint with change from baseline (10 points = clinically meaningful, Osoba
1998), the CSV export (one row per completed response) and completion per timepoint."""

from __future__ import annotations

import csv
import datetime as dt
import io

from services.pro_api.instruments.schedule import add_months
from tests.pro_api.questionnaires.factories import answers, enrol, local_today, submit
from tests.support.factories import create_site


async def baseline_and_m3(pro, tokens, **patient):
    """Baseline entered on paper during its window, M3 answered today by the patient."""
    start = add_months(local_today(), -3)
    enrolled = await enrol(pro, tokens, treatment_start=start, **patient)
    answered = dt.datetime.combine(start, dt.time(14, 0), tzinfo=dt.UTC).isoformat()
    baseline = await pro.post(
        f"/v1/patients/{enrolled.patient_id}/questionnaire-responses",
        json={
            "timepoint": "baseline",
            "answers": answers(1, 7),
            "mode": "paper",
            "reason": "Baseline form completed at the enrolment visit.",
            "completed_at": answered,
        },
        headers=enrolled.staff,
    )
    assert baseline.status_code == 201, baseline.text
    # Worse global health (7 -> 5: 100 -> 66.67) and a little more fatigue (1 -> 2 on item 10).
    m3 = await submit(pro, enrolled, "M3", {**answers(1, 5), "10": 2})
    assert m3.status_code == 201, m3.text
    return enrolled


async def test_change_from_baseline_flags_changes_of_10_points_or_more(pro, tokens) -> None:
    patient = await baseline_and_m3(pro, tokens)
    response = await pro.get(
        f"/v1/patients/{patient.patient_id}/questionnaire-responses", headers=patient.staff
    )
    assert response.status_code == 200
    body = response.json()
    assert body["subject_id"] == patient.subject_id
    baseline, m3 = body["timepoints"]
    assert baseline["timepoint"] == "baseline" and baseline["change_from_baseline"] is None
    assert m3["timepoint"] == "M3"
    changes = m3["change_from_baseline"]
    assert changes["QL2"] == {"change": -33.33, "meaningful": True, "direction": "worsened"}
    assert changes["FA"] == {"change": 11.11, "meaningful": True, "direction": "worsened"}
    assert changes["PF2"] == {"change": 0.0, "meaningful": False, "direction": "unchanged"}
    assert set(m3["meaningful_changes"]) >= {"QL2", "FA"}
    assert "PF2" not in m3["meaningful_changes"]


async def test_outcomes_are_visible_to_the_patient_the_site_monitor_and_trial_admin(
    pro, tokens
) -> None:
    patient = await baseline_and_m3(pro, tokens)
    url = f"/v1/patients/{patient.patient_id}/questionnaire-responses"
    for headers in (
        patient.headers,
        patient.staff,
        tokens.headers("site_admin", site=patient.site_id, aud="pro_api"),
        tokens.headers("monitor", aud="pro_api"),
        tokens.headers("trial_admin", aud="pro_api"),
    ):
        response = await pro.get(url, headers=headers)
        assert response.status_code == 200 and len(response.json()["timepoints"]) == 2


async def test_outcomes_of_another_patient_or_site_are_404(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    neighbour = await enrol(pro, tokens, site_id=patient.site_id)
    url = f"/v1/patients/{neighbour.patient_id}/questionnaire-responses"
    assert (await pro.get(url, headers=patient.headers)).status_code == 404
    other_site = await create_site(pro, tokens, aud="pro_api")
    other_staff = tokens.headers("site_staff", site=other_site, aud="pro_api")
    assert (await pro.get(url, headers=other_staff)).status_code == 404
    assert (await pro.get(url)).status_code == 401
    ehr = tokens.headers("ehr_client", site=patient.site_id, aud="pro_api")
    assert (await pro.get(url, headers=ehr)).status_code == 403


async def test_csv_has_one_row_per_completed_response(pro, tokens) -> None:
    patient = await baseline_and_m3(pro, tokens)
    other = await enrol(pro, tokens, site_id=patient.site_id)
    await submit(pro, other, "baseline", answers(2, 3))
    draft_holder = await enrol(pro, tokens, site_id=patient.site_id)
    await submit(pro, draft_holder, "baseline", {"1": 1}, status="draft")
    response = await pro.get(
        f"/v1/reports/questionnaires.csv?site={patient.site_id}",
        headers=tokens.headers("monitor", aud="pro_api"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert {(r["subject_id"], r["timepoint"]) for r in rows} == {
        (patient.subject_id, "baseline"),
        (patient.subject_id, "M3"),
        (other.subject_id, "baseline"),
    }
    header = response.text.splitlines()[0].split(",")
    assert header[:6] == ["subject_id", "site", "timepoint", "completed_at", "mode", "version"]
    assert header[6:57] == [f"item_{n}" for n in range(1, 52)]
    assert {"QL2", "PF2", "C30SUMMARY"} <= set(header[57:])
    m3 = next(r for r in rows if r["timepoint"] == "M3")
    assert m3["mode"] == "electronic" and m3["item_10"] == "2" and m3["QL2"] == "66.67"
    baseline = next(
        r for r in rows if r["timepoint"] == "baseline" and r["subject_id"] == patient.subject_id
    )
    assert baseline["mode"] == "paper" and baseline["site"] == patient.site_id


async def test_csv_for_staff_is_their_own_site_only(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    await submit(pro, patient)
    elsewhere = await enrol(pro, tokens)
    await submit(pro, elsewhere)
    rows = list(
        csv.DictReader(
            io.StringIO(
                (await pro.get("/v1/reports/questionnaires.csv", headers=patient.staff)).text
            )
        )
    )
    assert {r["site"] for r in rows} == {patient.site_id}
    foreign = await pro.get(
        f"/v1/reports/questionnaires.csv?site={elsewhere.site_id}", headers=patient.staff
    )
    assert foreign.status_code == 404
    assert (await pro.get("/v1/reports/questionnaires.csv")).status_code == 401
    patient_csv = await pro.get("/v1/reports/questionnaires.csv", headers=patient.headers)
    assert patient_csv.status_code == 403


async def test_completion_rate_is_completed_over_due_so_far(pro, tokens) -> None:
    site_id = await create_site(pro, tokens, aud="pro_api")
    start = add_months(local_today(), -3)
    answered_baseline = await baseline_and_m3(pro, tokens, site_id=site_id)
    await enrol(pro, tokens, site_id=site_id, treatment_start=start)  # missed baseline, M3 open
    response = await pro.get(
        f"/v1/reports/questionnaire-completion?site={site_id}",
        headers=answered_baseline.staff,
    )
    assert response.status_code == 200
    rows = {row["timepoint"]: row for row in response.json()["timepoints"]}
    assert rows["baseline"] == {
        "timepoint": "baseline",
        "due": 2,
        "completed": 1,
        "open": 0,
        "rate": 0.5,
    }
    assert rows["M3"] == {"timepoint": "M3", "due": 1, "completed": 1, "open": 1, "rate": 1.0}
    assert rows["M6"]["due"] == 0 and rows["M6"]["rate"] is None
    other_staff = tokens.headers("site_staff", site="elsewhere", aud="pro_api")
    foreign = await pro.get(
        f"/v1/reports/questionnaire-completion?site={site_id}", headers=other_staff
    )
    assert foreign.status_code == 404
