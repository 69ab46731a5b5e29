"""Alert end-to-end latency: from a ``POST /v1/labs`` that returns to the signed webhook
arriving at a local receiver. Target: p99 <= 1 s on PostgreSQL.

Usage: .venv/bin/python bench/bench_alert_latency.py [--alerts 200] [--json PATH]

safety_api runs in-process (httpx.ASGITransport) with its outbox dispatcher on, woken by
PostgreSQL LISTEN/NOTIFY (and in-process on commit); the receiver is a real HTTP server on
127.0.0.1 that verifies each Standard Webhooks signature. Each lab post is for a new subject and
carries a grade-3 ALT, which raises one hepatic_grade alert (and a worsening alert); latency is
measured to the arrival of that subject's ``alert.created`` for hepatic_grade. Posts are spaced
20 ms apart so the figure is latency, not queueing behind a burst.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import postgres_answers, temporary_database

from services.common import migrate
from services.common.app import settle_heap
from services.common.auth import Role
from services.common.db import create_engine, utcnow
from services.common.settings import Settings
from services.common.webhooks import signed_headers
from services.safety_api.app import create_app
from services.safety_api.models import Subject

SITE = "951"
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bad_signatures = 0
        self.webhook = Webhook(SECRET)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        try:
            payload = self.webhook.verify(body, dict(request.headers))
        except Exception:
            self.bad_signatures += 1
            return Response(status_code=400)
        data = payload["data"]
        if payload["type"] == "alert.created" and data["rule"] == "hepatic_grade":
            self.arrived.setdefault(data["subject_id"], time.perf_counter())
        return Response(status_code=204)


async def run(backend: str, alerts: int) -> dict[str, Any]:
    receiver = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])]),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        async with temporary_database(backend, Path(tmp)) as url:
            engine = create_engine(url)
            await migrate.upgrade(engine, "safety_api")
            await engine.dispose()
            settings = Settings(
                env="test",
                jwt_secret="b" * 40,
                data_dir=Path(tmp),
                safety_database_url=url,
                pro_database_url=url,
                dispatcher_enabled=True,
                escalation_interval_s=3600,
            )
            app = create_app(settings)
            settle_heap()  # as `captem serve` does
            tokens = app.state.tokens
            admin = {
                "Authorization": "Bearer "
                + tokens.mint(role=Role.TRIAL_ADMIN, sub="b", audience="safety_api")
            }
            site_admin = {
                "Authorization": "Bearer "
                + tokens.mint(role=Role.SITE_ADMIN, sub="b", site=SITE, audience="safety_api")
            }
            ehr = {
                "Authorization": "Bearer "
                + tokens.mint(
                    role=Role.EHR_CLIENT, sub="lab", site=SITE, audience="safety_api", ttl_s=3600
                )
            }
            latencies: list[float] = []
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    await client.put(
                        f"/v1/sites/{SITE}",
                        headers=admin,
                        json={"name": "bench", "timezone": "UTC"},
                    )
                    await client.put(
                        f"/v1/sites/{SITE}/webhook",
                        headers=site_admin,
                        json={"url": f"http://127.0.0.1:{port}/hook", "secret": SECRET},
                    )
                    subjects = [f"{SITE}-{i:05d}" for i in range(alerts)]
                    async with app.state.db.sessionmaker() as session:
                        now = utcnow()
                        session.add_all(
                            Subject(
                                id=s,
                                site_id=SITE,
                                treatment_start=dt.date(2026, 1, 5),
                                tare_dates=[],
                                cycle_starts=[],
                                baseline={},
                                created_at=now,
                                updated_at=now,
                            )
                            for s in subjects
                        )
                        await session.commit()
                    returned: dict[str, float] = {}
                    collected = (utcnow() - dt.timedelta(hours=1)).isoformat()
                    for subject in subjects:
                        response = await client.post(
                            "/v1/labs",
                            headers=ehr,
                            json={
                                "subject_id": subject,
                                "collected_at": collected,
                                "results": [
                                    {
                                        "analyte": "ALT",
                                        "value": 250,
                                        "unit": "U/L",
                                        "ref_low": 7,
                                        "ref_high": 40,
                                    }
                                ],
                            },
                        )
                        returned[subject] = time.perf_counter()
                        assert response.status_code == 201, response.text
                        await asyncio.sleep(0.02)
                    deadline = time.perf_counter() + 30
                    while len(receiver.arrived) < alerts and time.perf_counter() < deadline:
                        await asyncio.sleep(0.01)
            latencies = [
                receiver.arrived[s] - returned[s] for s in subjects if s in receiver.arrived
            ]
    server.should_exit = True
    await serving
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    bare = await bare_post_latencies(alerts)
    bare_p50 = statistics.median(bare) * 1000
    bare_p99 = bare[max(0, int(len(bare) * 0.99) - 1)] * 1000
    print(
        f"alert latency [{backend}]: p50 {p50:.1f} ms, p99 {p99:.1f} ms over "
        f"{len(latencies)}/{alerts} alerts (target p99 <= 1000 ms); "
        f"bad signatures: {receiver.bad_signatures}; bare signed POST to a receiver: "
        f"p50 {bare_p50:.1f} ms, p99 {bare_p99:.1f} ms"
    )
    return {
        "benchmark": f"alerts.latency.{backend}",
        "value": round(p99, 1),
        "unit": "ms p99",
        "ceiling": round(bare_p99, 1),
        "ratio": round(p99 / bare_p99, 2),
        "p50_ms": round(p50, 1),
        "ceiling_p50_ms": round(bare_p50, 1),
        "delivered": len(latencies),
        "alerts": alerts,
        "target": "p99 <= 1000 ms",
    }


async def bare_post_latencies(count: int) -> list[float]:
    """The ceiling: the same kind of signed body POSTed straight to a receiver over loopback,
    no database and no outbox (the latency floor of the webhook hop itself)."""
    receiver = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])]),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    body = json.dumps(
        {
            "type": "alert.created",
            "timestamp": utcnow().isoformat(),
            "data": {"subject_id": "x", "rule": "other"},
        }
    )
    timings = []
    async with httpx.AsyncClient() as client:
        for i in range(count):
            started = time.perf_counter()
            await client.post(
                f"http://127.0.0.1:{port}/hook",
                content=body,
                headers=signed_headers(SECRET, f"bare-{i}", body),
            )
            timings.append(time.perf_counter() - started)
    server.should_exit = True
    await serving
    return sorted(timings)


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    figures = [await run("sqlite", args.alerts)]
    if postgres_answers():
        figures.append(await run("postgres", args.alerts))
    else:
        print("PostgreSQL at 127.0.0.1:5432 is not answering; PostgreSQL figure skipped")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
