"""Lab ingestion: grade every result, store it with its grade, and record the AE occurrences.

A batch is all or nothing: if any result cannot be graded honestly, nothing is stored and the
one 422 names every bad result. Chromogranin A is stored ungraded (a tumour marker, trended but
not a CTCAE term) and gives no adverse-event occurrence. Services flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal, site_filter
from services.common.errors import FieldProblem, field_error
from services.common.tables import PlatformTables
from services.safety_api.adverse_events.recording import Occurrence, record_occurrences
from services.safety_api.alerts.models import Alert
from services.safety_api.alerts.service import lock_subject, raise_alerts
from services.safety_api.alerts.webhooks import alert_public
from services.safety_api.ctcae import GradeResult, GradingError, grade_lab, resolve_analyte
from services.safety_api.ctcae import units as ctcae_units
from services.safety_api.ctcae.rules import AnalyteRule
from services.safety_api.ctcae.schemas import LabIn, grading_field_error
from services.safety_api.labs.schemas import LabBatchIn
from services.safety_api.models import LabResult, Subject
from services.safety_api.subjects.repository import get_subject, site_timezone

LAB_RESULTS: Table = LabResult.__table__  # type: ignore[attr-defined]
# A stored lab result: a lab_results row as a mapping (column name -> value).
LabRow = Mapping[str, Any]

# Collection times a little ahead of our clock are the sender's clock running fast, not data
# from the future.
CLOCK_SKEW = dt.timedelta(minutes=5)
# Largest x_uln the lab_results column holds (Numeric(20, 6)); beyond it the grade says enough.
_X_ULN_LIMIT = Decimal("1e13")
_SIX_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class GradedLab:
    """One lab result as received, recognised and graded (``result`` None: not graded, CgA)."""

    lab: LabIn
    analyte: AnalyteRule
    unit: str  # canonical UCUM spelling
    baseline: Decimal | None  # as sent, or the subject's baseline in the same unit
    result: GradeResult | None


def _decimal(number: float | None) -> Decimal | None:
    # Through str so that JSON's 1.8 is stored as 1.8, not as the nearest binary fraction.
    return None if number is None else Decimal(str(number))


def subject_baseline(subject: Subject, analyte: AnalyteRule, unit: str) -> Decimal | None:
    """The subject's enrolment baseline for the analyte, in ``unit`` when it can be expressed
    exactly in it (same dimension); else None, and the result is graded without it."""
    stored = subject.baseline.get(analyte.code)
    if not isinstance(stored, Mapping):
        return None
    stored_unit = ctcae_units.normalise_unit(stored.get("unit"))
    value = stored.get("value")
    if stored_unit is None or not isinstance(value, int | float | str):
        return None
    try:
        return ctcae_units.convert(Decimal(str(value)), stored_unit, unit)
    except ValueError:
        return None


def _uses_baseline(analyte: AnalyteRule) -> bool:
    """CTCAE v4.03 grades against baseline only where a rule arm says so (creatinine; INR on
    anticoagulation)."""
    return any(arm.when != "always" for term in analyte.terms for arm in term.arms)


def grade_one(lab: LabIn, subject: Subject | None = None) -> GradedLab:
    """Grade one result; a result without its own baseline uses the subject's. Raises
    :class:`GradingError` naming the field (``analyte``, ``unit``, ``ref_high``, ...)."""
    analyte = resolve_analyte(lab.analyte, lab.loinc)
    unit = ctcae_units.normalise_unit(lab.unit) or lab.unit
    baseline = _decimal(lab.baseline)
    if (
        baseline is None
        and subject is not None
        and unit in analyte.units
        and _uses_baseline(analyte)
    ):
        baseline = subject_baseline(subject, analyte, unit)
    kwargs = lab.grading_kwargs()
    kwargs["baseline"] = baseline
    return GradedLab(lab, analyte, unit, baseline, grade_lab(**kwargs))


def grade_batch(
    labs: Sequence[LabIn], subject: Subject | None, field_prefix: str = "body.results"
) -> list[GradedLab]:
    """Grade every result or refuse them all, naming each bad one as ``results[i].<field>``."""
    graded, errors = [], []
    for index, lab in enumerate(labs):
        try:
            graded.append(grade_one(lab, subject))
        except GradingError as exc:
            errors.append(grading_field_error(exc, f"{field_prefix}[{index}]"))
    if errors:
        raise FieldProblem(errors, slug="cannot-grade")
    return graded


def collected_at_problem(collected_at: dt.datetime, now: dt.datetime) -> str | None:
    """Why a collection time cannot be accepted, or None."""
    if collected_at.tzinfo is None or collected_at.utcoffset() is None:
        return "has no UTC offset; send it with one, e.g. 2026-03-02T08:15:00-05:00."
    if collected_at > now + CLOCK_SKEW:
        return (
            f"is in the future ({collected_at.isoformat()}, now is "
            f"{now.isoformat(timespec='seconds')}); send the time the sample was taken, with its "
            "UTC offset."
        )
    return None


@dataclass(frozen=True)
class StoredBatch:
    rows: list[LabRow]
    alerts: list[Alert]


async def ingest_batch(
    session: AsyncSession,
    tables: PlatformTables,
    principal: Principal,
    batch: LabBatchIn,
    *,
    now: dt.datetime,
) -> StoredBatch:
    """``POST /v1/labs``: a subject in the caller's scope (else 404), a plausible collection
    time, and every result gradable (else 422 naming each); then everything is stored."""
    subject = await get_subject(session, principal, batch.subject_id)
    problem = collected_at_problem(batch.collected_at, now)
    if problem:
        raise FieldProblem([field_error("body.collected_at", problem)])
    graded = grade_batch(batch.results, subject)
    return await store(
        session,
        tables,
        principal,
        subject,
        graded,
        collected_at=batch.collected_at,
        received_at=now,
        source="json",
    )


async def store(
    session: AsyncSession,
    tables: PlatformTables,
    principal: Principal,
    subject: Subject,
    graded: Sequence[GradedLab],
    *,
    collected_at: dt.datetime,
    received_at: dt.datetime,
    source: str,
    source_ids: Sequence[str | None] | None = None,
) -> StoredBatch:
    """Add the results, their AE occurrences and one audit event to the caller's transaction,
    then evaluate the alert policy on them (alerts raised in the same transaction).
    ``source_ids``: the sender's own id of each result (FHIR Observation.id), if any."""
    collected_at = collected_at.astimezone(dt.UTC)
    timezone = await site_timezone(session, subject.site_id)
    ids = list(source_ids) if source_ids is not None else [None] * len(graded)
    rows: list[LabRow] = [
        _row(subject, item, collected_at, received_at, source, source_id)
        for item, source_id in zip(graded, ids, strict=True)
    ]
    # One executemany from plain rows: building an ORM object per result costs more than
    # the INSERT itself (see bench/bench_ingestion.py).
    await session.execute(insert(LAB_RESULTS), rows)
    await record_occurrences(
        session,
        subject,
        [
            Occurrence(item.result, row["id"])
            for row, item in zip(rows, graded, strict=True)
            if item.result is not None
        ],
        occurred_at=collected_at,
        timezone=timezone,
        source_kind="lab",
        patient_reported=False,
    )
    await lock_subject(session, subject.id)  # before the audit lock (see lock_subject)
    # Which results and grades, never the values: the audit trail needs no more PHI than that.
    await audit.record(
        session,
        tables,
        actor=principal,
        action="labs.ingest",
        entity_type="lab_batch",
        entity_id=str(uuid.uuid4()),
        site_id=subject.site_id,
        after={
            "subject_id": subject.id,
            "collected_at": collected_at.isoformat(),
            "source": source,
            "results": [
                {"id": r["id"], "analyte": r["analyte"], "grade": r["grade"]} for r in rows
            ],
        },
    )
    alerts = await raise_alerts(session, tables, subject, labs=rows, actor=principal)
    return StoredBatch(rows, alerts)


