"""Staff hold doses, change doses and delay cycles (reason required, audited); adherence per
cycle and drug through the API (DOMAIN.md §7), and the site list of patients under 80 %."""

from __future__ import annotations

import datetime as dt

from tests.pro_api.diary_api.factories import (
    capecitabine_day,
    diary_patient,
    dose,
    local,
    outbox_messages,
    put_day,
    set_clock,
    staff,
)
from tests.pro_api.patients.factories import audit_events

C1D1 = dt.date(2026, 1, 5)


def cycle_1_day(day: int) -> str:
    return (C1D1 + dt.timedelta(days=day - 1)).isoformat()


def full_day(day: int, *, capecitabine: bool = True) -> dict:
    body = capecitabine_day(taken=capecitabine)
    if 10 <= day <= 14:
        body["doses"].append(dose("temozolomide", "bedtime"))
    return body


async def hold(pro, tokens, patient, **body):
    set_clock(pro, local("2026-01-05 09:00"))
    return await pro.post(
        f"/v1/patients/{patient.patient_id}/dose-holds",
        json={"reason": "platelets 70,000 on C1D4", **body},
        headers=staff(tokens, patient.site_id),
    )


async def test_adherence_on_a_scripted_cycle_with_2_missed_and_3_held_doses(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    assert (
        await hold(pro, tokens, patient, date=cycle_1_day(5), drug="capecitabine")
    ).status_code == 201
    held_evening = await hold(
        pro, tokens, patient, date=cycle_1_day(6), drug="capecitabine", slot="evening"
    )
    assert held_evening.status_code == 201, held_evening.text

    for day in range(1, 15):
        date = cycle_1_day(day)
        doses = [
            dose("capecitabine", "morning", True),
            dose(
                "capecitabine", "evening", day != 3, **({"reason": "felt sick"} if day == 3 else {})
            ),
        ]
        if day == 5:
            doses = []  # the whole day was held
        elif day == 6:
            doses = doses[:1]
        elif day == 12:
            doses = doses[1:]  # morning never reported
        if day >= 10:
            doses.append(dose("temozolomide", "bedtime"))
        response = await put_day(pro, patient, date, {"doses": doses}, at=local(f"{date} 21:00"))
        assert response.status_code in (200, 201), response.text

    set_clock(pro, local("2026-02-10 10:00"))
    response = await pro.get(
        f"/v1/patients/{patient.patient_id}/adherence", headers=staff(tokens, patient.site_id)
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert "doses taken divided by doses scheduled" in report["method"]
    rows = {(r["cycle"], r["drug"]): r for r in report["by_cycle_and_drug"]}
    capecitabine = rows[1, "capecitabine"]
    # 14 dosing days x 2 = 28 planned; 3 held -> 25 scheduled; day 3 evening not taken and day 12
    # morning never reported -> 2 missed; 23 taken; 23 / 25 = 92.0 %.
    assert (
        capecitabine["scheduled"],
        capecitabine["taken"],
        capecitabine["missed"],
        capecitabine["held"],
        capecitabine["percent"],
        capecitabine["below_threshold"],
    ) == (25, 23, 2, 3, 92.0, False)
    assert (capecitabine["missed_reported"], capecitabine["unreported"]) == (1, 1)
    temozolomide = rows[1, "temozolomide"]
    assert (temozolomide["scheduled"], temozolomide["taken"], temozolomide["percent"]) == (
        5,
        5,
        100.0,
    )

    # The patient may read their own figures.
    mine = await pro.get(f"/v1/patients/{patient.patient_id}/adherence", headers=patient.headers)
    assert mine.status_code == 200 and mine.json() == report


async def test_site_list_names_patients_under_80_percent(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    good = await diary_patient(
        pro, tokens, treatment_start=C1D1.isoformat(), site_id=patient.site_id
    )
    for day in range(1, 15):
        date = cycle_1_day(day)
        await put_day(
            pro, patient, date, full_day(day, capecitabine=day > 4), at=local(f"{date} 21:00")
        )
        await put_day(pro, good, date, full_day(day), at=local(f"{date} 21:00"))

    set_clock(pro, local("2026-01-19 09:00"))  # C1D15
    response = await pro.get(
        "/v1/reports/adherence", params={"below": 80}, headers=staff(tokens, patient.site_id)
    )
    assert response.status_code == 200, response.text
    listed = response.json()["patients"]
    assert [p["subject_id"] for p in listed] == [patient.subject_id]
    [row] = listed[0]["below"]
    # Capecitabine not taken on days 1-4: 20 / 28 = 71.4 %.
    assert (row["drug"], row["taken"], row["scheduled"], row["percent"]) == (
        "capecitabine",
        20,
        28,
        71.4,
    )

    other_site = await pro.get(
        "/v1/reports/adherence",
        params={"site": patient.site_id},
        headers=staff(tokens, "elsewhere"),
    )
    assert other_site.status_code == 404


async def test_a_dose_hold_needs_a_planned_dose_and_a_reason_and_is_audited(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    rest_day = await hold(pro, tokens, patient, date=cycle_1_day(20), drug="capecitabine")
    assert rest_day.status_code == 422
    assert rest_day.json()["errors"][0]["field"] == "body.date"

    blank = await hold(pro, tokens, patient, date=cycle_1_day(10), drug="temozolomide", reason=" ")
    assert blank.status_code == 422

    held = await hold(pro, tokens, patient, date=cycle_1_day(10), drug="temozolomide")
    assert held.status_code == 201, held.text
    assert held.json()["held_doses"] == [
        {"drug": "temozolomide", "slot": "bedtime", "mg": 300.0, "held": True}
    ]
    again = await hold(pro, tokens, patient, date=cycle_1_day(10), drug="temozolomide")
    assert again.status_code == 409

    set_clock(pro, local(f"{cycle_1_day(10)} 09:00"))
    diary = await pro.get(
        "/v1/me/diary",
        params={"from": cycle_1_day(10), "to": cycle_1_day(10)},
        headers=patient.headers,
    )
    temozolomide = [
        d for d in diary.json()["days"][0]["planned_doses"] if d["drug"] == "temozolomide"
    ]
    assert temozolomide == [{"drug": "temozolomide", "slot": "bedtime", "mg": 300.0, "held": True}]

    [event] = [
        e
        for e in await audit_events(pro, patient.patient_id)
        if e["action"] == "diary.dose_hold.create"
    ]
    assert event["reason"] == "platelets 70,000 on C1D4"
    assert event["after"]["drug"] == "temozolomide"


async def test_a_dose_change_applies_from_its_cycle_on(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    set_clock(pro, local("2026-01-20 09:00"))  # C1D16
    past = await pro.post(
        f"/v1/patients/{patient.patient_id}/dose-changes",
        json={"from_cycle": 0, "drug": "capecitabine", "mg": 1000, "reason": "HFS grade 2"},
        headers=staff(tokens, patient.site_id),
    )
    assert past.status_code == 422
    changed = await pro.post(
        f"/v1/patients/{patient.patient_id}/dose-changes",
        json={"from_cycle": 2, "drug": "capecitabine", "mg": 1000, "reason": "HFS grade 2"},
        headers=staff(tokens, patient.site_id),
    )
    assert changed.status_code == 201, changed.text
    too_much = await pro.post(
        f"/v1/patients/{patient.patient_id}/dose-changes",
        json={"from_cycle": 2, "drug": "capecitabine", "mg": 15000, "reason": "typo"},
        headers=staff(tokens, patient.site_id),
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "body.mg"

    view = await pro.get(
        f"/v1/patients/{patient.patient_id}/diary",
        params={"from": "2026-01-18", "to": "2026-02-02"},  # C1D14 .. C2D1
        headers=staff(tokens, patient.site_id),
    )
    days = {d["date"]: d for d in view.json()["days"]}
    assert days["2026-01-18"]["planned_doses"][0]["mg"] == 1500.0
    assert days["2026-02-02"]["planned_doses"][0]["mg"] == 1000.0
    actions = [e["action"] for e in await audit_events(pro, patient.patient_id)]
    assert actions.count("diary.dose_change.create") == 1


async def test_a_delayed_cycle_moves_day_1_and_the_days_between_have_no_doses(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    set_clock(pro, local("2026-01-30 09:00"))
    early = await pro.post(
        f"/v1/patients/{patient.patient_id}/cycle-delays",
        json={"cycle": 2, "starts_on": "2026-01-30", "reason": "neutrophils 900"},
        headers=staff(tokens, patient.site_id),
    )
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "body.starts_on"
    delayed = await pro.post(
        f"/v1/patients/{patient.patient_id}/cycle-delays",
        json={"cycle": 2, "starts_on": "2026-02-09", "reason": "neutrophils 900"},
        headers=staff(tokens, patient.site_id),
    )
    assert delayed.status_code == 201, delayed.text
    view = await pro.get(
        f"/v1/patients/{patient.patient_id}/diary",
        params={"from": "2026-02-02", "to": "2026-02-09"},
        headers=staff(tokens, patient.site_id),
    )
    days = {d["date"]: d for d in view.json()["days"]}
    assert (days["2026-02-02"]["cycle"], days["2026-02-02"]["day"]) == (1, 29)
    assert days["2026-02-02"]["is_delay_gap"] and days["2026-02-02"]["planned_doses"] == []
    assert (days["2026-02-09"]["cycle"], days["2026-02-09"]["day"]) == (2, 1)
    assert len(days["2026-02-09"]["planned_doses"]) == 2


async def test_a_delayed_cycle_tells_safety_api_where_the_cycles_now_start(
    pro, tokens, settings
) -> None:
    # safety_api counts adverse events per cycle; C2 moving from 2 Feb to 9 Feb must reach it.
    import json

    from services.common.outbox import OutboxMessage
    from services.pro_api.patients.safety_sync import SafetySubjectDeliverer

    patient = await diary_patient(pro, tokens, treatment_start=C1D1.isoformat())
    set_clock(pro, local("2026-01-30 09:00"))
    delayed = await pro.post(
        f"/v1/patients/{patient.patient_id}/cycle-delays",
        json={"cycle": 2, "starts_on": "2026-02-09", "reason": "neutrophils 900"},
        headers=staff(tokens, patient.site_id),
    )
    assert delayed.status_code == 201, delayed.text
    upserts = await outbox_messages(pro, "safety.subject.upsert")
    mine = [m for m in upserts if m["payload"]["subject_id"] == patient.subject_id]
    assert mine, "recording a delay queues a subject upsert for safety_api"
    deliverer = SafetySubjectDeliverer(settings, db=pro.app.state.db)
    last = mine[-1]
    request = await deliverer.prepare(
        OutboxMessage(last["id"], last["kind"], last["payload"], 0, last["created_at"])
    )
    assert not isinstance(request, str)
    assert json.loads(request.content)["cycle_starts"] == [C1D1.isoformat(), "2026-02-09"]
