"""Read latency of the staff pages on the 100x trial (``bench/scale/generate.py``).

Usage: .venv/bin/python bench/scale/bench_scale.py [--safety-db captem_scale_safety]
           [--pro-db captem_scale_pro] [--requests 200] [--json PATH] [--no-explain]

The safety_api app runs in-process behind httpx.ASGITransport (outbox dispatcher disabled) on
the scale databases. For each endpoint, after a short warm-up, one client sends ``--requests``
requests one after another (site staff rotate over the 50 sites; subjects are drawn at random)
and p50/p99 are reported against the 100 ms target. Then every SELECT one request of each
endpoint sends is captured (SQLAlchemy ``before_cursor_execute``) and run again under
``EXPLAIN (ANALYZE, BUFFERS)``; the plan is printed with a line saying which scan each large
table got (Index / Index Only / Bitmap Index Scan, or Seq Scan). It prints; it does not fail.
Not part of ``make bench``: ``make scale`` runs the generator, then this.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common.app import settle_heap  # noqa: E402
from services.common.settings import Settings, normalise_database_url  # noqa: E402
from services.safety_api.app import create_app  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
TARGET_MS = 100.0
CUTOFF = (dt.date.today() - dt.timedelta(days=365)).isoformat()
LARGE_TABLES = ("lab_results", "adverse_events", "symptom_reports")
OTHER_TABLES = ("alerts", "alert_notifications", "outbox_messages", "subjects")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Bench:
    def __init__(
        self, app: Any, client: httpx.AsyncClient, sites: list[str], subjects: list[tuple[str, str]]
    ) -> None:
        self.app, self.client, self.sites, self.subjects = app, client, sites, subjects
        tokens = app.state.tokens
        self.staff = {
            s: {
                "Authorization": "Bearer "
                + tokens.mint(
                    role="site_staff", sub=f"staff-{s}", audience="safety_api", site=s, ttl_s=7200
                )
            }
            for s in sites
        }
        self.monitor = {
            "Authorization": "Bearer "
            + tokens.mint(role="monitor", sub="monitor", audience="safety_api", ttl_s=7200)
        }
        self.rng = random.Random(8)

    # Each case: a function giving (path, headers) for request number i.
    def cases(self) -> dict[str, Callable[[int], tuple[str, dict[str, str]]]]:
        sites = self.sites

        def ae_page(i: int) -> tuple[str, dict[str, str]]:
            subject, site = self.rng.choice(self.subjects)
            return f"/v1/subjects/{subject}/adverse-events", self.staff[site]

        return {
            "alerts.open.site_staff": lambda i: (
                "/v1/alerts?status=open",
                self.staff[sites[i % len(sites)]],
            ),
            "alerts.open.monitor": lambda i: ("/v1/alerts?status=open", self.monitor),
            "subject.adverse_events.site_staff": ae_page,
            "reports.toxicity.hepatic.site_staff": lambda i: (
                "/v1/reports/toxicity?category=hepatic",
                self.staff[sites[i % len(sites)]],
            ),
            "reports.toxicity.hepatic.monitor": lambda i: (
                "/v1/reports/toxicity?category=hepatic",
                self.monitor,
            ),
            # A DSMB cut-off a year back: about half the two years of occurrences count.
            "reports.toxicity.hepatic.monitor.data_cutoff": lambda i: (
                f"/v1/reports/toxicity?category=hepatic&data_cutoff={CUTOFF}",
                self.monitor,
            ),
            "reports.edish.site_staff": lambda i: (
                "/v1/reports/edish",
                self.staff[sites[i % len(sites)]],
            ),
        }

    async def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        response = await self.client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response

    async def measure(
        self, name: str, make: Callable[[int], tuple[str, dict[str, str]]], n: int
    ) -> dict[str, Any]:
        for i in range(5):  # warm-up: connections, statement caches
            await self.get(*make(i))
        timings, size = [], 0
        for i in range(n):
            path, headers = make(i)
            started = time.perf_counter()
            response = await self.get(path, headers)
            timings.append((time.perf_counter() - started) * 1000)
            size += len(response.content)
        p50, p99 = statistics.median(timings), percentile(timings, 99)
        return {
            "name": name,
            "p50": p50,
            "p99": p99,
            "max": max(timings),
            "n": n,
            "bytes": size // n,
        }


async def capture_sql(app: Any, call: Awaitable[Any]) -> list[tuple[str, Any]]:
    """The SELECT statements (driver SQL and parameters) one request sends."""
    captured: list[tuple[str, Any]] = []
    sync_engine = app.state.db.engine.sync_engine

    def listen(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    event.listen(sync_engine, "before_cursor_execute", listen)
    try:
        await call
    finally:
        event.remove(sync_engine, "before_cursor_execute", listen)
    return captured


SCAN = re.compile(r"(?<!Bitmap )(Seq Scan|Index Only Scan|Index Scan)(?: using (\S+))? on (\w+)")
BITMAP_HEAP = re.compile(r"Bitmap Heap Scan on (\w+)")
BITMAP_INDEX = re.compile(r"Bitmap Index Scan on (\w+)")


def scans_of(plan: str) -> dict[str, set[str]]:
    """Per table, how the plan reads it ("Index Scan ix_...", "Seq Scan", ...)."""
    found: dict[str, set[str]] = {}
    heap_table = None  # a Bitmap Index Scan feeds the Bitmap Heap Scan above it
    for line in plan.splitlines():
        if match := BITMAP_HEAP.search(line):
            heap_table = match.group(1)
        elif (match := BITMAP_INDEX.search(line)) and heap_table:
            found.setdefault(heap_table, set()).add(f"Bitmap Index Scan {match.group(1)}")
        for kind, index, table in SCAN.findall(line):
            found.setdefault(table, set()).add(f"{kind}{' ' + index if index else ''}")
    return found


async def explain(app: Any, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    out = []
    async with app.state.db.engine.connect() as conn:
        for statement, parameters in statements:
            if not any(t in statement for t in (*LARGE_TABLES, *OTHER_TABLES)):
                continue
            result = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            plan = "\n".join(row[0] for row in result)
            out.append({"sql": statement, "plan": plan, "scans": scans_of(plan)})
        await conn.rollback()
    return out


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    safety_url = normalise_database_url(f"{SERVER}/{args.safety_db}")
    pro_url = normalise_database_url(f"{SERVER}/{args.pro_db}")
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            env="test",
            jwt_secret="bench-secret-" + "x" * 40,
            data_dir=Path(directory),
            safety_database_url=safety_url,
            pro_database_url=pro_url,
            dispatcher_enabled=False,
        )
        app = create_app(settings)
        settle_heap()  # as `captem serve` does
        async with app.router.lifespan_context(app):
            async with app.state.db.engine.connect() as conn:
                sites = [r[0] for r in await conn.execute(text("SELECT id FROM sites ORDER BY id"))]
                subjects = [
                    (r[0], r[1])
                    for r in await conn.execute(
                        text("SELECT id, site_id FROM subjects ORDER BY id")
                    )
                ]
                counts = {
                    t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar()
                    for t in (*LARGE_TABLES, "alerts")
                }
            print("rows: " + ", ".join(f"{t} {c:,}" for t, c in counts.items()), flush=True)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", timeout=60
            ) as client:
                bench = Bench(app, client, sites, subjects)
                results = []
                for name, make in bench.cases().items():
                    result = await bench.measure(name, make, args.requests)
                    results.append(result)
                    verdict = "PASS" if result["p99"] < TARGET_MS else "FAIL"
                    print(
                        f"  {name}: p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms "
                        f"({verdict}; {result['bytes']:,} bytes/response)",
                        flush=True,
                    )
                print(
                    "\n| endpoint | p50 ms | p99 ms | target ms | verdict |\n|---|---|---|---|---|"
                )
                for r in results:
                    verdict = "PASS" if r["p99"] < TARGET_MS else "FAIL"
                    print(
                        f"| {r['name']} | {r['p50']:.1f} | {r['p99']:.1f} | {TARGET_MS:.0f} "
                        f"| {verdict} |"
                    )
                if not args.no_explain:
                    print("\n## Query plans (EXPLAIN ANALYZE, BUFFERS), one request per endpoint")
                    summary = []
                    for name, make in bench.cases().items():
                        path, headers = make(0)
                        statements = await capture_sql(app, bench.get(path, headers))
                        plans = await explain(app, statements)
                        print(f"\n### {name}: GET {path}")
                        for p in plans:
                            print("\n" + p["sql"].strip() + "\n" + p["plan"])
                            for table, kinds in sorted(p["scans"].items()):
                                uses_index = any("Index" in k for k in kinds)
                                large = table in LARGE_TABLES
                                line = (
                                    f"{name}: {table}: {', '.join(sorted(kinds))} -> "
                                    f"{'index used' if uses_index else 'NO INDEX'}"
                                    f"{'' if large else ' (small table)'}"
                                )
                                summary.append(line)
                                print(">> " + line)
                    print("\n## Plan summary")
                    for line in summary:
                        print("  " + line)
    return [
        {
            "benchmark": f"scale.{r['name']}.{stat}",
            "value": round(r[stat], 2),
            "unit": "ms",
            "target": f"< {TARGET_MS:.0f} ms" if stat == "p99" else None,
            "requests": r["n"],
        }
        for r in results
        for stat in ("p50", "p99")
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--safety-db", default="captem_scale_safety")
    parser.add_argument("--pro-db", default="captem_scale_pro")
    parser.add_argument("--requests", type=int, default=200, help="per endpoint")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--no-explain", action="store_true", help="skip the query plans")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
