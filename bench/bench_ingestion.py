"""``POST /v1/labs`` ingestion throughput, in lab results per second, beside a ceiling.

Usage: .venv/bin/python bench/bench_ingestion.py [--seconds 8] [--batch 100] [--json PATH]

For SQLite (a temporary file) and, when 127.0.0.1:5432 answers, PostgreSQL (a temporary
database created with asyncpg, migrated, dropped afterwards): the safety_api app runs
in-process behind httpx.ASGITransport (outbox dispatcher disabled) and one client posts
100-result batches one after another for a fixed time; every request authenticates, checks
scope, grades, stores the results and their AE occurrences, writes the audit event and commits.

The ceiling is measured in the same run on the same database: the same rows (already graded)
inserted with bare SQLAlchemy Core ``executemany`` into lab_results and adverse_events, one
transaction per batch. The ratio says how much of the database's own insert speed the HTTP
layer keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_grading import build_workload
from benchlib import postgres_answers, temporary_database

from services.common import migrate
from services.common.db import create_engine, utcnow
from services.common.settings import Settings
from services.safety_api.adverse_events.recording import category_of
from services.safety_api.app import create_app
from services.safety_api.ctcae import grade_lab
from services.safety_api.models import AdverseEvent, LabResult, Subject

SITE = "901"


async def add_subjects(app: Any, subject_ids: list[str]) -> None:
    async with app.state.db.sessionmaker() as session:
        now = utcnow()
        session.add_all(
            Subject(
                id=subject_id,
                site_id=SITE,
                treatment_start=dt.date(2026, 1, 5),
                tare_dates=[],
                cycle_starts=[],
                baseline={},
                created_at=now,
                updated_at=now,
            )
            for subject_id in subject_ids
        )
        await session.commit()


def batches(count: int, size: int, subject_prefix: str) -> list[dict[str, Any]]:
    """``count`` batches, each for its own subject, as a lab feed sends results patient by
    patient (one subject receiving every batch would make its alert evidence grow without end,
    which no real subject's record does)."""
    labs = build_workload(count * size)
    collected = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    return [
        {
            "subject_id": f"{subject_prefix}-{i // size:05d}",
            "collected_at": collected,
            "results": labs[i : i + size],
        }
        for i in range(0, count * size, size)
    ]


async def measure_api(app: Any, size: int, seconds: float) -> tuple[float, int]:
    """(results per second, batches posted) through the whole HTTP stack."""
    tokens = app.state.tokens
    admin = {
        "Authorization": "Bearer "
        + tokens.mint(role="trial_admin", sub="bench", audience="safety_api")
    }
    ehr = {
        "Authorization": "Bearer "
        + tokens.mint(role="ehr_client", sub="bench", audience="safety_api", site=SITE, ttl_s=3600)
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        put = await client.put(
            f"/v1/sites/{SITE}", json={"name": "Bench", "timezone": "UTC"}, headers=admin
        )
        assert put.status_code in (200, 201), put.text
        work = batches(400, size, f"{SITE}-api")
        await add_subjects(app, [body["subject_id"] for body in work])
        for body in work[:3]:  # warm-up: connections, caches, compiled statements
            response = await client.post("/v1/labs", json=body, headers=ehr)
            assert response.status_code == 201, response.text
        posted, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            body = work[(posted + 3) % len(work)]
            response = await client.post("/v1/labs", json=body, headers=ehr)
            assert response.status_code == 201, response.text
            posted += 1
        elapsed = time.perf_counter() - started
    return posted * size / elapsed, posted


def ceiling_rows(
    size: int, subject_prefix: str
) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Pre-graded rows for lab_results and adverse_events, batch by batch."""
    now = utcnow()
    out = []
    for body in batches(50, size, subject_prefix):
        subject_id = body["subject_id"]
        labs, events = [], []
        for lab in body["results"]:
            result = grade_lab(**lab)
            lab_id = str(uuid.uuid4())
            labs.append(
                {
                    "id": lab_id,
                    "subject_id": subject_id,
                    "site_id": SITE,
                    "collected_at": now,
                    "received_at": now,
                    "analyte": lab["analyte"],
                    "loinc": None,
                    "value": Decimal(str(lab["value"])),
                    "unit": lab["unit"],
                    "ref_low": Decimal(str(lab["ref_low"])),
                    "ref_high": Decimal(str(lab["ref_high"])),
                    "baseline_value": None,
                    "anticoagulated": bool(lab.get("anticoagulated")),
                    "source": "json",
                    "source_id": None,
                    "term": result.term if result else None,
                    "meddra_code": result.meddra_code if result else None,
                    "grade": result.grade if result else None,
                    "direction": result.direction if result else None,
                    "x_uln": result.x_uln.quantize(Decimal("0.000001"))
                    if result and result.x_uln is not None
                    else None,
                    "criteria": result.criteria if result else None,
                    "needs_clinical_assessment": bool(result and result.needs_clinical_assessment),
                }
            )
            if result is not None:
                events.append(
                    {
                        "id": str(uuid.uuid4()),
                        "subject_id": subject_id,
                        "site_id": SITE,
                        "term": result.term,
                        "meddra_code": result.meddra_code,
                        "category": category_of(result.meddra_code),
                        "grade": result.grade,
                        "occurred_at": now,
                        "cycle": 1,
                        "source_kind": "lab",
                        "source_id": lab_id,
                        "patient_reported": False,
                        "needs_clinical_assessment": result.needs_clinical_assessment,
                    }
                )
        out.append((labs, events))
    return out


async def measure_ceiling(app: Any, size: int, batch_count: int) -> float:
    """Results per second for bare Core executemany of the same rows, one commit per batch."""
    work = ceiling_rows(size, f"{SITE}-core")
    await add_subjects(app, [labs[0]["subject_id"] for labs, _ in work])
    labs_table, events_table = LabResult.__table__, AdverseEvent.__table__  # type: ignore[attr-defined]
    engine = app.state.db.engine
    count = max(batch_count, 10)
    started = time.perf_counter()
    for i in range(count):
        labs, events = work[i % len(work)]
        if i >= len(work):  # fresh primary keys for repeated batches
            labs = [{**row, "id": str(uuid.uuid4())} for row in labs]
            ids = iter(row["id"] for row in labs if row["grade"] is not None)
            events = [{**e, "id": str(uuid.uuid4()), "source_id": next(ids)} for e in events]
        async with engine.begin() as conn:
            await conn.execute(labs_table.insert(), labs)
            if events:
                await conn.execute(events_table.insert(), events)
    return count * size / (time.perf_counter() - started)


async def run_backend(backend: str, size: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        async with temporary_database(backend, Path(directory)) as url:
            engine = create_engine(url)
            try:
                await migrate.upgrade(engine, "safety_api")
            finally:
                await engine.dispose()
            settings = Settings(
                env="test",
                jwt_secret="bench-secret-" + "x" * 40,
                data_dir=Path(directory),
                safety_database_url=url,
                pro_database_url=f"sqlite+aiosqlite:///{Path(directory) / 'unused.sqlite3'}",
                dispatcher_enabled=False,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                value, posted = await measure_api(app, size, seconds)
                ceiling = await measure_ceiling(app, size, posted)
    return {
        "benchmark": f"labs.ingest.{backend}",
        "value": round(value, 1),
        "unit": "results/s",
        "ceiling": round(ceiling, 1),
        "ratio": round(value / ceiling, 3),
        "batch_size": size,
        "batches": posted,
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    backends = ["sqlite"] + (["postgres"] if postgres_answers() else [])
    figures = []
    for backend in backends:
        figure = await run_backend(backend, args.batch, args.seconds)
        figures.append(figure)
        print(
            f"{figure['benchmark']}: {figure['value']:,.0f} results/s via POST /v1/labs "
            f"({args.batch}-result batches, {figure['batches']} batches); ceiling (Core "
            f"executemany) {figure['ceiling']:,.0f} results/s; ratio {figure['ratio']:.2f}",
            flush=True,
        )
    if len(backends) == 1:
        print("postgres: 127.0.0.1:5432 did not answer; skipped", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8.0, help="API timing per backend")
    parser.add_argument("--batch", type=int, default=100, help="results per request")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
