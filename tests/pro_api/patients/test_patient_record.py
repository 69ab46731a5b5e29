"""The patient record: who may read it, who may change it, and what every change leaves behind.

Scope is checked where the data is read: another patient's record, or another site's, is simply
not found (404); a role that may never do something is refused (403); no valid token is 401."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pro_api.patients.factories import (
    activate,
    audit_events,
    bearer,
    enrol,
    pro_site,
    signed_in,
    staff,
    subject_upserts,
)

CALENDAR_CHANGE = {"tare_dates": ["2026-02-08", "2026-03-08"], "reason": "second lobe planned"}
# Every write on a patient: (method, path suffix, body).
WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/activation-code", None),
    ("POST", "/withdraw", {"reason": "withdrew consent"}),
    ("POST", "/complete", {"reason": "follow-up done"}),
    ("PATCH", "", CALENDAR_CHANGE),
]
WRITE_IDS = ["new-code", "withdraw", "complete", "calendar"]


async def write(
    pro: Any, patient_id: str, how: tuple[str, str, dict[str, Any] | None], headers: dict[str, str]
) -> Any:
    method, suffix, body = how
    return await pro.request(
        method, f"/v1/patients/{patient_id}{suffix}", json=body, headers=headers
    )


# --- reading -------------------------------------------------------------------------------


async def test_staff_read_their_sites_patient(pro, tokens) -> None:
    patient = await enrol(pro, tokens, language="es-MX")
    response = await pro.get(
        f"/v1/patients/{patient['id']}", headers=staff(tokens, patient["site_id"])
    )
    assert response.status_code == 200
    record = response.json()
    assert record["subject_id"] == patient["subject_id"]
    assert record["status"] == "active" and record["activated_at"] is None
    assert record["language"] == "es-MX" and record["tare_dates"] == ["2026-02-08"]
    assert "activation_code" not in record


@pytest.mark.parametrize("role", ["monitor", "trial_admin"])
async def test_monitor_and_trial_admin_read_any_sites_patient(pro, tokens, role) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.get(
        f"/v1/patients/{patient['id']}", headers=tokens.headers(role, aud="pro_api")
    )
    assert response.status_code == 200


async def test_a_patient_reads_their_own_record(pro, tokens) -> None:
    patient, pair = await signed_in(pro, tokens)
    response = await pro.get(f"/v1/patients/{patient['id']}", headers=bearer(pair["access_token"]))
    assert response.status_code == 200 and response.json()["id"] == patient["id"]


async def test_a_patient_asking_for_another_patient_gets_404(pro, tokens) -> None:
    site_id = await pro_site(pro, tokens)
    _, pair = await signed_in(pro, tokens, site_id)
    neighbour = await enrol(pro, tokens, site_id)
    response = await pro.get(
        f"/v1/patients/{neighbour['id']}", headers=bearer(pair["access_token"])
    )
    assert response.status_code == 404
    assert neighbour["subject_id"] not in response.text


async def test_staff_asking_for_another_sites_patient_get_404(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    other_site = await pro_site(pro, tokens)
    response = await pro.get(f"/v1/patients/{patient['id']}", headers=staff(tokens, other_site))
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["ehr_client", "service"])
async def test_systems_do_not_read_patient_records(pro, tokens, role) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.get(
        f"/v1/patients/{patient['id']}",
        headers=tokens.headers(role, site=patient["site_id"], aud="pro_api"),
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/v1/patients/{id}", "/v1/patients"])
async def test_reading_patients_with_a_bad_token_is_401(pro, tokens, path) -> None:
    patient = await enrol(pro, tokens)
    url = path.format(id=patient["id"])
    expired = tokens.headers("site_staff", site=patient["site_id"], aud="pro_api", ttl_s=-60)
    for headers in ({}, expired, tokens.headers("monitor", aud="safety_api")):
        assert (await pro.get(url, headers=headers)).status_code == 401


async def test_staff_list_only_their_own_sites_patients(pro, tokens) -> None:
    site_id = await pro_site(pro, tokens)
    mine = [await enrol(pro, tokens, site_id) for _ in range(2)]
    await enrol(pro, tokens)  # another site
    response = await pro.get("/v1/patients", headers=staff(tokens, site_id))
    assert response.status_code == 200
    assert sorted(p["id"] for p in response.json()["items"]) == sorted(p["id"] for p in mine)


async def test_patient_list_filters_by_status(pro, tokens) -> None:
    site_id = await pro_site(pro, tokens)
    staying = await enrol(pro, tokens, site_id)
    leaving = await enrol(pro, tokens, site_id)
    await pro.post(
        f"/v1/patients/{leaving['id']}/withdraw",
        json={"reason": "withdrew consent"},
        headers=staff(tokens, site_id),
    )
    active = await pro.get("/v1/patients?status=active", headers=staff(tokens, site_id))
    withdrawn = await pro.get("/v1/patients?status=withdrawn", headers=staff(tokens, site_id))
    assert [p["id"] for p in active.json()["items"]] == [staying["id"]]
    assert [p["id"] for p in withdrawn.json()["items"]] == [leaving["id"]]
    bad = await pro.get("/v1/patients?status=paused", headers=staff(tokens, site_id))
    assert bad.status_code == 422 and "active" in bad.json()["detail"]


async def test_the_patient_list_pages_in_subject_order_and_says_when_more_remain(
    pro, tokens
) -> None:
    site_id = await pro_site(pro, tokens)
    enrolled = sorted(
        [(await enrol(pro, tokens, site_id))["subject_id"] for _ in range(3)],
    )
    seen, offset = [], 0
    while offset is not None:
        page = await pro.get(
            f"/v1/patients?limit=2&offset={offset}", headers=staff(tokens, site_id)
        )
        assert page.status_code == 200, page.text
        seen.append([p["subject_id"] for p in page.json()["items"]])
        offset = page.json()["next_offset"]
    assert seen == [enrolled[:2], enrolled[2:]]


async def test_monitor_lists_any_site_by_site_id(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.get(
        f"/v1/patients?site_id={patient['site_id']}",
        headers=tokens.headers("monitor", aud="pro_api"),
    )
    assert [p["id"] for p in response.json()["items"]] == [patient["id"]]


async def test_a_patient_cannot_list_patients(pro, tokens) -> None:
    _, pair = await signed_in(pro, tokens)
    assert (await pro.get("/v1/patients", headers=bearer(pair["access_token"]))).status_code == 403


# --- who may change a patient ----------------------------------------------------------------


@pytest.mark.parametrize("how", WRITES, ids=WRITE_IDS)
async def test_staff_of_another_site_changing_a_patient_get_404(pro, tokens, how) -> None:
    patient = await enrol(pro, tokens)
    other_site = await pro_site(pro, tokens)
    response = await write(pro, patient["id"], how, staff(tokens, other_site))
    assert response.status_code == 404
    assert (await activate(pro, patient["activation_code"])).status_code == 200


@pytest.mark.parametrize("how", WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize("role", ["monitor", "trial_admin"])
async def test_read_only_roles_changing_a_patient_get_403(pro, tokens, how, role) -> None:
    patient = await enrol(pro, tokens)
    response = await write(pro, patient["id"], how, tokens.headers(role, aud="pro_api"))
    assert response.status_code == 403


@pytest.mark.parametrize("how", WRITES, ids=WRITE_IDS)
async def test_a_patient_cannot_change_their_own_record(pro, tokens, how) -> None:
    patient, pair = await signed_in(pro, tokens)
    response = await write(pro, patient["id"], how, bearer(pair["access_token"]))
    assert response.status_code == 403


@pytest.mark.parametrize("how", WRITES, ids=WRITE_IDS)
async def test_changing_a_patient_with_a_bad_token_is_401(pro, tokens, how) -> None:
    patient = await enrol(pro, tokens)
    expired = tokens.headers("site_staff", site=patient["site_id"], aud="pro_api", ttl_s=-60)
    for headers in ({}, expired, staff(tokens, patient["site_id"]) | {"Authorization": "Bearer x"}):
        assert (await write(pro, patient["id"], how, headers)).status_code == 401


@pytest.mark.parametrize("how", WRITES, ids=WRITE_IDS)
async def test_changing_a_patient_that_does_not_exist_is_404(pro, tokens, how) -> None:
    site_id = await pro_site(pro, tokens)
    response = await write(pro, "no-such-patient", how, staff(tokens, site_id))
    assert response.status_code == 404


# --- new activation code -----------------------------------------------------------------------


async def test_new_activation_code_is_audited_without_the_code(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    issued = await pro.post(
        f"/v1/patients/{patient['id']}/activation-code", headers=staff(tokens, patient["site_id"])
    )
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    code = issued.json()["activation_code"]
    events = await audit_events(pro, patient["id"])
    assert events[-1]["action"] == "patient.activation_code.issue"
    assert code not in repr(events) and code.replace("-", "") not in repr(events)


async def test_no_new_activation_code_for_a_withdrawn_patient(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    headers = staff(tokens, patient["site_id"])
    await pro.post(
        f"/v1/patients/{patient['id']}/withdraw", json={"reason": "moved away"}, headers=headers
    )
    response = await pro.post(f"/v1/patients/{patient['id']}/activation-code", headers=headers)
    assert response.status_code == 409
    assert "no longer on study" in response.json()["detail"]


# --- withdrawal and completion -------------------------------------------------------------------


async def test_withdrawal_signs_the_phone_out_and_is_audited_with_its_reason(pro, tokens) -> None:
    patient, pair = await signed_in(pro, tokens)
    response = await pro.post(
        f"/v1/patients/{patient['id']}/withdraw",
        json={"reason": "withdrew consent"},
        headers=staff(tokens, patient["site_id"]),
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["status_changed_at"] is not None
    refreshed = await pro.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401
    event = (await audit_events(pro, patient["id"]))[-1]
    assert event["action"] == "patient.withdraw"
    assert event["reason"] == "withdrew consent"
    assert event["before"] == {"status": "active"}
    assert event["after"]["refresh_tokens_revoked"] == 1


async def test_withdrawal_makes_an_unused_activation_code_useless(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    await pro.post(
        f"/v1/patients/{patient['id']}/withdraw",
        json={"reason": "withdrew consent"},
        headers=staff(tokens, patient["site_id"]),
    )
    assert (await activate(pro, patient["activation_code"])).status_code == 401


@pytest.mark.parametrize("ending", ["withdraw", "complete"])
async def test_ending_participation_needs_a_reason(pro, tokens, ending) -> None:
    patient = await enrol(pro, tokens)
    headers = staff(tokens, patient["site_id"])
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = await pro.post(
            f"/v1/patients/{patient['id']}/{ending}", json=body, headers=headers
        )
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == "body.reason"


async def test_withdrawing_twice_changes_nothing_the_second_time(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    headers = staff(tokens, patient["site_id"])
    url = f"/v1/patients/{patient['id']}/withdraw"
    first = await pro.post(url, json={"reason": "withdrew consent"}, headers=headers)
    again = await pro.post(url, json={"reason": "withdrew consent"}, headers=headers)
    assert again.status_code == 200
    assert again.json()["status_changed_at"] == first.json()["status_changed_at"]
    actions = [e["action"] for e in await audit_events(pro, patient["id"])]
    assert actions.count("patient.withdraw") == 1


async def test_a_withdrawn_patient_cannot_be_marked_completed(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    headers = staff(tokens, patient["site_id"])
    await pro.post(
        f"/v1/patients/{patient['id']}/withdraw", json={"reason": "moved away"}, headers=headers
    )
    response = await pro.post(
        f"/v1/patients/{patient['id']}/complete", json={"reason": "done"}, headers=headers
    )
    assert response.status_code == 409
    assert "withdrawn" in response.json()["detail"]


async def test_completion_signs_the_phone_out_and_is_audited(pro, tokens) -> None:
    patient, pair = await signed_in(pro, tokens)
    response = await pro.post(
        f"/v1/patients/{patient['id']}/complete",
        json={"reason": "24-month follow-up done"},
        headers=staff(tokens, patient["site_id"]),
    )
    assert response.status_code == 200 and response.json()["status"] == "completed"
    refreshed = await pro.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401
    event = (await audit_events(pro, patient["id"]))[-1]
    assert event["action"] == "patient.complete" and event["reason"] == "24-month follow-up done"


# --- calendar changes --------------------------------------------------------------------------


async def test_calendar_change_is_audited_and_resent_to_safety_api(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.patch(
        f"/v1/patients/{patient['id']}",
        json={
            "treatment_start": "2026-01-12",
            "tare_dates": ["2026-02-15"],
            "reason": "C1 delayed",
        },
        headers=staff(tokens, patient["site_id"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["treatment_start"] == "2026-01-12"
    assert response.json()["tare_dates"] == ["2026-02-15"]
    event = (await audit_events(pro, patient["id"]))[-1]
    assert event["action"] == "patient.calendar.change" and event["reason"] == "C1 delayed"
    assert event["before"] == {"treatment_start": "2026-01-05", "tare_dates": ["2026-02-08"]}
    assert event["after"] == {"treatment_start": "2026-01-12", "tare_dates": ["2026-02-15"]}
    _, change_message = await subject_upserts(pro, patient["subject_id"])
    assert change_message["payload"]["body"]["treatment_start"] == "2026-01-12"
    assert change_message["payload"]["body"]["tare_dates"] == ["2026-02-15"]


async def test_calendar_change_that_changes_nothing_is_not_resent(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.patch(
        f"/v1/patients/{patient['id']}",
        json={"tare_dates": ["2026-02-08"], "reason": "confirming"},
        headers=staff(tokens, patient["site_id"]),
    )
    assert response.status_code == 200
    assert len(await subject_upserts(pro, patient["subject_id"])) == 1


async def test_moving_treatment_start_past_a_tare_date_is_422(pro, tokens) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.patch(
        f"/v1/patients/{patient['id']}",
        json={"treatment_start": "2026-03-01", "reason": "late start"},
        headers=staff(tokens, patient["site_id"]),
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "body.tare_dates"
    assert "2026-02-08 is before treatment_start 2026-03-01" in problem["detail"]
    assert len(await subject_upserts(pro, patient["subject_id"])) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tare_dates": ["2026-02-08"]}, "body.reason"),
        ({"reason": "nothing"}, "body"),
        ({"timezone": "UTC", "reason": "moved"}, "body.timezone"),
    ],
)
async def test_calendar_change_needs_a_reason_and_a_date(pro, tokens, body, field) -> None:
    patient = await enrol(pro, tokens)
    response = await pro.patch(
        f"/v1/patients/{patient['id']}", json=body, headers=staff(tokens, patient["site_id"])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
