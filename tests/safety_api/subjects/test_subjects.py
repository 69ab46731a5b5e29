from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.safety_api.adverse_events.factories import (
    C1D1,
    cycle_of_term,
    day_of_treatment,
    put_subject,
    report_symptoms,
)
from tests.support.factories import create_site, new_subject_id


async def audit_actions(client, entity_id: str) -> list[dict]:
    audit = client.app.state.tables.audit_events
    async with client.app.state.db.sessionmaker() as session:
        rows = await session.execute(
            select(audit).where(audit.c.entity_id == entity_id).order_by(audit.c.id)
        )
        return [dict(r) for r in rows.mappings()]


async def test_staff_register_a_subject_then_update_it_and_resending_changes_nothing(
    safety, tokens
) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = new_subject_id(site_id)
    staff = tokens.headers("site_staff", site=site_id)
    body = {
        "site_id": site_id,
        "treatment_start": C1D1,
        "tare_dates": ["2026-02-08"],
        "baseline": {"creat": {"value": 0.9, "unit": "mg/dL"}},
    }
    created = await safety.put(f"/v1/subjects/{subject_id}", json=body, headers=staff)
    assert created.status_code == 201, created.text
    assert created.json()["baseline"] == {"CREAT": {"value": 0.9, "unit": "mg/dL"}}
    assert created.json()["cycle_starts"] == []

    unchanged = await safety.put(f"/v1/subjects/{subject_id}", json=body, headers=staff)
    assert unchanged.status_code == 200
    assert unchanged.json()["updated_at"] == created.json()["updated_at"]

    delayed = {**body, "cycle_starts": [C1D1, "2026-02-09"]}
    updated = await safety.put(f"/v1/subjects/{subject_id}", json=delayed, headers=staff)
    assert updated.status_code == 200
    assert updated.json()["cycle_starts"] == [C1D1, "2026-02-09"]

    read = await safety.get(f"/v1/subjects/{subject_id}", headers=staff)
    assert read.status_code == 200 and read.json() == updated.json()

    rows = await audit_actions(safety, subject_id)
    assert [r["action"] for r in rows] == ["subject.create", "subject.update"]
    assert rows[1]["before"]["cycle_starts"] == []
    assert rows[1]["after"]["cycle_starts"] == [C1D1, "2026-02-09"]


async def test_a_calendar_resend_without_baseline_keeps_the_stored_baseline(safety, tokens) -> None:
    # pro_api re-sends the calendar (no baseline) on every change; staff's baseline stays.
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = new_subject_id(site_id)
    staff = tokens.headers("site_staff", site=site_id)
    body = {
        "site_id": site_id,
        "treatment_start": C1D1,
        "baseline": {"CREAT": {"value": 0.9, "unit": "mg/dL"}},
    }
    assert (
        await safety.put(f"/v1/subjects/{subject_id}", json=body, headers=staff)
    ).status_code == 201
    resent = await safety.put(
        f"/v1/subjects/{subject_id}",
        json={"site_id": site_id, "treatment_start": C1D1, "tare_dates": ["2026-02-08"]},
        headers=tokens.headers("service"),
    )
    assert resent.status_code == 200, resent.text
    assert resent.json()["baseline"] == {"CREAT": {"value": 0.9, "unit": "mg/dL"}}
    assert resent.json()["tare_dates"] == ["2026-02-08"]


async def test_a_subject_cannot_move_to_another_site(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    site_b = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_a)
    moved = await safety.put(
        f"/v1/subjects/{subject_id}",
        json={"site_id": site_b, "treatment_start": C1D1},
        headers=tokens.headers("service"),
    )
    assert moved.status_code == 409
    assert f"registered at site {site_a}" in moved.json()["detail"]


