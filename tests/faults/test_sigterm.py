"""SIGTERM to a real `captem serve safety_api` process (as Docker or Kubernetes stop it) while
requests are in flight and its outbox dispatcher holds claims on webhook messages.

What it proves: requests the process had accepted complete with 201 and are stored (uvicorn's
graceful shutdown drains them); the process then exits by itself, cleanly; and the outbox
messages its dispatcher had claimed (their deliveries hung on a slow receiver) are released —
``claimed_by``/``claimed_until`` cleared, still pending, attempts not used up — so another replica
can deliver them at once instead of waiting out the lease.

PostgreSQL only: "in flight" is made deterministic by holding a lock the lab inserts wait on and
counting the waiting backends in ``pg_stat_activity`` before the signal is sent.
"""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg
import httpx
import pytest

from tests.faults.conftest import serve, service_env, wait_exit
from tests.safety_api.alerting.conftest import SECRET, alt, at
from tests.support.databases import migrated_databases
from tests.support.factories import new_site_id
from tests.support.receiver import running_receiver
from tests.support.tokens import TokenFactory

IN_FLIGHT = 12  # below the service's connection pool (10 + 10 overflow)
ALERTING_SUBJECTS = 1  # one grade 3 ALT: two alert events, claimed in one batch


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def lock_waiters(conn: asyncpg.Connection, database: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            database,
        )
    )


async def test_sigterm_drains_in_flight_requests_and_releases_outbox_claims(
    backend, tmp_path, tokens: TokenFactory
) -> None:
    if backend != "postgres":
        pytest.skip("in-flight requests are held on a PostgreSQL lock")
    async with (
        migrated_databases(backend, "sigterm", tmp_path) as urls,
        # Every delivery hangs far longer than the dispatcher's shutdown grace (3 s).
        running_receiver(id_header="webhook-id", delay_s=120) as receiver,
    ):
        env = service_env(urls, tmp_path, dispatcher_enabled=True, outbox_http_timeout_s=120)
        database = urls["safety_api"].rsplit("/", 1)[1]
        observer = await asyncpg.connect(plain_dsn(urls["safety_api"]))
        try:
            async with (
                serve("safety_api", env, tmp_path / "safety.log") as (process, base_url),
                httpx.AsyncClient(base_url=base_url, timeout=60) as client,
            ):
                site = new_site_id()
                created = await client.put(
                    f"/v1/sites/{site}",
                    json={"name": "SIGTERM site", "timezone": "UTC"},
                    headers=tokens.headers("trial_admin"),
                )
                assert created.status_code == 201, created.text
                hook = await client.put(
                    f"/v1/sites/{site}/webhook",
                    json={"url": receiver.url, "secret": SECRET},
                    headers=tokens.headers("site_admin", site=site),
                )
                assert hook.status_code == 200, hook.text
                subjects = [f"{site}-{i:04d}" for i in range(IN_FLIGHT)]
                for subject in subjects:
                    put = await client.put(
                        f"/v1/subjects/{subject}",
                        json={"site_id": site, "treatment_start": "2026-01-05"},
                        headers=tokens.headers("site_staff", site=site),
                    )
                    assert put.status_code == 201, put.text
                ehr = tokens.headers("ehr_client", site=site)

                # A grade 3 ALT: alerts whose webhooks the dispatcher claims and then hangs on.
                for subject in subjects[:ALERTING_SUBJECTS]:
                    response = await client.post(
                        "/v1/labs",
                        json={
                            "subject_id": subject,
                            "collected_at": at_day(),
                            "results": [alt(250)],
                        },
                        headers=ehr,
                    )
                    assert response.status_code == 201, response.text
                deadline = time.monotonic() + 15
                while len(receiver.seen) < 2 * ALERTING_SUBJECTS:
                    assert time.monotonic() < deadline, "the webhooks never reached the receiver"
                    await asyncio.sleep(0.05)
                claimed = await observer.fetch(
                    "SELECT id FROM outbox_messages WHERE status = 'pending'"
                    " AND claimed_by IS NOT NULL"
                )
                assert len(claimed) == 2 * ALERTING_SUBJECTS, "the dispatcher holds no claims"

                # In flight: lab posts that are inside the service, waiting on a lock we hold.
                locker = await asyncpg.connect(plain_dsn(urls["safety_api"]))
                transaction = locker.transaction()
                await transaction.start()
                await locker.execute("LOCK TABLE lab_results IN SHARE MODE")
                in_flight = [
                    asyncio.create_task(
                        client.post(
                            "/v1/labs",
                            json={
                                "subject_id": subject,
                                "collected_at": at_day(),
                                "results": [alt(30)],
                            },
                            headers=ehr,
                        )
                    )
                    for subject in subjects
                ]
                try:
                    deadline = time.monotonic() + 15
                    while await lock_waiters(observer, database) < IN_FLIGHT:
                        assert time.monotonic() < deadline, "requests never reached the database"
                        await asyncio.sleep(0.05)

                    process.send_signal(signal.SIGTERM)
                    await asyncio.sleep(1.0)
                    assert process.poll() is None, "the process exited with requests in flight"
                finally:
                    await transaction.commit()
                    await locker.close()
                responses = await asyncio.gather(*in_flight)
                assert [r.status_code for r in responses] == [201] * IN_FLIGHT, [
                    r.text for r in responses if r.status_code != 201
                ]
                # It stops by itself: drained requests, then the dispatcher's grace, then exit.
                code = await wait_exit(process, 30)
                # uvicorn re-raises the SIGTERM it handled once shutdown is complete.
                assert code in (0, -signal.SIGTERM), code

            stored = await observer.fetchval(
                "SELECT count(*) FROM lab_results WHERE subject_id = ANY($1::text[])", subjects
            )
            assert stored == ALERTING_SUBJECTS + IN_FLIGHT
            messages = await observer.fetch(
                "SELECT status, attempts, claimed_by, claimed_until FROM outbox_messages"
                " WHERE id = ANY($1::text[])",
                [r["id"] for r in claimed],
            )
            assert len(messages) == 2 * ALERTING_SUBJECTS
            for message in messages:
                assert message["status"] == "pending"
                assert message["claimed_by"] is None and message["claimed_until"] is None
                assert message["attempts"] == 0  # an interrupted delivery does not count
        finally:
            await observer.close()
        assert all(count == 0 for count in receiver.accepted.values())


def at_day() -> str:
    import datetime as dt

    return at(dt.date.today() - dt.timedelta(days=2))
