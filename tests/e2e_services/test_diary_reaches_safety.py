"""End to end with both services as real uvicorn servers on free ports, each with its own
database and a shared JWT secret: a diary day with 8 extra stools and 6 vomiting episodes,
saved in pro_api, arrives in safety_api as a patient-reported diarrhea grade 3 and vomiting
grade 3 — also when safety_api starts only after the entry, and once however often it is sent."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from sqlalchemy import func, select, update

from services.common.db import create_engine
from services.common.settings import Settings
from tests.conftest import make_settings
from tests.support.apps import build_app
from tests.support.databases import migrated_databases
from tests.support.receiver import _free_port
from tests.support.tokens import TokenFactory

TZ = "America/New_York"
# Short retries so "safety_api is down" resolves within the test.
RETRIES = (0.0, 0.2, 0.3, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


@asynccontextmanager
async def serving(service: str, settings: Settings, port: int) -> AsyncIterator[Any]:
    """The service's app under a real uvicorn server on 127.0.0.1:port (lifespan on)."""
    app = build_app(service, settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield app
    finally:
        server.should_exit = True
        await task


def both_settings(urls: dict[str, str], tmp_path: Any, safety_port: int) -> Settings:
    return make_settings(
        urls,
        tmp_path,
        dispatcher_enabled=True,
        safety_api_url=f"http://127.0.0.1:{safety_port}",
        outbox_retry_schedule_s=RETRIES,
        reminder_interval_s=3600,
    )


async def put_site(client: httpx.AsyncClient, tokens: TokenFactory, site_id: str, aud: str) -> None:
    response = await client.put(
        f"/v1/sites/{site_id}",
        json={"name": f"Site {site_id}", "timezone": TZ},
        headers=tokens.headers("trial_admin", aud=aud),
    )
    assert response.status_code in (200, 201), response.text


async def enrol_and_enter_day(
    pro: httpx.AsyncClient, tokens: TokenFactory, site_id: str, subject_id: str
) -> dict[str, Any]:
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    enrolment = await pro.post(
        "/v1/patients",
        json={
            "subject_id": subject_id,
            "timezone": TZ,
            "language": "en",
            "treatment_start": (today - dt.timedelta(days=3)).isoformat(),
            "regimen": {"capecitabine_mg": 1500, "temozolomide_mg": 300},
            "tare_dates": [],
        },
        headers=tokens.headers("site_staff", site=site_id, aud="pro_api"),
    )
    assert enrolment.status_code == 201, enrolment.text
    patient = enrolment.json()
    activation = await pro.post(
        "/v1/auth/activate", json={"activation_code": patient["activation_code"]}
    )
    assert activation.status_code == 200, activation.text
    phone = {"Authorization": f"Bearer {activation.json()['access_token']}"}
    saved = await pro.put(
        f"/v1/me/diary/{today.isoformat()}",
        json={
            "doses": [{"drug": "capecitabine", "slot": "morning", "taken": True}],
            "symptoms": {"stools_above_baseline": 8, "vomiting_episodes": 6},
            "note": "Bad day.",
        },
        headers={**phone, "Idempotency-Key": f"{subject_id}-day"},
    )
    assert saved.status_code == 201, saved.text
    return patient


async def wait_for_grades(
    safety: httpx.AsyncClient, tokens: TokenFactory, site_id: str, subject_id: str
) -> dict[str, int]:
    headers = tokens.headers("site_staff", site=site_id, aud="safety_api")
    for _ in range(600):
        response = await safety.get(f"/v1/subjects/{subject_id}/adverse-events", headers=headers)
        if response.status_code == 200:
            grades = {
                e["term"]: e["grade"]
                for e in response.json()["events"]
                if e["source_kind"] == "symptom_report" and e["patient_reported"]
            }
            if grades:
                return grades
        await asyncio.sleep(0.05)
    raise AssertionError(f"no graded symptom report for {subject_id} reached safety_api")


async def symptom_reports_in_safety(url: str, subject_id: str) -> int:
    from services.safety_api.models import SymptomReport

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(SymptomReport)
                        .where(SymptomReport.subject_id == subject_id)  # type: ignore[arg-type]
                    )
                ).scalar_one()
            )
    finally:
        await engine.dispose()


