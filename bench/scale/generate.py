"""Fill PostgreSQL with a realistic trial at 100x size, for the scale benchmark.

Usage: .venv/bin/python bench/scale/generate.py [--safety-db captem_scale_safety]
           [--pro-db captem_scale_pro] [--sites 50] [--subjects-per-site 100] [--panels 20]
           [--diary-days 200] [--seed 8] [--reuse]

Creates (drops first) two databases on 127.0.0.1:5432, migrates them with the services' own
migrations and loads them with COPY (asyncpg ``copy_records_to_table``), safety and pro in
parallel, then VACUUM ANALYZE. What it writes, at the defaults:

- 50 sites (same ids in both databases), 5,000 subjects/patients (100 per site), treatment
  starts spread over the first three months of a two-year window;
- lab_results: 20 panels per subject over two years (a baseline panel before C1D1, then about
  every 5 weeks) of 10 analytes (ALT AST ALP GGT BILI ALB NEUT PLT HGB CREAT) = 1,000,000 rows.
  Values are mostly normal with some grade 1-4; each value comes from a template graded by the
  real CTCAE engine (``grade_lab``), so term, grade, direction and x_uln are consistent;
- adverse_events: one occurrence per graded lab (grade 0 included, as ingestion writes them)
  and per graded symptom field, with cycle numbers; a few percent clinician-reviewed;
- symptom_reports: 20 per subject (diary-forwarded), 100,000 rows;
- alerts: about 3,500 in mixed statuses (open, acknowledged, resolved) with their webhook
  notifications and outbox messages;
- pro_api: patients, 200 diary days each (1,000,000 diary_entries, a few with a second
  version) with their dose lines.

``--reuse`` keeps existing databases that already hold the data and only prints row counts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common import migrate  # noqa: E402
from services.common.db import create_engine  # noqa: E402
from services.common.settings import normalise_database_url  # noqa: E402
from services.safety_api.adverse_events.recording import category_of  # noqa: E402
from services.safety_api.ctcae import grade_lab, grade_symptoms  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
TRIAL_START = dt.date(2024, 11, 4)
UTC = dt.UTC
TIMEZONES = ("Europe/Berlin", "Europe/Paris", "Europe/Amsterdam", "Europe/Rome", "Europe/Madrid")
Q6 = Decimal("0.000001")

# analyte, unit, ref_low, ref_high, value range to sample templates from
ANALYTES: list[tuple[str, str, float, float, tuple[float, float]]] = [
    ("ALT", "U/L", 7, 40, (8, 900)),
    ("AST", "U/L", 8, 35, (9, 700)),
    ("ALP", "U/L", 40, 130, (45, 2000)),
    ("GGT", "U/L", 9, 48, (10, 1500)),
    ("BILI", "mg/dL", 0.1, 1.2, (0.2, 14)),
    ("ALB", "g/dL", 3.5, 5.0, (1.5, 4.9)),
    ("NEUT", "10*9/L", 1.8, 7.7, (0.1, 7.5)),
    ("PLT", "10*3/uL", 150, 400, (10, 390)),
    ("HGB", "g/dL", 12.0, 16.0, (6.0, 15.8)),
    ("CREAT", "mg/dL", 0.6, 1.2, (0.6, 8)),
]
# Per panel and analyte: the grade drawn (mostly normal, a tail of 1-4).
GRADE_WEIGHTS = {0: 0.872, 1: 0.09, 2: 0.03, 3: 0.006, 4: 0.002}
SYMPTOM_FIELDS: list[tuple[str, list[Any], list[float]]] = [
    (
        "nausea",
        ["none", "appetite_loss", "eating_less", "cannot_eat_or_drink"],
        [0.6, 0.25, 0.12, 0.03],
    ),
    (
        "fatigue",
        ["none", "relieved_by_rest", "limits_usual_activities", "limits_self_care"],
        [0.45, 0.35, 0.15, 0.05],
    ),
    ("stools_above_baseline", [0, 1, 3, 5, 8], [0.6, 0.2, 0.1, 0.07, 0.03]),
    ("vomiting_episodes", [0, 1, 3, 6], [0.8, 0.12, 0.06, 0.02]),
    (
        "hand_foot",
        [
            "none",
            "skin_changes_no_pain",
            "painful_limits_usual_activities",
            "severe_limits_self_care",
        ],
        [0.7, 0.18, 0.09, 0.03],
    ),
]
RULES = ("hepatic_grade", "hys_law", "reild_watch", "worsening", "systemic_grade")


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def lab_templates(rng: random.Random) -> dict[str, dict[int, list[tuple[Any, ...]]]]:
    """Per analyte and grade, graded value templates (value .. needs_clinical_assessment)."""
    out: dict[str, dict[int, list[tuple[Any, ...]]]] = {}
    for analyte, unit, low, high, (v_min, v_max) in ANALYTES:
        by_grade: dict[int, list[tuple[Any, ...]]] = {}
        decimals = 2 if v_max < 20 else 0
        for i in range(400):
            # Denser near the normal range: a log-ish spread across [v_min, v_max].
            frac = i / 399
            value = round(v_min * (v_max / v_min) ** frac, decimals)
            result = grade_lab(analyte, value, unit, ref_low=low, ref_high=high)
            assert result is not None
            x_uln = None if result.x_uln is None else result.x_uln.quantize(Q6)
            row = (
                Decimal(str(value)),
                unit,
                Decimal(str(low)),
                Decimal(str(high)),
                result.term,
                result.meddra_code,
                result.grade,
                result.direction,
                x_uln,
                result.criteria,
                result.needs_clinical_assessment,
            )
            by_grade.setdefault(result.grade, []).append(row)
        # Normal values: the middle of the reference range too (the grid is sparse there).
        for _ in range(30):
            value = round(rng.uniform(low + (high - low) * 0.1, high * 0.95), decimals)
            result = grade_lab(analyte, value, unit, ref_low=low, ref_high=high)
            assert result is not None
            if result.grade == 0:
                x_uln = None if result.x_uln is None else result.x_uln.quantize(Q6)
                by_grade[0].append(
                    (
                        Decimal(str(value)),
                        unit,
                        Decimal(str(low)),
                        Decimal(str(high)),
                        result.term,
                        result.meddra_code,
                        0,
                        result.direction,
                        x_uln,
                        result.criteria,
                        result.needs_clinical_assessment,
                    )
                )
        out[analyte] = by_grade
    return out


def cycle_of(start: dt.date, day: dt.date) -> int:
    return 0 if day < start else (day - start).days // 28 + 1


class Trial:
    """The generated trial, shared by both databases."""

    def __init__(self, seed: int, sites: int, per_site: int) -> None:
        rng = random.Random(seed)
        self.sites = [
            (str(101 + i), f"Site {101 + i}", TIMEZONES[i % len(TIMEZONES)]) for i in range(sites)
        ]
        self.subjects: list[tuple[str, str, dt.date]] = []
        for site_id, _, _ in self.sites:
            for n in range(1, per_site + 1):
                start = TRIAL_START + dt.timedelta(days=rng.randrange(0, 90))
                self.subjects.append((f"{site_id}-{n:04d}", site_id, start))


def copy_rows(
    conn: asyncpg.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> Any:
    return conn.copy_records_to_table(table, records=rows, columns=columns)


def log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)


# ------------------------------------------------------------------------------ safety_api


async def fill_safety(
    conn: asyncpg.Connection, trial: Trial, args: argparse.Namespace, t0: float
) -> None:
    rng = random.Random(args.seed + 1)
    now = dt.datetime.now(UTC)
    templates = lab_templates(rng)
    await copy_rows(
        conn,
        "sites",
        ["id", "name", "timezone", "created_at", "updated_at"],
        [(s, n, tz, now, now) for s, n, tz in trial.sites],
    )
    await copy_rows(
        conn,
        "webhook_endpoints",
        ["site_id", "url", "secret", "disabled_at", "disabled_reason", "created_at", "updated_at"],
        [
            (s, f"https://site{s}.example.org/hooks", "whsec_" + "x" * 32, None, None, now, now)
            for s, _, _ in trial.sites
        ],
    )
    subject_rows = []
    for subject_id, site_id, start in trial.subjects:
        subject_rows.append((subject_id, site_id, start, "[]", "[]", "{}", now, now))
    await copy_rows(
        conn,
        "subjects",
        [
            "id",
            "site_id",
            "treatment_start",
            "tare_dates",
            "cycle_starts",
            "baseline",
            "created_at",
            "updated_at",
        ],
        subject_rows,
    )
    log(f"safety: {len(trial.sites)} sites, {len(subject_rows)} subjects", t0)

    lab_cols = [
        "id",
        "subject_id",
        "site_id",
        "collected_at",
        "received_at",
        "analyte",
        "loinc",
        "value",
        "unit",
        "ref_low",
        "ref_high",
        "baseline_value",
        "anticoagulated",
        "source",
        "source_id",
        "term",
        "meddra_code",
        "grade",
        "direction",
        "x_uln",
        "criteria",
        "needs_clinical_assessment",
    ]
    ae_cols = [
        "id",
        "subject_id",
        "site_id",
        "term",
        "meddra_code",
        "category",
        "grade",
        "occurred_at",
        "cycle",
        "source_kind",
        "source_id",
        "patient_reported",
        "needs_clinical_assessment",
        "clinician_grade",
        "clinician_reason",
        "clinician_by",
        "clinician_at",
    ]
    grades, weights = list(GRADE_WEIGHTS), list(GRADE_WEIGHTS.values())
    total_labs = total_aes = 0
    worst_hepatic: dict[str, tuple[int, dt.datetime]] = {}
    chunk = 250  # subjects per COPY batch
    for first in range(0, len(trial.subjects), chunk):
        labs: list[tuple[Any, ...]] = []
        aes: list[tuple[Any, ...]] = []
        for subject_id, site_id, start in trial.subjects[first : first + chunk]:
            # A subject's own tendency: most stay normal, some run high on liver tests.
            frailty = rng.choice((0.5, 0.8, 1.0, 1.0, 1.5, 3.0))
            for panel in range(args.panels):
                day = start + dt.timedelta(
                    days=-7 if panel == 0 else (panel - 1) * 36 + rng.randrange(0, 5)
                )
                collected = dt.datetime.combine(day, dt.time(7, rng.randrange(0, 60)), UTC)
                received = collected + dt.timedelta(hours=rng.randrange(2, 30))
                cycle = cycle_of(start, day)
                for analyte, *_ in ANALYTES:
                    w = [weights[0]] + [x * frailty for x in weights[1:]]
                    grade = rng.choices(grades, w)[0]
                    bucket = templates[analyte]
                    while grade not in bucket:
                        grade -= 1
                    value, unit, low, high, term, code, g, direction, x_uln, criteria, nca = (
                        rng.choice(bucket[grade])
                    )
                    lab_id = uid(rng)
                    labs.append(
                        (
                            lab_id,
                            subject_id,
                            site_id,
                            collected,
                            received,
                            analyte,
                            None,
                            value,
                            unit,
                            low,
                            high,
                            None,
                            False,
                            "json",
                            None,
                            term,
                            code,
                            g,
                            direction,
                            x_uln,
                            criteria,
                            nca,
                        )
                    )
                    reviewed = g >= 2 and rng.random() < 0.3
                    aes.append(
                        (
                            uid(rng),
                            subject_id,
                            site_id,
                            term,
                            code,
                            category_of(code),
                            g,
                            collected,
                            cycle,
                            "lab",
                            lab_id,
                            False,
                            nca,
                            g if reviewed else None,
                            None,
                            "site_staff:101" if reviewed else None,
                            received + dt.timedelta(days=1) if reviewed else None,
                        )
                    )
                    if category_of(code) == "hepatic" and g >= 3:
                        worst_hepatic.setdefault(subject_id, (g, collected))
        await copy_rows(conn, "lab_results", lab_cols, labs)
        await copy_rows(conn, "adverse_events", ae_cols, aes)
        total_labs += len(labs)
        total_aes += len(aes)
        if (first // chunk) % 4 == 3 or first + chunk >= len(trial.subjects):
            log(f"safety: lab_results {total_labs:,}, adverse_events {total_aes:,}", t0)

    # Symptom reports forwarded from the diary, graded by the real engine.
    sr_cols = ["id", "subject_id", "site_id", "reported_at", "received_at", "source", "report"]
    total_reports = 0
    for first in range(0, len(trial.subjects), 1000):
        reports, aes = [], []
        for subject_id, site_id, start in trial.subjects[first : first + 1000]:
            for n in range(args.symptom_reports):
                day = start + dt.timedelta(days=n * 35 + rng.randrange(0, 14))
                reported = dt.datetime.combine(day, dt.time(19, rng.randrange(0, 60)), UTC)
                report = {
                    f: rng.choices(v, w)[0]
                    for f, v, w in rng.sample(SYMPTOM_FIELDS, rng.randrange(1, 4))
                }
                report_id = uid(rng)
                reports.append(
                    (
                        report_id,
                        subject_id,
                        site_id,
                        reported,
                        reported + dt.timedelta(seconds=2),
                        "diary",
                        json.dumps(report),
                    )
                )
                for result in grade_symptoms(report):
                    reviewed = result.grade >= 2 and rng.random() < 0.4
                    aes.append(
                        (
                            uid(rng),
                            subject_id,
                            site_id,
                            result.term,
                            result.meddra_code,
                            category_of(result.meddra_code),
                            result.grade,
                            reported,
                            cycle_of(start, day),
                            "symptom_report",
                            report_id,
                            True,
                            result.needs_clinical_assessment,
                            max(0, result.grade - rng.randrange(0, 2)) if reviewed else None,
                            "reviewed at visit" if reviewed else None,
                            "site_staff:101" if reviewed else None,
                            reported + dt.timedelta(days=2) if reviewed else None,
                        )
                    )
        await copy_rows(conn, "symptom_reports", sr_cols, reports)
        await copy_rows(conn, "adverse_events", ae_cols, aes)
        total_reports += len(reports)
        total_aes += len(aes)
    log(f"safety: symptom_reports {total_reports:,}, adverse_events {total_aes:,}", t0)

    # Alerts: hepatic grade >= 3 subjects get hepatic alerts, plus a spread of other rules.
    alert_cols = [
        "id",
        "subject_id",
        "site_id",
        "rule",
        "severity",
        "status",
        "summary",
        "evidence",
        "labels",
        "created_at",
        "updated_at",
        "severity_changed_at",
        "escalated_severity",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    ]
    alerts, notes, outbox = [], [], []
    site_of = {s: site for s, site, _ in trial.subjects}
    candidates = [(s, "hepatic_grade", at) for s, (_, at) in worst_hepatic.items()]
    for _ in range(args.alerts - len(candidates)):
        subject_id = rng.choice(trial.subjects)[0]
        created = dt.datetime.combine(
            TRIAL_START + dt.timedelta(days=rng.randrange(0, 730)), dt.time(9), UTC
        )
        candidates.append((subject_id, rng.choice(RULES), created))
    unresolved: set[tuple[str, str]] = set()
    for subject_id, rule, created in candidates[: args.alerts]:
        recent = created > now - dt.timedelta(days=60)
        status = rng.choices(
            ("open", "acknowledged", "resolved"), (0.5, 0.3, 0.2) if recent else (0.15, 0.1, 0.75)
        )[0]
        if status != "resolved":
            if (subject_id, rule) in unresolved:
                status = "resolved"
            unresolved.add((subject_id, rule))
        severity = rng.choice(("high", "critical"))
        alert_id = uid(rng)
        ack = created + dt.timedelta(hours=rng.randrange(1, 48)) if status != "open" else None
        res = (
            ack + dt.timedelta(days=rng.randrange(1, 20)) if status == "resolved" and ack else None
        )
        evidence = [
            {
                "observation_id": f"lab:{uid(rng)}",
                "analyte": "ALT",
                "grade": 3,
                "at": created.isoformat(),
            }
        ]
        alerts.append(
            (
                alert_id,
                subject_id,
                site_of[subject_id],
                rule,
                severity,
                status,
                f"{rule.replace('_', ' ')} for {subject_id}",
                json.dumps(evidence),
                "[]",
                created,
                res or ack or created,
                None,
                None,
                ack,
                "site_staff:x" if ack else None,
                res,
                "site_staff:x" if res else None,
                "labs repeated, hepatologist informed" if res else None,
            )
        )
        events = [("alert.opened", created)]
        if ack:
            events.append(("alert.acknowledged", ack))
        if res:
            events.append(("alert.resolved", res))
        for event_type, at in events:
            message_id = uid(rng)
            state = rng.choices(("delivered", "dead", "pending"), (0.95, 0.03, 0.02))[0]
            outbox.append(
                (
                    message_id,
                    "webhook.alert",
                    None,
                    json.dumps(
                        {"alert_id": alert_id, "site_id": site_of[subject_id], "body": "{}"}
                    ),
                    state,
                    1 if state == "delivered" else 8,
                    at,
                    None,
                    None,
                    at,
                    at + dt.timedelta(seconds=1) if state == "delivered" else None,
                    "HTTP 500" if state == "dead" else None,
                )
            )
            notes.append((message_id, alert_id, event_type, at))
    await copy_rows(conn, "alerts", alert_cols, alerts)
    await copy_rows(
        conn,
        "outbox_messages",
        [
            "id",
            "kind",
            "dedupe_key",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "claimed_by",
            "claimed_until",
            "created_at",
            "delivered_at",
            "last_error",
        ],
        outbox,
    )
    await copy_rows(
        conn, "alert_notifications", ["id", "alert_id", "event_type", "created_at"], notes
    )
    log(f"safety: alerts {len(alerts):,}, alert_notifications {len(notes):,}", t0)


# ---------------------------------------------------------------------------------- pro_api


async def fill_pro(
    conn: asyncpg.Connection, trial: Trial, args: argparse.Namespace, t0: float
) -> None:
    rng = random.Random(args.seed + 2)
    now = dt.datetime.now(UTC)
    await copy_rows(
        conn,
        "sites",
        ["id", "name", "timezone", "created_at", "updated_at"],
        [(s, n, tz, now, now) for s, n, tz in trial.sites],
    )
    tz_of = {s: tz for s, _, tz in trial.sites}
    patients = []
    regimen = json.dumps({"capecitabine_mg": 1500, "temozolomide_mg": 300})
    for subject_id, site_id, start in trial.subjects:
        patients.append(
            (
                uid(rng),
                subject_id,
                site_id,
                tz_of[site_id],
                "en",
                start,
                start - dt.timedelta(days=14),
                regimen,
                "[]",
                "active",
                None,
                now,
                now,
            )
        )
    await copy_rows(
        conn,
        "patients",
        [
            "id",
            "subject_id",
            "site_id",
            "timezone",
            "language",
            "treatment_start",
            "enrolled_on",
            "regimen",
            "tare_dates",
            "status",
            "status_changed_at",
            "created_at",
            "updated_at",
        ],
        patients,
    )
    log(f"pro: {len(patients):,} patients", t0)
    entry_cols = [
        "id",
        "patient_id",
        "site_id",
        "local_date",
        "version",
        "symptoms",
        "note",
        "entered_by",
        "created_at",
    ]
    dose_cols = [
        "entry_id",
        "position",
        "drug",
        "slot",
        "taken",
        "taken_at",
        "missed_reason",
        "vomited_after",
    ]
    total_entries = total_doses = 0
    chunk = 500
    for first in range(0, len(patients), chunk):
        entries, doses = [], []
        for patient_id, _subject, site_id, _, _, start, *_ in patients[first : first + chunk]:
            # Diary days: capecitabine days 1-14 of each 28-day cycle, and 1 in 10 other days.
            days: list[dt.date] = []
            day = start
            while len(days) < args.diary_days:
                if (day - start).days % 28 < 14 or rng.random() < 0.1:
                    days.append(day)
                day += dt.timedelta(days=1)
            for day in days:
                versions = 2 if rng.random() < 0.02 else 1
                for version in range(1, versions + 1):
                    symptoms = (
                        {f: rng.choices(v, w)[0] for f, v, w in rng.sample(SYMPTOM_FIELDS, 2)}
                        if rng.random() < 0.15
                        else {}
                    )
                    created = dt.datetime.combine(day, dt.time(20, version), UTC)
                    entry_id = uid(rng)
                    entries.append(
                        (
                            entry_id,
                            patient_id,
                            site_id,
                            day,
                            version,
                            json.dumps(symptoms),
                            None,
                            f"patient:{patient_id}",
                            created,
                        )
                    )
                    for position, slot in enumerate(("morning", "evening")):
                        taken = rng.random() < 0.96
                        doses.append(
                            (
                                entry_id,
                                position,
                                "capecitabine",
                                slot,
                                taken,
                                created - dt.timedelta(hours=12 - 10 * position) if taken else None,
                                None if taken else "forgot",
                                None,
                            )
                        )
        await copy_rows(conn, "diary_entries", entry_cols, entries)
        await copy_rows(conn, "diary_doses", dose_cols, doses)
        total_entries += len(entries)
        total_doses += len(doses)
        if (first // chunk) % 3 == 2 or first + chunk >= len(patients):
            log(f"pro: diary_entries {total_entries:,}, diary_doses {total_doses:,}", t0)


# ------------------------------------------------------------------------------------ main


def url(name: str) -> str:
    return f"{SERVER}/{name}"


async def has_data(name: str) -> bool:
    try:
        conn = await asyncpg.connect(url(name))
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        for table in ("lab_results", "diary_entries"):
            exists = await conn.fetchval("SELECT to_regclass($1)", table)
            if exists and await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                return True
        return False
    finally:
        await conn.close()


async def row_counts(name: str) -> dict[str, int]:
    conn = await asyncpg.connect(url(name))
    try:
        tables = [
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_stat_user_tables WHERE relname <> 'alembic_version' "
                "ORDER BY relname"
            )
        ]
        counts = {}
        for table in tables:
            counts[table] = await conn.fetchval(f'SELECT count(*) FROM "{table}"')
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        counts["_size"] = size
        return counts
    finally:
        await conn.close()


async def recreate(name: str, service: str) -> None:
    admin = await asyncpg.connect(url("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    engine = create_engine(normalise_database_url(url(name)))
    try:
        await migrate.upgrade(engine, service)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def load(name: str, fill: Any, trial: Trial, args: argparse.Namespace, t0: float) -> None:
    conn = await asyncpg.connect(url(name))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        async with conn.transaction():
            await fill(conn, trial, args, t0)
    finally:
        await conn.close()


async def vacuum(name: str, t0: float) -> None:
    """Statistics, and the visibility map that index-only scans need. Run once both loads have
    committed: a load still open in the other database holds back what VACUUM may mark
    all-visible."""
    conn = await asyncpg.connect(url(name))
    try:
        await conn.execute("VACUUM (ANALYZE)")
        log(f"{name}: VACUUM ANALYZE done", t0)
    finally:
        await conn.close()


async def drop(*names: str) -> None:
    admin = await asyncpg.connect(url("postgres"))
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main_async(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.drop:
        await drop(args.safety_db, args.pro_db)
        print(f"dropped {args.safety_db} and {args.pro_db}")
        return 0
    if args.reuse and await has_data(args.safety_db) and await has_data(args.pro_db):
        print(f"reusing {args.safety_db} and {args.pro_db} (already filled)")
    else:
        trial = Trial(args.seed, args.sites, args.subjects_per_site)
        # Alembic's command context is process-global: migrate one database after the other.
        await recreate(args.safety_db, "safety_api")
        await recreate(args.pro_db, "pro_api")
        log("databases created and migrated", t0)
        await asyncio.gather(
            load(args.safety_db, fill_safety, trial, args, t0),
            load(args.pro_db, fill_pro, trial, args, t0),
        )
        for name in (args.safety_db, args.pro_db):
            await vacuum(name, t0)
        log("generation done", t0)
    for name in (args.safety_db, args.pro_db):
        counts = await row_counts(name)
        size = counts.pop("_size")
        print(f"{name} ({size}): " + ", ".join(f"{t} {c:,}" for t, c in counts.items() if c))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--safety-db", default="captem_scale_safety")
    parser.add_argument("--pro-db", default="captem_scale_pro")
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--subjects-per-site", type=int, default=100)
    parser.add_argument("--panels", type=int, default=20, help="lab panels per subject")
    parser.add_argument("--symptom-reports", type=int, default=20, help="per subject")
    parser.add_argument("--diary-days", type=int, default=200, help="per patient")
    parser.add_argument("--alerts", type=int, default=3500)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--reuse", action="store_true", help="keep databases already filled")
    parser.add_argument("--drop", action="store_true", help="drop the scale databases and exit")
    return parser.parse_args(argv)


def main() -> int:
    return asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