def _row(
    subject: Subject,
    item: GradedLab,
    collected_at: dt.datetime,
    received_at: dt.datetime,
    source: str,
    source_id: str | None,
) -> dict[str, Any]:
    lab, result = item.lab, item.result
    x_uln = None
    if result is not None and result.x_uln is not None and result.x_uln < _X_ULN_LIMIT:
        x_uln = result.x_uln.quantize(_SIX_PLACES)
    value = _decimal(lab.value)
    assert value is not None  # required by LabIn
    return {
        "id": str(uuid.uuid4()),
        "subject_id": subject.id,
        "site_id": subject.site_id,
        "collected_at": collected_at,
        "received_at": received_at,
        "analyte": item.analyte.code,
        "loinc": lab.loinc,
        "value": value,
        "unit": item.unit,
        "ref_low": _decimal(lab.ref_low),
        "ref_high": _decimal(lab.ref_high),
        "baseline_value": item.baseline,
        "anticoagulated": lab.anticoagulated,
        "source": source,
        "source_id": source_id,
        "term": result.term if result else None,
        "meddra_code": result.meddra_code if result else None,
        "grade": result.grade if result else None,
        "direction": result.direction if result else None,
        "x_uln": x_uln,
        "criteria": result.criteria if result else None,
        "needs_clinical_assessment": result.needs_clinical_assessment if result else False,
    }


