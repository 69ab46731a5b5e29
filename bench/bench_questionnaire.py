"""Questionnaire submission under load: 51-answer EORTC NET responses posted by 50 concurrent
clients to ``POST /v1/me/questionnaire-responses``; p50/p99 latency and throughput, on SQLite
and (when 127.0.0.1:5432 answers) PostgreSQL.

Usage: .venv/bin/python bench/bench_questionnaire.py [--clients 50] [--submissions 1000]
       [--json PATH]

The ceiling is measured in the same run with the same settings: a bare FastAPI app on the same
database engine whose one endpoint inserts one JSON row per request (no auth, no validation,
no scoring, no audit). Both run in-process behind httpx.ASGITransport, so the figures compare
the application's work, not the network stack. Each submission is a real patient's baseline
(one per patient: a timepoint is submitted once), with an Idempotency-Key, authenticated by a
patient token; the service validates the answers, checks the window, scores, audits and commits.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import postgres_answers, temporary_database

from services.common import migrate
from services.common.app import settle_heap
from services.common.auth import Role
from services.common.db import Database, create_engine, utcnow
from services.common.settings import Settings
from services.pro_api.app import create_app
from services.pro_api.models import Patient

SITE = "961"
ANSWERS = {str(item): (4 if item in (29, 30) else 2) for item in range(1, 52)}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction + 0.5) - 1)]


async def drive(
    client: httpx.AsyncClient, requests: list[tuple[str, dict[str, str], Any]], clients: int
) -> tuple[list[float], float]:
    queue: asyncio.Queue[tuple[str, dict[str, str], Any]] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            url, headers, body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(url, headers=headers, json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - started


def summary(name: str, latencies: list[float], elapsed: float) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "per_s": round(len(latencies) / elapsed, 1),
    }


async def measure_service(url: str, tmp: Path, clients: int, submissions: int) -> dict[str, float]:
    settings = Settings(
        env="test",
        jwt_secret="q" * 40,
        data_dir=tmp,
        pro_database_url=url,
        safety_database_url=url,
        dispatcher_enabled=False,
    )
    app = create_app(settings)
    settle_heap()  # as `captem serve` does
    tokens = app.state.tokens
    admin = {
        "Authorization": "Bearer " + tokens.mint(role=Role.TRIAL_ADMIN, sub="b", audience="pro_api")
    }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            await client.put(
                f"/v1/sites/{SITE}", headers=admin, json={"name": "bench", "timezone": "UTC"}
            )
            today = dt.date.today()
            patients = [str(uuid.uuid4()) for _ in range(submissions)]
            async with app.state.db.sessionmaker() as session:
                now = utcnow()
                session.add_all(
                    Patient(
                        id=pid,
                        subject_id=f"{SITE}-{i:05d}",
                        site_id=SITE,
                        timezone="UTC",
                        language="en",
                        treatment_start=today + dt.timedelta(days=3),
                        enrolled_on=today,
                        regimen={"capecitabine_mg": 1500, "temozolomide_mg": 300},
                        tare_dates=[],
                        status="active",
                        created_at=now,
                        updated_at=now,
                    )
                    for i, pid in enumerate(patients)
                )
                await session.commit()
            requests = [
                (
                    "/v1/me/questionnaire-responses",
                    {
                        "Authorization": "Bearer "
                        + tokens.mint(
                            role=Role.PATIENT,
                            sub=pid,
                            site=SITE,
                            pid=pid,
                            audience="pro_api",
                            ttl_s=3600,
                        ),
                        "Idempotency-Key": str(uuid.uuid4()),
                    },
                    {"instrument": "eortc-net", "timepoint": "baseline", "answers": ANSWERS},
                )
                for pid in patients
            ]
            latencies, elapsed = await drive(client, requests, clients)
    return summary("service", latencies, elapsed)


async def measure_ceiling(url: str, clients: int, submissions: int) -> dict[str, float]:
    metadata = MetaData()
    table = Table(
        "bench_rows",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("key", String(64)),
        Column("body", JSON),
    )
    db = Database.connect(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    bare = FastAPI()

    @bare.post("/rows", status_code=201)
    async def insert_row(body: dict[str, Any]) -> dict[str, bool]:
        async with db.sessionmaker() as session:
            await session.execute(table.insert().values(key=str(uuid.uuid4()), body=body))
            await session.commit()
        return {"ok": True}

    transport = httpx.ASGITransport(app=bare)
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
        body = {"instrument": "eortc-net", "timepoint": "baseline", "answers": ANSWERS}
        latencies, elapsed = await drive(client, [("/rows", {}, body)] * submissions, clients)
    await db.dispose()
    return summary("ceiling", latencies, elapsed)


async def run(backend: str, clients: int, submissions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with temporary_database(backend, Path(tmp)) as url:
            engine = create_engine(url)
            await migrate.upgrade(engine, "pro_api")
            await engine.dispose()
            service = await measure_service(url, Path(tmp), clients, submissions)
            ceiling = await measure_ceiling(url, clients, submissions)
    ratio = service["per_s"] / ceiling["per_s"]
    print(
        f"questionnaire submit [{backend}], {clients} clients: {service['per_s']:.0f}/s "
        f"(p50 {service['p50_ms']} ms, p99 {service['p99_ms']} ms); bare insert ceiling "
        f"{ceiling['per_s']:.0f}/s (p50 {ceiling['p50_ms']} ms, p99 {ceiling['p99_ms']} ms); "
        f"ratio {ratio:.2f}"
    )
    return {
        "benchmark": f"questionnaire.submit.{backend}.{clients}clients",
        "value": service["per_s"],
        "unit": "responses/s",
        "ceiling": ceiling["per_s"],
        "ratio": round(ratio, 2),
        "p50_ms": service["p50_ms"],
        "p99_ms": service["p99_ms"],
        "ceiling_p50_ms": ceiling["p50_ms"],
        "ceiling_p99_ms": ceiling["p99_ms"],
        "clients": clients,
        "submissions": submissions,
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    backends = ["sqlite", "postgres"] if postgres_answers() else ["sqlite"]
    figures = [
        await run(backend, clients, args.submissions)
        for clients in args.clients
        for backend in backends
    ]
    if "postgres" not in backends:
        print("PostgreSQL at 127.0.0.1:5432 is not answering; PostgreSQL figure skipped")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # 50 concurrent clients (issue 5) and 64 (issue 8's load figure).
    parser.add_argument(
        "--clients", type=lambda v: [int(c) for c in v.split(",")], default=[50, 64]
    )
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
