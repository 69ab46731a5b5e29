from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from services.safety_api.reports.service import Occurrence, tabulate
from tests.safety_api.adverse_events.factories import (
    day_of_treatment,
    put_subject,
    record_lab,
    report_symptoms,
)
from tests.support.factories import create_site
from tests.support.tokens import TokenFactory


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


# Data cut-off. The sites are in America/New_York (UTC-5 in January); C1D1 is 2026-01-05.
CUTOFF = "2026-01-10"
NAUSEA = "Nausea"


async def nausea_at(client, tokens, subject_id: str, reported_at: str, grade: int = 2) -> None:
    """A staff-entered symptom report at an exact time (with its UTC offset)."""
    choice = {1: "appetite_loss", 2: "eating_less", 3: "cannot_eat_or_drink"}[grade]
    response = await client.post(
        "/v1/symptom-reports",
        json={
            "subject_id": subject_id,
            "reported_at": reported_at,
            "source": "staff",
            "report": {"nausea": choice},
        },
        headers=tokens.headers("service"),
    )
    assert response.status_code == 201, response.text


async def report_as_of(
    client,
    tokens,
    token_site: str | None,
    cutoff: str | None,
    *,
    role: str = "site_staff",
    **params,
) -> dict:
    """The systemic report as of ``cutoff``; ``token_site`` is the caller's site (site staff)."""
    query = {"category": "systemic", **params}
    if cutoff is not None:
        query["data_cutoff"] = cutoff
    response = await client.get(
        "/v1/reports/toxicity", params=query, headers=tokens.headers(role, site=token_site)
    )
    assert response.status_code == 200, response.text
    return response.json()


def nausea_by_grade(report: dict) -> dict[int, tuple[int, int]]:
    found = [t for t in report["terms"] if t["term"] == NAUSEA]
    return by_grade(found[0]) if found else {}