async def find_stored(
    session: AsyncSession, subject_id: str, source: str, source_ids: Sequence[str]
) -> dict[str, LabRow]:
    """Results already received from the same sender under the same ids (FHIR repeats), by id."""
    if not source_ids:
        return {}
    labs = LAB_RESULTS.c
    query = select(LAB_RESULTS).where(
        labs.subject_id == subject_id,
        labs.source == source,
        labs.source_id.in_(sorted(set(source_ids))),
    )
    return {row["source_id"]: dict(row) for row in (await session.execute(query)).mappings()}


def _float(number: Decimal | None, places: int | None = None) -> float | None:
    if number is None:
        return None
    return float(number) if places is None else round(float(number), places)


def lab_result_public(row: LabRow) -> dict[str, Any]:
    return {
        "id": row["id"],
        "analyte": row["analyte"],
        "loinc": row["loinc"],
        "value": _float(row["value"]),
        "unit": row["unit"],
        "ref_low": _float(row["ref_low"]),
        "ref_high": _float(row["ref_high"]),
        "term": row["term"],
        "meddra_code": row["meddra_code"],
        "grade": row["grade"],
        "direction": row["direction"],
        "x_uln": _float(row["x_uln"], 4),  # as /v1/grade reports it
        "criteria": row["criteria"],
        "needs_clinical_assessment": row["needs_clinical_assessment"],
    }


def batch_public(subject_id: str, collected_at: dt.datetime, stored: StoredBatch) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "collected_at": collected_at.isoformat(),
        "results": [lab_result_public(row) for row in stored.rows],
        "alerts": [alert_public(alert) for alert in stored.alerts],
    }


async def find_lab_result(
    session: AsyncSession, principal: Principal, lab_result_id: str
) -> LabRow | None:
    """One stored result, if it belongs to a site the caller may see."""
    labs = LAB_RESULTS.c
    query = select(LAB_RESULTS).where(
        labs.id == lab_result_id, site_filter(principal, labs.site_id)
    )
    row = (await session.execute(query)).mappings().first()
    return None if row is None else dict(row)


async def lab_history(
    session: AsyncSession, principal: Principal, subject_id: str, analyte: str | None = None
) -> list[dict[str, Any]]:
    """A subject's stored results, oldest first; the caller checked the subject is in scope, and
    the site filter repeats that check where the rows are read."""
    labs = LAB_RESULTS.c
    query = select(LAB_RESULTS).where(
        labs.subject_id == subject_id, site_filter(principal, labs.site_id)
    )
    if analyte is not None:
        query = query.where(labs.analyte == analyte)
    rows = (await session.execute(query.order_by(labs.collected_at, labs.analyte))).mappings()
    return [{**lab_result_public(dict(row)), "collected_at": row["collected_at"]} for row in rows]
