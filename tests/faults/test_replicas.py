"""A multi-replica run: two `captem serve safety_api` and two `captem serve pro_api` processes on
one PostgreSQL (one database per service), with clients spread across them — every step of a
patient's story goes to the other replica than the step before.

What it proves: the result is what one process of each would give — N patients enrolled, N
subjects synced to safety_api, each diary day stored once as a symptom report, one lab batch per
subject, every subject with the same alerts and adverse events — and nothing is delivered twice:
each outbox message of either service has at most one ``delivered`` attempt (all of them have
exactly one), and the alert webhook receiver sees each webhook-id exactly once.

(In-process replicas sharing one dispatcher table are covered in
tests/safety_api/alerting/test_alert_lifecycle_and_delivery.py; here they are real processes
with their own pools, LISTEN connections and periodic jobs.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from contextlib import AsyncExitStack
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from services.pro_api.diary.reminders import REMINDER_WEBHOOK
from tests.faults.conftest import serve, service_env
from tests.safety_api.alerting.conftest import SECRET, alt, at
from tests.support.databases import migrated_databases
from tests.support.factories import new_site_id
from tests.support.receiver import _free_port, running_receiver
from tests.support.tokens import TokenFactory

PATIENTS = 8
TZ = "America/New_York"


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def enrol_on(
    pro: list[httpx.AsyncClient], tokens: TokenFactory, site: str, i: int
) -> tuple[str, str]:
    """Enrol on one pro replica, activate the phone on the other, enter the day on the first."""
    subject = f"{site}-{i:04d}"
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    first, other = pro[i % 2], pro[(i + 1) % 2]
    enrolment = await first.post(
        "/v1/patients",
        json={
            "subject_id": subject,
            "timezone": TZ,
            "language": "en",
            "treatment_start": (today - dt.timedelta(days=3)).isoformat(),
            "regimen": {"capecitabine_mg": 1500, "temozolomide_mg": 300},
            "tare_dates": [],
        },
        headers=tokens.headers("site_staff", site=site, aud="pro_api"),
    )
    assert enrolment.status_code == 201, enrolment.text
    patient = enrolment.json()
    activation = await other.post(
        "/v1/auth/activate", json={"activation_code": patient["activation_code"]}
    )
    assert activation.status_code == 200, activation.text
    phone = {"Authorization": f"Bearer {activation.json()['access_token']}"}
    diary = {
        "doses": [{"drug": "capecitabine", "slot": "morning", "taken": True}],
        "symptoms": {"stools_above_baseline": 8, "vomiting_episodes": 6},
        "note": "Bad day.",
    }
    # The phone sends the day twice (a lost answer), once to each replica: stored once.
    for client in (first, other):
        saved = await client.put(
            f"/v1/me/diary/{today.isoformat()}",
            json=diary,
            headers={**phone, "Idempotency-Key": f"{subject}-day"},
        )
        assert saved.status_code in (200, 201), saved.text
    return patient["id"], subject


async def post_labs_when_synced(
    safety: list[httpx.AsyncClient], tokens: TokenFactory, site: str, i: int, subject: str
) -> None:
    """A grade 3 ALT on one safety replica, once the subject synced from pro_api is there."""
    headers = tokens.headers("ehr_client", site=site)
    deadline = time.monotonic() + 30
    while True:
        response = await safety[i % 2].post(
            "/v1/labs",
            json={
                "subject_id": subject,
                "collected_at": at(dt.date.today() - dt.timedelta(days=1)),
                "results": [alt(250)],
            },
            headers=headers,
        )
        if response.status_code != 404:
            break
        assert time.monotonic() < deadline, f"{subject} never reached safety_api"
        await asyncio.sleep(0.1)
    assert response.status_code == 201, response.text


async def all_delivered(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'delivered') AS delivered"
        " FROM outbox_messages WHERE kind <> $1",
        REMINDER_WEBHOOK,
    )
    return int(row["total"]), int(row["delivered"])


async def test_two_replicas_of_each_service_give_one_process_results_and_no_double_delivery(
    backend, tmp_path, tokens: TokenFactory
) -> None:
    if backend != "postgres":
        pytest.skip("replicas share one PostgreSQL in production")
    site = new_site_id()
    async with (
        migrated_databases(backend, "replicas", tmp_path) as urls,
        running_receiver(id_header="webhook-id") as receiver,
        AsyncExitStack() as stack,
    ):
        safety_ports = [_free_port(), _free_port()]
        safety_urls: list[str] = []
        pro_urls: list[str] = []
        for n, port in enumerate(safety_ports):
            env = service_env(urls, tmp_path, dispatcher_enabled=True)
            _, base = await stack.enter_async_context(
                serve("safety_api", env, tmp_path / f"safety{n}.log", port)
            )
            safety_urls.append(base)
        for n, port in enumerate(safety_ports):
            # Each pro replica sends to its own safety replica: both paths carry traffic.
            env = service_env(
                urls, tmp_path, dispatcher_enabled=True, safety_api_url=f"http://127.0.0.1:{port}"
            )
            _, base = await stack.enter_async_context(
                serve("pro_api", env, tmp_path / f"pro{n}.log")
            )
            pro_urls.append(base)
        safety = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=u, timeout=30))
            for u in safety_urls
        ]
        pro = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=u, timeout=30))
            for u in pro_urls
        ]

        for client, aud in ((safety[0], "safety_api"), (pro[1], "pro_api")):
            put = await client.put(
                f"/v1/sites/{site}",
                json={"name": f"Site {site}", "timezone": TZ},
                headers=tokens.headers("trial_admin", aud=aud),
            )
            assert put.status_code == 201, put.text
        hook = await safety[1].put(
            f"/v1/sites/{site}/webhook",
            json={"url": receiver.url, "secret": SECRET},
            headers=tokens.headers("site_admin", site=site),
        )
        assert hook.status_code == 200, hook.text

        enrolled = await asyncio.gather(*(enrol_on(pro, tokens, site, i) for i in range(PATIENTS)))
        subjects = [subject for _, subject in enrolled]
        await asyncio.gather(
            *(
                post_labs_when_synced(safety, tokens, site, i, subject)
                for i, subject in enumerate(subjects)
            )
        )

        pro_db = await asyncpg.connect(plain_dsn(urls["pro_api"]))
        safety_db = await asyncpg.connect(plain_dsn(urls["safety_api"]))
        stack.push_async_callback(pro_db.close)
        stack.push_async_callback(safety_db.close)

        # Wait (bounded) until both outboxes are drained and the receiver has every webhook.
        deadline = time.monotonic() + 30
        while True:
            pro_total, pro_done = await all_delivered(pro_db)
            safety_total, safety_done = await all_delivered(safety_db)
            reports = await safety_db.fetchval(
                "SELECT count(*) FROM symptom_reports WHERE site_id = $1", site
            )
            settled = (
                pro_total == pro_done
                and safety_total == safety_done
                and reports == PATIENTS
                and len(receiver.accepted) == safety_total
            )
            if settled:
                break
            assert time.monotonic() < deadline, (pro_total, pro_done, safety_total, safety_done)
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a late duplicate would arrive now

        # One process's results: N patients, N subjects, one report and one lab batch each.
        assert await pro_db.fetchval("SELECT count(*) FROM patients WHERE site_id = $1", site) == (
            PATIENTS
        )
        assert await safety_db.fetchval(
            "SELECT count(*) FROM subjects WHERE site_id = $1", site
        ) == (PATIENTS)
        per_subject = await safety_db.fetch(
            "SELECT s.id,"
            " (SELECT count(*) FROM symptom_reports r WHERE r.subject_id = s.id) AS reports,"
            " (SELECT count(*) FROM lab_results l WHERE l.subject_id = s.id) AS labs,"
            " (SELECT string_agg(a.rule || ':' || a.severity, ',' ORDER BY a.rule)"
            "    FROM alerts a WHERE a.subject_id = s.id) AS alerts,"
            " (SELECT string_agg(e.term || ':' || e.grade, ',' ORDER BY e.term, e.grade)"
            "    FROM adverse_events e WHERE e.subject_id = s.id) AS events"
            " FROM subjects s WHERE s.site_id = $1 ORDER BY s.id",
            site,
        )
        assert [r["id"] for r in per_subject] == sorted(subjects)
        assert all(r["reports"] == 1 and r["labs"] == 1 for r in per_subject)
        assert "hepatic_grade" in (per_subject[0]["alerts"] or "")
        # Same inputs, same outcome, whichever replicas handled each subject.
        assert len({(r["alerts"], r["events"]) for r in per_subject}) == 1, per_subject

        # Nothing delivered twice, in either service; every message delivered once.
        for conn in (pro_db, safety_db):
            doubled = await conn.fetch(
                "SELECT message_id, count(*) FROM outbox_attempts WHERE outcome = 'delivered'"
                " GROUP BY message_id HAVING count(*) > 1"
            )
            assert doubled == []
            undelivered = await conn.fetchval(
                "SELECT count(*) FROM outbox_messages m WHERE m.kind <> $1 AND"
                " (SELECT count(*) FROM outbox_attempts a WHERE a.message_id = m.id"
                "  AND a.outcome = 'delivered') <> 1",
                REMINDER_WEBHOOK,
            )
            assert undelivered == 0
        # The receiver: each webhook-id once, one alert.created per alert in the database.
        assert all(receiver.seen[k] == 1 for k in receiver.seen), receiver.seen
        events = [json.loads(body) for body in receiver.bodies.values()]
        created = sorted(e["data"]["id"] for e in events if e["type"] == "alert.created")
        alerts = sorted(
            r["id"] for r in await safety_db.fetch("SELECT id FROM alerts WHERE site_id = $1", site)
        )
        assert created == alerts and len(alerts) >= PATIENTS