async def test_data_cutoff_counts_an_occurrence_on_the_cut_off_date(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    await nausea_at(safety, tokens, subject_id, f"{CUTOFF}T12:00:00-05:00")

    report = await report_as_of(safety, tokens, site_id, CUTOFF)
    assert nausea_by_grade(report) == {2: (1, 0)}
    assert report["data_cutoff"] == CUTOFF
    assert report["data_cutoff_time_zone"] == "America/New_York"
    assert "2026-01-11T05:00:00+00:00" in report["data_cutoff_rule"]
    # Without a cut-off the report says so.
    everything = await report_as_of(safety, tokens, site_id, None)
    assert everything["data_cutoff"] is None and everything["data_cutoff_time_zone"] is None
    assert "no data cut-off" in everything["data_cutoff_rule"].lower()


async def test_data_cutoff_leaves_out_an_occurrence_the_day_after(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    await nausea_at(safety, tokens, subject_id, f"{CUTOFF}T12:00:00-05:00", grade=1)
    await nausea_at(safety, tokens, subject_id, "2026-01-11T12:00:00-05:00", grade=3)
    other = await put_subject(safety, tokens, site_id)
    await nausea_at(safety, tokens, other, "2026-01-11T12:00:00-05:00", grade=2)

    # As of the cut-off the first participant's worst grade is 1; the other has none yet.
    as_of = await report_as_of(safety, tokens, site_id, CUTOFF)
    assert nausea_by_grade(as_of) == {1: (1, 0)}
    assert as_of["totals"]["any_grade"] == 1 and as_of["totals"]["grade_3_or_higher"] == 0
    later = await report_as_of(safety, tokens, site_id, "2026-01-11")
    assert nausea_by_grade(later) == {2: (1, 0), 3: (1, 0)}


async def test_data_cutoff_ends_at_local_midnight_for_a_new_york_site(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api", timezone="America/New_York")
    late_evening = await put_subject(safety, tokens, site_id)
    after_midnight = await put_subject(safety, tokens, site_id)
    # 23:30 local on the cut-off day is 04:30 UTC the next day: counted.
    await nausea_at(safety, tokens, late_evening, f"{CUTOFF}T23:30:00-05:00", grade=1)
    # 00:10 local the next day: not counted.
    await nausea_at(safety, tokens, after_midnight, "2026-01-11T00:10:00-05:00", grade=3)

    for role, params in (("site_staff", {}), ("monitor", {"site_id": site_id})):
        report = await report_as_of(safety, tokens, site_id, CUTOFF, role=role, **params)
        assert nausea_by_grade(report) == {1: (1, 0)}, role
        assert report["data_cutoff_time_zone"] == "America/New_York"
    assert nausea_by_grade(await report_as_of(safety, tokens, site_id, "2026-01-11")) == {
        1: (1, 0),
        3: (1, 0),
    }


async def test_an_all_sites_report_reads_the_data_cutoff_in_utc(safety, tokens) -> None:
    async def all_sites(cutoff: str) -> dict:
        return await report_as_of(safety, tokens, None, cutoff, role="monitor")

    before = {day: (await all_sites(day))["totals"]["any_grade"] for day in (CUTOFF, "2026-01-11")}
    site_id = await create_site(safety, tokens, aud="safety_api", timezone="America/New_York")
    subject_id = await put_subject(safety, tokens, site_id)
    # 23:30 in New York on the cut-off day is 04:30 UTC the next day.
    await nausea_at(safety, tokens, subject_id, f"{CUTOFF}T23:30:00-05:00")

    on_cutoff = await all_sites(CUTOFF)
    assert on_cutoff["site_id"] is None and on_cutoff["data_cutoff_time_zone"] == "UTC"
    assert "2026-01-11T00:00:00+00:00" in on_cutoff["data_cutoff_rule"]
    assert on_cutoff["totals"]["any_grade"] == before[CUTOFF]
    assert (await all_sites("2026-01-11"))["totals"]["any_grade"] == before["2026-01-11"] + 1


async def test_data_cutoff_counts_participants_by_treatment_start(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    await put_subject(safety, tokens, site_id)  # C1D1 2026-01-05
    await put_subject(safety, tokens, site_id, treatment_start=CUTOFF)
    await put_subject(safety, tokens, site_id, treatment_start="2026-01-11")

    assert (await report_as_of(safety, tokens, site_id, "2026-01-04"))["participants"] == 0
    assert (await report_as_of(safety, tokens, site_id, CUTOFF))["participants"] == 2
    assert (await report_as_of(safety, tokens, site_id, "2026-01-11"))["participants"] == 3
    assert (await report_as_of(safety, tokens, site_id, None))["participants"] == 3


async def test_a_future_data_cutoff_is_refused_naming_the_parameter(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api", timezone="America/New_York")
    now = dt.datetime.now(dt.UTC)
    today = {
        "site": now.astimezone(ZoneInfo("America/New_York")).date(),
        "all": now.date(),
    }
    callers = {
        "site": tokens.headers("site_staff", site=site_id),
        "all": tokens.headers("monitor"),
    }
    for scope, headers in callers.items():
        tomorrow = (today[scope] + dt.timedelta(days=1)).isoformat()
        response = await safety.get(
            "/v1/reports/toxicity",
            params={"category": "hepatic", "data_cutoff": tomorrow},
            headers=headers,
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        [error] = response.json()["errors"]
        assert error["field"] == "query.data_cutoff"
        assert "future" in error["message"]
        assert today[scope].isoformat() in error["fix"]
        # Today itself is a valid cut-off.
        fine = await safety.get(
            "/v1/reports/toxicity",
            params={"category": "hepatic", "data_cutoff": today[scope].isoformat()},
            headers=headers,
        )
        assert fine.status_code == 200, fine.text


async def test_a_malformed_data_cutoff_is_refused_naming_the_parameter(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    for bad in ("2026-02-30", "10/01/2026", "yesterday"):
        response = await safety.get(
            "/v1/reports/toxicity",
            params={"category": "hepatic", "data_cutoff": bad},
            headers=tokens.headers("site_staff", site=site_id),
        )
        assert response.status_code == 422, bad
        [error] = response.json()["errors"]
        assert error["field"] == "query.data_cutoff", bad
        assert error["fix"] == "Send a date as YYYY-MM-DD.", bad
    with_time = await safety.get(
        "/v1/reports/toxicity",
        params={"category": "hepatic", "data_cutoff": "2026-01-10T05:00:00"},
        headers=tokens.headers("site_staff", site=site_id),
    )
    assert with_time.status_code == 422
    assert with_time.json()["errors"][0]["fix"] == (
        "Send a date as YYYY-MM-DD, without a time of day."
    )


async def test_toxicity_csv_carries_the_data_cutoff(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    await nausea_at(safety, tokens, subject_id, f"{CUTOFF}T12:00:00-05:00")
    await nausea_at(safety, tokens, subject_id, "2026-01-11T12:00:00-05:00", grade=3)
    csv_headers = {**tokens.headers("site_staff", site=site_id), "Accept": "text/csv"}

    response = await safety.get(
        "/v1/reports/toxicity",
        params={"category": "systemic", "data_cutoff": CUTOFF},
        headers=csv_headers,
    )
    assert response.status_code == 200, response.text
    assert f"cutoff-{CUTOFF}" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {(r["data_cutoff"], r["data_cutoff_time_zone"]) for r in rows} == {
        (CUTOFF, "America/New_York")
    }
    nausea = {r["worst_grade"]: r["participants"] for r in rows if r["term"] == NAUSEA}
    assert nausea["2"] == "1" and nausea["3"] == "0" and nausea[">=3"] == "0"

    everything = await safety.get(
        "/v1/reports/toxicity", params={"category": "systemic"}, headers=csv_headers
    )
    rows = list(csv.DictReader(io.StringIO(everything.text)))
    assert {(r["data_cutoff"], r["data_cutoff_time_zone"]) for r in rows} == {("", "")}
    assert "cutoff" not in everything.headers["content-disposition"]


async def test_a_data_cutoff_does_not_widen_the_report_scope(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    site_b = await create_site(safety, tokens, aud="safety_api")
    url = "/v1/reports/toxicity"
    params = {"category": "systemic", "data_cutoff": CUTOFF}
    other_site = await safety.get(
        url, params={**params, "site_id": site_b}, headers=tokens.headers("site_staff", site=site_a)
    )
    assert other_site.status_code == 404
    # Scope is checked before the cut-off: a future date for another site is still a 404.
    future = await safety.get(
        url,
        params={**params, "site_id": site_b, "data_cutoff": "2999-01-01"},
        headers=tokens.headers("site_staff", site=site_a),
    )
    assert future.status_code == 404
    forged = TokenFactory(secret="not-the-test-secret-" + "y" * 40)
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token"},
        forged.headers("monitor"),
    ):
        assert (await safety.get(url, params=params, headers=headers)).status_code == 401
