"""Stored labs and symptom reports → the plain observations the pure alert rules read."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from services.safety_api.ctcae import GradingError, grade_symptoms
from services.safety_api.ctcae.units import convert, normalise_unit
from services.safety_api.models import SymptomReport

from .rules import LabObservation, SymptomObservation

COUNT_ANALYTES = frozenset({"NEUT", "PLT", "WBC", "LYMPH"})


# A stored lab result as a lab_results row mapping (column name -> value); the rules read these.
LabRow = Mapping[str, Any]
LAB_OBSERVATION_COLUMNS = (
    "id",
    "analyte",
    "collected_at",
    "grade",
    "x_uln",
    "value",
    "unit",
    "term",
    "meddra_code",
)


def _per_mm3(row: LabRow) -> Decimal | None:
    if row["analyte"] not in COUNT_ANALYTES:
        return None
    unit = normalise_unit(row["unit"])
    if unit is None:
        return None
    try:
        return convert(Decimal(row["value"]), unit, "/mm3")
    except (KeyError, ValueError, ArithmeticError):
        return None


def lab_observation(row: LabRow) -> LabObservation:
    x_uln = row["x_uln"]
    return LabObservation(
        observation_id=f"lab:{row['id']}",
        analyte=row["analyte"],
        collected_at=row["collected_at"],
        grade=row["grade"],
        x_uln=None if x_uln is None else Decimal(x_uln),
        value_per_mm3=_per_mm3(row),
        term=row["term"] or "",
        meddra_code=row["meddra_code"] or "",
    )


def symptom_observation(row: SymptomReport) -> SymptomObservation:
    report = row.report
    try:
        graded = [(r.term, r.meddra_code, r.grade) for r in grade_symptoms(report)]
    except GradingError:  # stored reports were validated on the way in; be safe on old rows
        graded = []
    temperature = report.get("temperature_c")
    return SymptomObservation(
        observation_id=f"symptom:{row.id}",
        reported_at=row.reported_at,
        temperature_c=None if temperature is None else Decimal(str(temperature)),
        yellow_eyes_or_skin=report.get("yellow_eyes_or_skin"),
        abdominal_swelling=report.get("abdominal_swelling"),
        confusion=report.get("confusion"),
        graded=graded,
    )
