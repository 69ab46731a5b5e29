"""Shapes of a subject's adverse-event record and of a clinician's confirmation."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["hepatic", "systemic"]

EFFECTIVE_GRADE = (
    "The effective grade of an occurrence is the clinician's grade where a clinician confirmed "
    "or overrode it, else the grade as recorded (from the lab value, or from the symptom report)."
)


class ConfirmationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"grade": 2, "reason": "Loperamide-responsive; 5 stools"}},
    )

    grade: int = Field(ge=0, le=5, description="The clinician's CTCAE grade (0-5).")
    reason: str | None = Field(
        default=None,
        max_length=1000,
        description="Why the grade differs from the recorded one; required when it does.",
    )


class ClinicianReview(BaseModel):
    grade: int
    reason: str | None
    by: str = Field(description="Who confirmed: issuer|role|subject of their token.")
    at: dt.datetime


class AdverseEventOccurrence(BaseModel):
    """One graded occurrence of a CTCAE term, grade 0 included."""

    id: str
    subject_id: str
    term: str
    meddra_code: str
    category: Category
    occurred_at: dt.datetime
    cycle: int = Field(description="Treatment cycle (28 days from C1D1); 0 = before C1D1.")
    source_kind: Literal["lab", "symptom_report"]
    source_id: str = Field(description="The lab result or symptom report it was graded from.")
    patient_reported: bool = Field(description="Graded from the patient's own diary report.")
    grade: int = Field(description="The grade as recorded; never changed by a clinician.")
    needs_clinical_assessment: bool
    clinician: ClinicianReview | None = Field(
        description="The clinician's confirmation or override, if any."
    )
    effective_grade: int = Field(description=EFFECTIVE_GRADE)


class CycleSummary(BaseModel):
    cycle: int = Field(description="0 = before C1D1 (baseline period).")
    occurrences: int
    worst_grade: int = Field(description="Worst effective grade in the cycle. " + EFFECTIVE_GRADE)
    worst_patient_reported_grade: int | None = Field(
        description="Worst grade the patient reported in the cycle, as reported (null: none)."
    )
    worst_clinician_grade: int | None = Field(
        description="Worst clinician-confirmed grade in the cycle (null: none confirmed)."
    )
    unconfirmed_patient_reported: int = Field(
        description="Patient-reported occurrences in the cycle not yet reviewed by a clinician."
    )
    shift_from_baseline: int | None = Field(
        description="worst_grade minus the term's baseline grade (null: no baseline on record)."
    )


class TermRecord(BaseModel):
    term: str
    meddra_code: str
    category: Category
    baseline_grade: int | None = Field(
        description="Effective grade of the last occurrence on or before C1D1 (local date); "
        "null when none was collected."
    )
    baseline_event_id: str | None
    worst_grade_on_treatment: int | None = Field(
        description="Worst effective grade from C1D1 on (cycles >= 1); null if none yet."
    )
    cycles: list[CycleSummary]


class AdverseEventRecord(BaseModel):
    subject_id: str
    site_id: str
    treatment_start: dt.date
    grading: str = Field(description="How grades are counted in this record.")
    terms: list[TermRecord] = Field(description="Worst grade per term per treatment cycle.")
    events: list[AdverseEventOccurrence] = Field(description="Every occurrence, oldest first.")
