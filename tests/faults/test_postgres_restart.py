"""PostgreSQL restarted in the middle of a load run against a real safety_api process.

The server restarted is a private cluster this test starts for itself (tests/support/pgcluster.py),
so the shared test PostgreSQL, and the other xdist worker's tests on it, never see the outage.

What it proves: every lab post answered 201 is in the database (no success without storage);
posts during the outage get a 5xx problem document (never a hang, never a dropped connection);
``/readyz`` says 503 while PostgreSQL is down and 200 once it is back; the same process (same
pid, never restarted) serves 201s again afterwards, its outbox dispatcher included.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from services.common.settings import normalise_database_url
from tests.faults.conftest import serve, service_env
from tests.support.databases import migrate_url
from tests.support.pgcluster import Cluster, cluster_unavailable_reason, private_cluster
from tests.support.receiver import running_receiver
from tests.support.tokens import TokenFactory

TOTAL_REQUESTS = 300
RESTART_AFTER = 100  # responses before PostgreSQL goes down
CONCURRENCY = 6
DOWN_FOR_S = 1.5


@asynccontextmanager
async def cluster_databases() -> AsyncIterator[tuple[Cluster, dict[str, str]]]:
    with private_cluster() as cluster:
        admin = await asyncpg.connect(cluster.admin_dsn)
        try:
            for name in ("captem_pro", "captem_safety"):
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        base = f"postgresql://postgres@127.0.0.1:{cluster.port}"
        urls = {
            "pro_api": normalise_database_url(f"{base}/captem_pro"),
            "safety_api": normalise_database_url(f"{base}/captem_safety"),
        }
        await migrate_url(urls["safety_api"], "safety_api")
        yield cluster, urls


@dataclass
class LoadRun:
    sent: int = 0
    created: list[tuple[float, float, list[str]]] = field(default_factory=list)  # start, end, ids
    failed: list[tuple[float, float, int, str]] = field(default_factory=list)  # + status, type


def lab_body(subject: str, n: int) -> dict[str, object]:
    collected = dt.datetime(2026, 1, 6, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
    value = 250 if n % 50 == 0 else 30  # now and then a grade 3 ALT (an alert, a webhook)
    return {
        "subject_id": subject,
        "collected_at": collected.isoformat(),
        "results": [
            {"analyte": "ALT", "value": value, "unit": "U/L", "ref_low": 7, "ref_high": 40},
            {"analyte": "ALB", "value": 3.9, "unit": "g/dL", "ref_low": 3.5, "ref_high": 5.0},
        ],
    }


async def post_continuously(
    client: httpx.AsyncClient, headers: dict[str, str], subjects: list[str], run: LoadRun
) -> None:
    while run.sent < TOTAL_REQUESTS:
        n = run.sent
        run.sent += 1
        started = time.monotonic()
        response = await client.post(
            "/v1/labs", json=lab_body(subjects[n % len(subjects)], n), headers=headers
        )
        ended = time.monotonic()
        if response.status_code == 201:
            run.created.append((started, ended, [r["id"] for r in response.json()["results"]]))
        else:
            run.failed.append(
                (started, ended, response.status_code, response.headers.get("content-type", ""))
            )
            await asyncio.sleep(0.1)  # a polite client backs off while the service is unwell


async def readyz(client: httpx.AsyncClient) -> int:
    return (await client.get("/readyz")).status_code


async def wait_readyz(client: httpx.AsyncClient, status: int, timeout_s: float = 15.0) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await readyz(client) == status:
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status} within {timeout_s} s")


async def test_postgres_restarted_mid_load_loses_no_acknowledged_write_and_recovers(
    backend, tmp_path, tokens: TokenFactory
) -> None:
    if backend != "postgres":
        pytest.skip("a PostgreSQL restart; SQLite has no server to restart")
    if reason := cluster_unavailable_reason():
        pytest.skip(reason)
    site = "pgr01"
    async with (
        cluster_databases() as (cluster, urls),
        running_receiver(id_header="webhook-id") as receiver,
    ):
        env = service_env(urls, tmp_path, dispatcher_enabled=True)
        async with (
            serve("safety_api", env, tmp_path / "safety.log") as (process, base_url),
            httpx.AsyncClient(base_url=base_url, timeout=30) as client,
        ):
            put = await client.put(
                f"/v1/sites/{site}",
                json={"name": "Restart site", "timezone": "UTC"},
                headers=tokens.headers("trial_admin"),
            )
            assert put.status_code == 201, put.text
            hook = await client.put(
                f"/v1/sites/{site}/webhook",
                json={"url": receiver.url, "secret": "whsec_" + "QUJD" * 8},
                headers=tokens.headers("site_admin", site=site),
            )
            assert hook.status_code == 200, hook.text
            subjects = [f"{site}-{i:04d}" for i in range(10)]
            for subject in subjects:
                created = await client.put(
                    f"/v1/subjects/{subject}",
                    json={"site_id": site, "treatment_start": "2026-01-05"},
                    headers=tokens.headers("site_staff", site=site),
                )
                assert created.status_code == 201, created.text
            assert await readyz(client) == 200

            run = LoadRun()
            headers = tokens.headers("ehr_client", site=site)
            load = asyncio.gather(
                *(post_continuously(client, headers, subjects, run) for _ in range(CONCURRENCY))
            )

            async def restart() -> tuple[float, float]:
                while len(run.created) + len(run.failed) < RESTART_AFTER:
                    await asyncio.sleep(0.01)
                await asyncio.to_thread(cluster.stop, "fast")
                down = await wait_readyz(client, 503)
                await asyncio.sleep(max(0.0, DOWN_FOR_S - (time.monotonic() - down)))
                await asyncio.to_thread(cluster.start)
                return down, await wait_readyz(client, 200)

            (went_down, came_back), _ = await asyncio.gather(restart(), load)
            # The same process, never restarted, answers again, and its dispatcher still works.
            assert process.poll() is None
            after = await client.post(
                "/v1/labs", json=lab_body(subjects[0], 10_000), headers=headers
            )
            assert after.status_code == 201, after.text
            await receiver.wait_for(len({n for n in range(TOTAL_REQUESTS) if n % 50 == 0}))

        # uvicorn re-raises the SIGTERM it handled once shutdown is complete (a clean stop).
        assert process.returncode in (0, -signal.SIGTERM)

        # During the outage: 5xx problem documents only, and some of them (the outage was felt).
        assert run.failed, "no request failed: PostgreSQL was not down while the load ran"
        assert all(500 <= status < 600 for _, _, status, _ in run.failed), run.failed
        assert all(kind.startswith("application/problem+json") for *_, kind in run.failed)
        assert len(run.created) + len(run.failed) == TOTAL_REQUESTS
        # Before the outage and after recovery every request succeeded.
        started_late = [c for c in run.created if c[0] > came_back]
        assert all(f[0] < came_back for f in run.failed), (run.failed, came_back)
        assert started_late, "no request ran after PostgreSQL came back"
        assert went_down < came_back

        # Every 201 is stored: each result id the service acknowledged is in the database.
        acknowledged = {i for *_, ids in run.created for i in ids}
        conn = await asyncpg.connect(urls["safety_api"].replace("+asyncpg", ""))
        try:
            stored = {
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM lab_results WHERE id = ANY($1::text[])", list(acknowledged)
                )
            }
        finally:
            await conn.close()
        assert len(acknowledged) == 2 * len(run.created)
        assert stored == acknowledged
