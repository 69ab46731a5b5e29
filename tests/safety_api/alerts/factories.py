"""Factories for alert-rule tests: a subject, lab results and symptom reports by study day."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from services.safety_api.alerts.policy import AlertPolicy, load_policy
from services.safety_api.alerts.rules import (
    AlertSignal,
    LabObservation,
    Observation,
    OpenAlertState,
    SubjectContext,
    SymptomObservation,
    evaluate,
)

SUBJECT_ID = "101-0007"
SITE_ID = "101"
DAY_0 = date(2025, 3, 3)  # study day 0 of every test; a Monday, far from DST changes in UTC

CTCAE_TERMS: Mapping[str, tuple[str, str]] = {
    "ALT": ("Alanine aminotransferase increased", "10001551"),
    "AST": ("Aspartate aminotransferase increased", "10003481"),
    "ALP": ("Alkaline phosphatase increased", "10001675"),
    "GGT": ("GGT increased", "10056910"),
    "BILI": ("Blood bilirubin increased", "10005364"),
    "ALB": ("Hypoalbuminemia", "10020943"),
    "INR": ("INR increased", "10022402"),
    "NEUT": ("Neutrophil count decreased", "10029366"),
    "PLT": ("Platelet count decreased", "10035528"),
}

_ids = itertools.count(1)


def on_day(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(DAY_0 + timedelta(days=day), time(hour, minute), tzinfo=UTC)


def subject(
    *,
    tare_days: Sequence[int] = (),
    baseline_grades: Mapping[str, int] | None = None,
    timezone: str = "UTC",
) -> SubjectContext:
    return SubjectContext(
        subject_id=SUBJECT_ID,
        site_id=SITE_ID,
        tare_dates=[DAY_0 + timedelta(days=d) for d in tare_days],
        baseline_grades=dict(baseline_grades or {}),
        timezone=timezone,
    )


def lab(
    analyte: str,
    *,
    day: int = 0,
    x_uln: str | None = None,
    grade: int | None = None,
    per_mm3: str | None = None,
    collected_at: datetime | None = None,
) -> LabObservation:
    term, code = CTCAE_TERMS.get(analyte, (analyte, ""))
    return LabObservation(
        observation_id=f"lab-{next(_ids)}",
        analyte=analyte,
        collected_at=collected_at or on_day(day),
        grade=grade,
        x_uln=None if x_uln is None else Decimal(x_uln),
        value_per_mm3=None if per_mm3 is None else Decimal(per_mm3),
        term=term,
        meddra_code=code,
    )


def alt(x_uln: str, *, day: int = 0, grade: int | None = None, **kw: Any) -> LabObservation:
    return lab("ALT", day=day, x_uln=x_uln, grade=grade, **kw)


def ast(x_uln: str, *, day: int = 0, grade: int | None = None, **kw: Any) -> LabObservation:
    return lab("AST", day=day, x_uln=x_uln, grade=grade, **kw)


def bili(x_uln: str, *, day: int = 0, grade: int | None = None, **kw: Any) -> LabObservation:
    return lab("BILI", day=day, x_uln=x_uln, grade=grade, **kw)


def alp(x_uln: str, *, day: int = 0, grade: int | None = None, **kw: Any) -> LabObservation:
    return lab("ALP", day=day, x_uln=x_uln, grade=grade, **kw)


def anc(per_mm3: str, *, day: int = 0, grade: int | None = None) -> LabObservation:
    return lab("NEUT", day=day, per_mm3=per_mm3, grade=grade)


def report(
    *,
    day: int = 0,
    hour: int = 18,
    temperature_c: str | None = None,
    yellow_eyes_or_skin: bool | None = None,
    abdominal_swelling: bool | None = None,
    confusion: bool | None = None,
    graded: Sequence[tuple[str, str, int]] = (),
) -> SymptomObservation:
    return SymptomObservation(
        observation_id=f"report-{next(_ids)}",
        reported_at=on_day(day, hour),
        temperature_c=None if temperature_c is None else Decimal(temperature_c),
        yellow_eyes_or_skin=yellow_eyes_or_skin,
        abdominal_swelling=abdominal_swelling,
        confusion=confusion,
        graded=graded,
    )


def policy(overrides: Mapping[str, Any] | None = None) -> AlertPolicy:
    return load_policy(overrides)


def signals(
    new: Sequence[Observation],
    history: Sequence[Observation] = (),
    *,
    ctx: SubjectContext | None = None,
    site_policy: AlertPolicy | None = None,
) -> list[AlertSignal]:
    return evaluate(site_policy or policy(), ctx or subject(), new, history)


def only(rule: str, raised: Sequence[AlertSignal]) -> list[AlertSignal]:
    return [s for s in raised if s.rule == rule]


def stored(signal: AlertSignal, *, created_at: datetime, **kw: Any) -> OpenAlertState:
    """The alert as the database would hold it after creating it from ``signal``."""
    fields: dict[str, Any] = {
        "alert_id": "alert-1",
        "rule": signal.rule,
        "severity": signal.severity,
        "status": "open",
        "created_at": created_at,
        "evidence": tuple(signal.evidence),
        "labels": tuple(signal.labels),
    }
    fields.update(kw)
    return OpenAlertState(**fields)