async def test_an_unknown_site_is_refused_naming_site_id(safety, tokens) -> None:
    response = await safety.put(
        "/v1/subjects/999-0001",
        json={"site_id": "nosuchsite", "treatment_start": C1D1},
        headers=tokens.headers("service"),
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "body.site_id"
    assert "Register the site first" in problem["detail"]


async def test_site_a_staff_cannot_write_or_read_a_site_b_subject(safety, tokens) -> None:
    site_a = await create_site(safety, tokens, aud="safety_api")
    site_b = await create_site(safety, tokens, aud="safety_api")
    subject_b = await put_subject(safety, tokens, site_b)
    staff_a = tokens.headers("site_staff", site=site_a)

    at_b = await safety.put(
        f"/v1/subjects/{new_subject_id(site_b)}",
        json={"site_id": site_b, "treatment_start": C1D1},
        headers=staff_a,
    )
    assert at_b.status_code == 404
    taken = await safety.put(
        f"/v1/subjects/{subject_b}",
        json={"site_id": site_a, "treatment_start": C1D1},
        headers=staff_a,
    )
    assert taken.status_code == 404
    assert (await safety.get(f"/v1/subjects/{subject_b}", headers=staff_a)).status_code == 404
    # ... and the site B subject is as it was.
    read = await safety.get(f"/v1/subjects/{subject_b}", headers=tokens.headers("monitor"))
    assert read.json()["site_id"] == site_b


@pytest.mark.parametrize(
    ("baseline", "says"),
    [
        ({"XYZ": {"value": 1, "unit": "mg/dL"}}, "Unknown analyte 'XYZ'"),
        ({"CREAT": {"value": 1, "unit": "mmHg"}}, "unit 'mmHg' is not accepted for CREAT"),
        ({"CREAT": {"value": 0, "unit": "mg/dL"}}, "greater than 0"),
        ({"CREAT": 0.9}, "valid dictionary"),
    ],
)
async def test_baseline_labs_are_values_with_units_by_analyte_code(
    safety, tokens, baseline, says
) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    response = await safety.put(
        f"/v1/subjects/{new_subject_id(site_id)}",
        json={"site_id": site_id, "treatment_start": C1D1, "baseline": baseline},
        headers=tokens.headers("service"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("body.baseline")
    assert says in response.json()["detail"]


async def test_cycle_starts_begin_on_treatment_start_and_increase(safety, tokens) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    for starts in ([day_of_treatment(2)], [C1D1, "2026-02-10", "2026-02-09"]):
        response = await safety.put(
            f"/v1/subjects/{new_subject_id(site_id)}",
            json={"site_id": site_id, "treatment_start": C1D1, "cycle_starts": starts},
            headers=tokens.headers("service"),
        )
        assert response.status_code == 422, starts


async def test_a_delayed_cycle_moves_recorded_occurrences_into_their_new_cycle(
    safety, tokens
) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    await report_symptoms(safety, tokens, subject_id, {"nausea": "eating_less"}, day="2026-02-03")
    staff = tokens.headers("site_staff", site=site_id)
    record = (await safety.get(f"/v1/subjects/{subject_id}/adverse-events", headers=staff)).json()
    assert cycle_of_term(record, "Nausea", 2)["worst_grade"] == 2

    # Cycle 2 was delayed by a week: 3 February is still cycle 1.
    await put_subject(safety, tokens, site_id, subject_id, cycle_starts=[C1D1, "2026-02-09"])
    record = (await safety.get(f"/v1/subjects/{subject_id}/adverse-events", headers=staff)).json()
    assert cycle_of_term(record, "Nausea", 1)["worst_grade"] == 2
    assert [c["cycle"] for c in record["terms"][0]["cycles"]] == [1]


@pytest.mark.parametrize(
    ("method", "path"), [("put", "/v1/subjects/{id}"), ("get", "/v1/subjects/{id}")]
)
async def test_patients_cannot_use_subjects_and_a_token_is_required(
    safety, tokens, method, path
) -> None:
    site_id = await create_site(safety, tokens, aud="safety_api")
    subject_id = await put_subject(safety, tokens, site_id)
    url = path.format(id=subject_id)
    body = {"site_id": site_id, "treatment_start": C1D1}
    kwargs = {"json": body} if method == "put" else {}
    patient = tokens.headers("patient", site=site_id, pid=subject_id)
    assert (await safety.request(method, url, headers=patient, **kwargs)).status_code == 403
    assert (await safety.request(method, url, **kwargs)).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await safety.request(method, url, headers=bad, **kwargs)).status_code == 401
