"""PUT /v1/me/diary/{date}: a day opens that local day and closes at the end of the next local
day (anti-backfill, DESIGN.md), across DST in America/New_York; every save is a new version;
retries with the same Idempotency-Key save once; doses outside the plan are kept and flagged."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from services.pro_api.diary.models import DiaryEntry
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


async def versions_of(pro, patient_id: str, day: str) -> list[int]:
    import datetime as dt

    async with pro.app.state.db.sessionmaker() as session:
        rows = await session.execute(
            select(DiaryEntry.version)
            .where(
                DiaryEntry.patient_id == patient_id,  # type: ignore[arg-type]
                DiaryEntry.local_date == dt.date.fromisoformat(day),  # type: ignore[arg-type]
            )
            .order_by(DiaryEntry.version)  # type: ignore[arg-type]
        )
        return list(rows.scalars())


# Spring forward: 2026-03-08 02:00 EST -> 03:00 EDT. Fall back: 2026-11-01 02:00 EDT -> 01:00 EST.
DST_DAYS = [
    pytest.param("2026-03-07", "2026-03-08", "2026-03-09", id="day-before-spring-forward"),
    pytest.param("2026-03-08", "2026-03-09", "2026-03-10", id="spring-forward-day"),
    pytest.param("2026-10-31", "2026-11-01", "2026-11-02", id="day-before-fall-back"),
    pytest.param("2026-11-01", "2026-11-02", "2026-11-03", id="fall-back-day"),
]


@pytest.mark.parametrize(("day", "day_after", "two_days_after"), DST_DAYS)
async def test_diary_day_is_accepted_at_2330_the_day_after_and_refused_at_0010_two_days_after(
    pro, tokens, day, day_after, two_days_after
) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-02-23")

    accepted = await put_day(pro, patient, day, capecitabine_day(), at=local(f"{day_after} 23:30"))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["editable_until_local"] == f"{two_days_after}T00:00:00" + (
        "-04:00" if "2026-03-09" <= two_days_after <= "2026-11-01" else "-05:00"
    )

    refused = await put_day(
        pro, patient, day, capecitabine_day(), at=local(f"{two_days_after} 00:10")
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:captem:problem:diary-day-closed"
    assert problem["deadline_local"].startswith(f"{two_days_after}T00:00:00")
    assert f"{two_days_after} 00:00 America/New_York" in problem["detail"]
    assert await versions_of(pro, patient.patient_id, day) == [1]


async def test_a_future_day_is_refused_with_plain_words(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-02-23")
    response = await put_day(
        pro, patient, "2026-03-11", capecitabine_day(), at=local("2026-03-10 23:59")
    )
    assert response.status_code == 422
    assert response.json()["type"] == "urn:captem:problem:diary-day-not-open"
    assert "has not started yet" in response.json()["detail"]


async def test_idempotent_replay_creates_one_version_and_a_second_save_creates_version_2(
    pro, tokens
) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-02-23")
    at = local("2026-03-03 21:00")
    key = str(uuid.uuid4())
    body = {**capecitabine_day(), "symptoms": {"fatigue": "relieved_by_rest"}, "note": "ok"}

    first = await put_day(pro, patient, "2026-03-03", body, at=at, key=key)
    replay = await put_day(pro, patient, "2026-03-03", body, at=at, key=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert await versions_of(pro, patient.patient_id, "2026-03-03") == [1]

    corrected = {**body, "symptoms": {"fatigue": "limits_usual_activities"}}
    second = await put_day(pro, patient, "2026-03-03", corrected, at=at, key=str(uuid.uuid4()))
    assert second.status_code == 200, second.text
    assert second.json()["entry"]["version"] == 2
    assert await versions_of(pro, patient.patient_id, "2026-03-03") == [1, 2]

    set_clock(pro, at)
    view = await pro.get(
        f"/v1/patients/{patient.patient_id}/diary",
        params={"from": "2026-03-03", "to": "2026-03-03"},
        headers=staff(tokens, patient.site_id),
    )
    [day] = view.json()["days"]
    assert [v["version"] for v in day["versions"]] == [1, 2]
    assert day["entry"]["symptoms"] == {"fatigue": "limits_usual_activities"}

    saves = [e for e in await audit_events(pro, f"{patient.patient_id}:2026-03-03")]
    assert [e["action"] for e in saves] == ["diary.day.save", "diary.day.save"]
    assert saves[1]["before"]["version"] == 1 and saves[1]["after"]["version"] == 2


async def test_each_version_with_symptoms_is_queued_once_for_safety_api(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-02-23")
    at = local("2026-03-04 08:00")
    symptoms = {"stools_above_baseline": 8, "vomiting_episodes": 6}
    await put_day(pro, patient, "2026-03-03", {"symptoms": symptoms}, at=at)
    await put_day(pro, patient, "2026-03-03", {"symptoms": {**symptoms, "nausea": "none"}}, at=at)
    await put_day(pro, patient, "2026-03-03", capecitabine_day(), at=at)  # no symptoms: not sent

    mine = [
        m
        for m in await outbox_messages(pro, "safety.symptom_report")
        if m["payload"]["body"]["subject_id"] == patient.subject_id
    ]
    keys = [f"diary:{patient.patient_id}:2026-03-03:v{n}" for n in (1, 2)]
    assert [m["dedupe_key"] for m in mine] == keys
    assert [m["payload"]["idempotency_key"] for m in mine] == keys
    body = mine[0]["payload"]["body"]
    # Saved the next morning: reported_at is the last second of the diary day, local offset.
    assert body == {
        "subject_id": patient.subject_id,
        "reported_at": "2026-03-03T23:59:59-05:00",
        "source": "diary",
        "report": symptoms,
    }


async def test_doses_not_planned_are_kept_and_flagged_to_staff(pro, tokens) -> None:
    # C1D1 2026-03-02: day 20 (2026-03-21) is a rest day; day 3 has capecitabine twice.
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    rest_day = await put_day(
        pro,
        patient,
        "2026-03-21",
        {"doses": [dose("capecitabine", "morning")]},
        at=local("2026-03-21 20:00"),
    )
    assert rest_day.status_code == 201, rest_day.text
    [flag] = rest_day.json()["flags"]
    assert (flag["drug"], flag["reason"]) == ("capecitabine", "no_dose_scheduled")
    assert flag["message"].startswith("More doses than prescribed")

    doubled = await put_day(
        pro,
        patient,
        "2026-03-04",
        {"doses": [dose("capecitabine", "morning"), dose("capecitabine", "morning")]},
        at=local("2026-03-04 20:00"),
    )
    assert [f["reason"] for f in doubled.json()["flags"]] == ["more_than_prescribed"]

    set_clock(pro, local("2026-03-22 09:00"))
    adherence = await pro.get(
        f"/v1/patients/{patient.patient_id}/adherence", headers=staff(tokens, patient.site_id)
    )
    capecitabine = next(
        r for r in adherence.json()["by_cycle_and_drug"] if r["drug"] == "capecitabine"
    )
    assert {f["date"] for f in capecitabine["overdose_flags"]} == {"2026-03-04", "2026-03-21"}


async def test_an_unknown_slot_is_refused_naming_the_field(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    response = await put_day(
        pro,
        patient,
        "2026-03-03",
        {"doses": [dose("capecitabine", "morning"), dose("capecitabine", "lunchtime")]},
        at=local("2026-03-03 20:00"),
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body.doses.1.slot"
    assert "morning" in error["fix"] and "bedtime" in error["fix"]


async def test_a_time_taken_on_a_dose_marked_not_taken_is_refused(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    response = await put_day(
        pro,
        patient,
        "2026-03-03",
        {"doses": [dose("capecitabine", "morning", False, taken_at="2026-03-03T08:00:00-05:00")]},
        at=local("2026-03-03 20:00"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.doses.0.taken_at"


async def test_a_withdrawn_patient_cannot_enter_the_diary(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02", status="withdrawn")
    response = await put_day(
        pro, patient, "2026-03-03", capecitabine_day(), at=local("2026-03-03 20:00")
    )
    assert response.status_code == 403
    assert "withdrawn" in response.json()["detail"]


async def test_my_diary_shows_cycle_day_tare_day_planned_doses_and_the_window(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    async with pro.app.state.db.sessionmaker() as session:
        from services.pro_api.models import Patient

        row = await session.get(Patient, patient.patient_id)
        row.tare_dates = ["2026-04-05"]  # C2D7
        await session.commit()
    await put_day(pro, patient, "2026-03-12", capecitabine_day(), at=local("2026-03-12 21:00"))

    set_clock(pro, local("2026-04-05 10:00"))
    response = await pro.get(
        "/v1/me/diary", params={"from": "2026-03-11", "to": "2026-04-06"}, headers=patient.headers
    )
    assert response.status_code == 200, response.text
    days = {d["date"]: d for d in response.json()["days"]}
    day10 = days["2026-03-11"]
    assert (day10["cycle"], day10["day"]) == (1, 10)
    assert [(d["drug"], d["slot"], d["mg"]) for d in day10["planned_doses"]] == [
        ("capecitabine", "morning", 1500.0),
        ("capecitabine", "evening", 1500.0),
        ("temozolomide", "bedtime", 300.0),
    ]
    assert days["2026-03-12"]["entry"]["version"] == 1
    assert days["2026-03-12"]["status"] == "closed" and not days["2026-03-12"]["editable"]
    assert days["2026-03-16"]["planned_doses"] == []  # day 15: rest
    tare = days["2026-04-05"]
    assert (tare["cycle"], tare["day"], tare["is_tare_day"]) == (2, 7, True)
    assert tare["status"] == "open"
    assert tare["editable_until_local"] == "2026-04-07T00:00:00-04:00"
    assert days["2026-04-06"]["status"] == "not_open_yet"


async def test_more_than_62_days_at_once_is_refused(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    response = await pro.get(
        "/v1/me/diary", params={"from": "2026-01-01", "to": "2026-03-31"}, headers=patient.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.to"


async def test_count_of_versions_is_one_per_save(pro, tokens) -> None:
    patient = await diary_patient(pro, tokens, treatment_start="2026-03-02")
    for _ in range(3):
        await put_day(pro, patient, "2026-03-05", capecitabine_day(), at=local("2026-03-05 20:00"))
    async with pro.app.state.db.sessionmaker() as session:
        count = (
            await session.execute(
                select(func.count())
                .select_from(DiaryEntry)
                .where(DiaryEntry.patient_id == patient.patient_id)  # type: ignore[arg-type]
            )
        ).scalar_one()
    assert count == 3