async def redeliver(pro_app: Any, dedupe_key: str) -> None:
    """Put the delivered message back to pending, as a lost acknowledgement would."""
    om = pro_app.state.tables.outbox_messages
    async with pro_app.state.db.sessionmaker() as session:
        await session.execute(
            update(om)
            .where(om.c.dedupe_key == dedupe_key)
            .values(status="pending", next_attempt_at=dt.datetime.now(dt.UTC))
        )
        await session.commit()
    pro_app.state.dispatcher.wake()


async def message_status(pro_app: Any, dedupe_key: str) -> tuple[str, int]:
    om = pro_app.state.tables.outbox_messages
    async with pro_app.state.db.sessionmaker() as session:
        row = (
            (await session.execute(select(om).where(om.c.dedupe_key == dedupe_key)))
            .mappings()
            .one()
        )
        return row["status"], row["attempts"]


async def wait_for_status(pro_app: Any, dedupe_key: str, status: str, min_attempts: int) -> None:
    for _ in range(600):
        now_status, attempts = await message_status(pro_app, dedupe_key)
        if now_status == status and attempts >= min_attempts:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{dedupe_key} never reached {status} after {min_attempts} attempts")


async def test_8_extra_stools_and_6_vomiting_episodes_arrive_as_grade_3_diarrhea_and_vomiting(
    backend, tmp_path, tokens
) -> None:
    site_id, subject_id = "e2e01", "e2e01-0001"
    safety_port, pro_port = _free_port(), _free_port()
    async with migrated_databases(backend, "e2e", tmp_path) as urls:
        settings = both_settings(urls, tmp_path, safety_port)
        async with (
            serving("safety_api", settings, safety_port),
            serving("pro_api", settings, pro_port) as pro_app,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{pro_port}", timeout=10) as pro,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{safety_port}", timeout=10) as safety,
        ):
            await put_site(safety, tokens, site_id, "safety_api")
            await put_site(pro, tokens, site_id, "pro_api")
            patient = await enrol_and_enter_day(pro, tokens, site_id, subject_id)

            grades = await wait_for_grades(safety, tokens, site_id, subject_id)
            assert grades["Diarrhea"] == 3
            assert grades["Vomiting"] == 3

            # Delivered again (a lost acknowledgement): safety_api still stores it once.
            today = dt.datetime.now(ZoneInfo(TZ)).date().isoformat()
            key = f"diary:{patient['id']}:{today}:v1"
            await wait_for_status(pro_app, key, "delivered", 1)
            await redeliver(pro_app, key)
            await wait_for_status(pro_app, key, "delivered", 2)
        assert await symptom_reports_in_safety(urls["safety_api"], subject_id) == 1


async def test_a_diary_day_saved_while_safety_api_is_down_arrives_once_it_starts(
    backend, tmp_path, tokens
) -> None:
    site_id, subject_id = "e2e02", "e2e02-0001"
    safety_port, pro_port = _free_port(), _free_port()
    async with migrated_databases(backend, "e2e_late", tmp_path) as urls:
        settings = both_settings(urls, tmp_path, safety_port)
        async with (
            serving("pro_api", settings, pro_port) as pro_app,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{pro_port}", timeout=10) as pro,
        ):
            await put_site(pro, tokens, site_id, "pro_api")
            patient = await enrol_and_enter_day(pro, tokens, site_id, subject_id)
            today = dt.datetime.now(ZoneInfo(TZ)).date().isoformat()
            key = f"diary:{patient['id']}:{today}:v1"
            await wait_for_status(pro_app, key, "pending", 2)  # tried, failed, will retry

            async with (
                serving("safety_api", settings, safety_port),
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{safety_port}", timeout=10) as safety,
            ):
                await put_site(safety, tokens, site_id, "safety_api")
                grades = await wait_for_grades(safety, tokens, site_id, subject_id)
                assert (grades["Diarrhea"], grades["Vomiting"]) == (3, 3)
                await wait_for_status(pro_app, key, "delivered", 2)
        assert await symptom_reports_in_safety(urls["safety_api"], subject_id) == 1
