"""Lab ingestion throughput, JSON and FHIR Bundle, in lab results per second, beside a ceiling.

Usage: .venv/bin/python bench/bench_ingestion.py [--seconds 8] [--batch 100] [--json PATH]

For SQLite (a temporary file) and, when 127.0.0.1:5432 answers, PostgreSQL (a temporary
database created with asyncpg, migrated, dropped afterwards): the safety_api app runs
in-process behind httpx.ASGITransport (outbox dispatcher disabled) and one client posts
100-result batches one after another for a fixed time, each batch for its own subject, by two
paths in turn:

- ``labs.ingest.<backend>``: ``POST /v1/labs`` (JSON), each 201;
- ``labs.ingest_fhir_bundle.<backend>``: ``POST /fhir`` with the same results as a FHIR R4
  ``Bundle`` of type ``batch`` (``application/fhir+json``), one ``POST Observation`` entry per
  result (LOINC, valueQuantity in UCUM, referenceRange low/high, subject identifier,
  effectiveDateTime); every entry of the batch-response must be ``201 Created``. An
  Observation has no place for the JSON workload's per-result ``baseline`` and
  ``anticoagulated`` (about 3 % of results), so those few are graded without them.

Any other answer stops the benchmark. Every request authenticates, checks scope, grades, stores
the results and their AE occurrences, writes the audit events and commits.

The ceiling, shared by both figures of a backend, is measured in the same run on the same
database: the same rows (already graded) inserted with bare SQLAlchemy Core ``executemany`` into
lab_results and adverse_events, one transaction per batch. The ratio says how much of the
database's own insert speed each HTTP path keeps.
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
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_grading import build_workload
from benchlib import postgres_answers, temporary_database

from services.common import migrate
from services.common.app import settle_heap
from services.common.db import create_engine, utcnow
from services.common.fhir import FHIR_JSON
from services.common.settings import Settings
from services.safety_api.adverse_events.recording import category_of
from services.safety_api.app import create_app
from services.safety_api.ctcae import grade_lab
from services.safety_api.ctcae.rules import lab_rules
from services.safety_api.labs.fhir import LOINC, OBSERVATION_CATEGORY, UCUM
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


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def observation(lab: dict[str, Any], subject_id: str, collected: str) -> dict[str, Any]:
    """A JSON-path result as the FHIR R4 lab Observation a feed would send (its analyte's first
    LOINC code; ``baseline`` and ``anticoagulated`` have no place in it)."""
    limits = {side: lab[f"ref_{side}"] for side in ("low", "high")}
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": {
            "coding": [{"system": LOINC, "code": lab_rules().analytes[lab["analyte"]].loinc[0]}]
        },
        "subject": {"identifier": {"value": subject_id}},
        "effectiveDateTime": collected,
        "valueQuantity": _quantity(lab["value"], lab["unit"]),
    }
    range_ = {side: _quantity(v, lab["unit"]) for side, v in limits.items() if v is not None}
    if range_:
        resource["referenceRange"] = [range_]
    return resource


def json_request(body: dict[str, Any]) -> dict[str, Any]:
    return {"url": "/v1/labs", "json": body}


def fhir_request(body: dict[str, Any]) -> dict[str, Any]:
    """A ``/v1/labs`` body as the httpx arguments posting it as a FHIR ``batch`` Bundle."""
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": observation(lab, body["subject_id"], body["collected_at"]),
            "request": {"method": "POST", "url": "Observation"},
        }
        for lab in body["results"]
    ]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": entries}
    return {"url": "/fhir", "json": bundle, "headers": {"Content-Type": FHIR_JSON}}


def check_json(response: httpx.Response, size: int) -> None:
    if response.status_code != 201:
        raise RuntimeError(f"POST /v1/labs answered {response.status_code}: {response.text}")


def check_fhir(response: httpx.Response, size: int) -> None:
    entries = response.json().get("entry", []) if response.status_code == 200 else []
    failed = [e["response"] for e in entries if e["response"]["status"] != "201 Created"]
    if response.status_code != 200 or len(entries) != size or failed:
        detail = json.dumps(failed[0]) if failed else response.text[:2000]
        raise RuntimeError(
            f"POST /fhir answered {response.status_code} with {len(entries)} entries for "
            f"{size} Observations, {len(failed)} not 201 Created; first: {detail}"
        )


@dataclass(frozen=True, slots=True)
class Route:
    """One way in for the same batches: how a ``/v1/labs`` body is posted, and how the answer
    must look (anything else raises: a benchmark that measures errors is worthless)."""

    benchmark: str
    label: str
    subjects: str  # subject ID prefix, after the site's
    request: Callable[[dict[str, Any]], dict[str, Any]]
    check: Callable[[httpx.Response, int], None]


ROUTES = (
    Route("labs.ingest", "POST /v1/labs", "json", json_request, check_json),
    Route("labs.ingest_fhir_bundle", "POST /fhir (Bundle batch)", "fhir", fhir_request, check_fhir),
)


async def measure_api(
    app: Any,
    client: httpx.AsyncClient,
    ehr: dict[str, str],
    route: Route,
    size: int,
    seconds: float,
) -> tuple[float, int]:
    """(results per second, batches posted) through the whole HTTP stack."""
    work = batches(400, size, f"{SITE}-{route.subjects}")
    await add_subjects(app, [body["subject_id"] for body in work])
    requests = [route.request(body) for body in work]

    async def post(request: dict[str, Any]) -> None:
        headers = {**request.get("headers", {}), **ehr}
        response = await client.post(request["url"], json=request["json"], headers=headers)
        route.check(response, size)

    for request in requests[:3]:  # warm-up: connections, caches, compiled statements
        await post(request)
    posted, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        await post(requests[(posted + 3) % len(requests)])
        posted += 1
    return posted * size / (time.perf_counter() - started), posted


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


async def run_backend(backend: str, size: int, seconds: float) -> list[dict[str, Any]]:
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
            settle_heap()  # as `captem serve` does
            async with app.router.lifespan_context(app):
                measured = await measure_routes(app, size, seconds)
                ceiling = await measure_ceiling(app, size, max(n for _, _, n in measured))
    return [
        {
            "benchmark": f"{route.benchmark}.{backend}",
            "value": round(value, 1),
            "unit": "results/s",
            "ceiling": round(ceiling, 1),
            "ratio": round(value / ceiling, 3),
            "batch_size": size,
            "batches": posted,
        }
        for route, value, posted in measured
    ]


async def measure_routes(app: Any, size: int, seconds: float) -> list[tuple[Route, float, int]]:
    """(route, results per second, batches posted) for each route in turn, on one app."""
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
        if put.status_code not in (200, 201):
            raise RuntimeError(f"PUT /v1/sites/{SITE} answered {put.status_code}: {put.text}")
        return [
            (route, *await measure_api(app, client, ehr, route, size, seconds)) for route in ROUTES
        ]


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    backends = ["sqlite"] + (["postgres"] if postgres_answers() else [])
    figures = []
    for backend in backends:
        for route, figure in zip(
            ROUTES, await run_backend(backend, args.batch, args.seconds), strict=True
        ):
            figures.append(figure)
            print(
                f"{figure['benchmark']}: {figure['value']:,.0f} results/s via {route.label} "
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
