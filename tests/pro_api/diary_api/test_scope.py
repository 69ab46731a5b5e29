"""Every diary endpoint: another patient's or another site's data is simply not found (404), a
bad token is refused (401). Scope is enforced in the repositories' queries (DESIGN.md)."""

from __future__ import annotations

import uuid

import pytest

from tests.pro_api.diary_api.factories import diary_patient, local, set_clock, staff
from tests.support.factories import create_site

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

STAFF_ENDPOINTS = [
    ("GET", "/v1/patients/{pid}/diary", None),
    (
        "POST",
        "/v1/patients/{pid}/dose-holds",
        {"date": "2026-03-03", "drug": "capecitabine", "reason": "r"},
    ),
    (
        "POST",
        "/v1/patients/{pid}/dose-changes",
        {"from_cycle": 2, "drug": "capecitabine", "mg": 1000, "reason": "r"},
    ),
    (
        "POST",
        "/v1/patients/{pid}/cycle-delays",
        {"cycle": 2, "starts_on": "2026-04-06", "reason": "r"},
    ),
    ("GET", "/v1/patients/{pid}/adherence", None),
]
PATIENT_ENDPOINTS = [
    ("GET", "/v1/me/diary", None),
    ("PUT", "/v1/me/diary/2026-03-03", {"doses": []}),
]


async def call(client, method, path, body, headers):
    return await client.request(method, path, json=body, headers=headers)


@pytest.fixture
async def world(pro, tokens):
    set_clock(pro, local("2026-03-03 20:00"))
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    other_site = await create_site(pro, tokens, aud="pro_api")
    return patient, other_site


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS)
async def test_staff_endpoints_hide_other_sites_and_unknown_patients(
    pro, tokens, world, method, path, body
) -> None:
    patient, other_site = world
    own = staff(tokens, patient.site_id)
    elsewhere = staff(tokens, other_site)
    unknown = await call(pro, method, path.format(pid=str(uuid.uuid4())), body, own)
    assert unknown.status_code == 404, unknown.text
    wrong_site = await call(pro, method, path.format(pid=patient.patient_id), body, elsewhere)
    assert wrong_site.status_code == 404, wrong_site.text
    bad = await call(
        pro, method, path.format(pid=patient.patient_id), body, {"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    expired = tokens.headers("site_staff", site=patient.site_id, aud="pro_api", ttl_s=-60)
    assert (
        await call(pro, method, path.format(pid=patient.patient_id), body, expired)
    ).status_code == 401
    safety_token = tokens.headers("site_staff", site=patient.site_id, aud="safety_api")
    assert (
        await call(pro, method, path.format(pid=patient.patient_id), body, safety_token)
    ).status_code == 401
    ok = await call(pro, method, path.format(pid=patient.patient_id), body, own)
    assert ok.status_code in (200, 201), ok.text


async def test_a_patient_reads_only_their_own_adherence(pro, tokens, world) -> None:
    patient, _ = world
    other = await diary_patient(pro, tokens, treatment_start="2026-03-02", site_id=patient.site_id)
    response = await pro.get(f"/v1/patients/{other.patient_id}/adherence", headers=patient.headers)
    assert response.status_code == 404


async def test_a_patient_cannot_use_staff_endpoints(pro, tokens, world) -> None:
    patient, _ = world
    response = await pro.get(f"/v1/patients/{patient.patient_id}/diary", headers=patient.headers)
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), PATIENT_ENDPOINTS)
async def test_patient_endpoints_find_only_the_patient_behind_the_token(
    pro, tokens, world, method, path, body
) -> None:
    patient, other_site = world
    unknown = tokens.headers("patient", site=patient.site_id, pid=str(uuid.uuid4()), aud="pro_api")
    assert (await call(pro, method, path, body, unknown)).status_code == 404
    wrong_site = tokens.headers("patient", site=other_site, pid=patient.patient_id, aud="pro_api")
    assert (await call(pro, method, path, body, wrong_site)).status_code == 404
    assert (
        await call(pro, method, path, body, {"Authorization": "Bearer x.y.z"})
    ).status_code == 401
    assert (await call(pro, method, path, body, {})).status_code == 401
    ok = await call(pro, method, path, body, patient.headers)
    assert ok.status_code in (200, 201), ok.text


async def test_adherence_report_of_another_site_is_not_found(pro, tokens, world) -> None:
    patient, other_site = world
    own = staff(tokens, patient.site_id)
    response = await pro.get("/v1/reports/adherence", params={"site": other_site}, headers=own)
    assert response.status_code == 404
    assert (
        await pro.get("/v1/reports/adherence", headers={"Authorization": "Bearer x"})
    ).status_code == 401
    monitor = tokens.headers("monitor", aud="pro_api")
    assert (
        await pro.get("/v1/reports/adherence", params={"site": other_site}, headers=monitor)
    ).status_code == 200


async def test_reminder_webhook_is_per_site_and_for_site_admins(pro, tokens, world) -> None:
    patient, other_site = world
    body = {"url": "https://gateway.example.org/hooks/captem", "secret": SECRET}
    path = f"/v1/sites/{patient.site_id}/reminder-webhook"
    admin = staff(tokens, patient.site_id, "site_admin")
    assert (
        await pro.put(path, json=body, headers=staff(tokens, patient.site_id))
    ).status_code == 403
    wrong_site = await pro.put(path, json=body, headers=staff(tokens, other_site, "site_admin"))
    assert wrong_site.status_code == 404
    unknown = await pro.put(
        "/v1/sites/nosuchsite/reminder-webhook",
        json=body,
        headers=staff(tokens, "nosuchsite", "site_admin"),
    )
    assert unknown.status_code == 404
    assert (
        await pro.put(path, json=body, headers={"Authorization": "Bearer x"})
    ).status_code == 401
    bad_secret = await pro.put(path, json={**body, "secret": "hunter2"}, headers=admin)
    assert bad_secret.status_code == 422
    saved = await pro.put(path, json=body, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["enabled"] and "secret" not in saved.json()
    read = await pro.get(path, headers=staff(tokens, patient.site_id))
    assert read.status_code == 200 and read.json()["url"] == body["url"]
    assert (await pro.get(path, headers=staff(tokens, other_site))).status_code == 404
