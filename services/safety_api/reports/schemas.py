"""Shape of ``GET /v1/reports/toxicity``."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

PATIENT_REPORTED_ONLY = (
    "Of these participants, how many are counted only on patient-reported grades that no "
    "clinician has reviewed yet (no lab, staff-entered or clinician-confirmed grade as high)."
)


class GradeCount(BaseModel):
    grade: int = Field(ge=1, le=5)
    participants: int = Field(description="Participants whose worst grade of the term is this.")
    patient_reported_only: int = Field(description=PATIENT_REPORTED_ONLY)


class TermCount(BaseModel):
    term: str
    meddra_code: str
    any_grade: int = Field(description="Participants with the term at grade 1 or worse.")
    any_grade_patient_reported_only: int = Field(description=PATIENT_REPORTED_ONLY)
    grade_3_or_higher: int = Field(description="Participants whose worst grade is 3 or worse.")
    grade_3_or_higher_patient_reported_only: int = Field(description=PATIENT_REPORTED_ONLY)
    by_worst_grade: list[GradeCount] = Field(description="Each participant once, at grades 1-5.")


class Totals(BaseModel):
    any_grade: int = Field(description="Participants with any term of the category, grade >= 1.")
    any_grade_patient_reported_only: int = Field(description=PATIENT_REPORTED_ONLY)
    grade_3_or_higher: int = Field(description="Participants with any term at grade >= 3.")
    grade_3_or_higher_patient_reported_only: int = Field(description=PATIENT_REPORTED_ONLY)


class ToxicityReport(BaseModel):
    category: Literal["hepatic", "systemic"]
    site_id: str | None = Field(description="The site counted; null: every site in scope.")
    generated_at: dt.datetime
    data_cutoff: dt.date | None = Field(
        description="The data cut-off date the report is as of; null: no cut-off was given "
        "(everything recorded so far is counted)."
    )
    data_cutoff_time_zone: str | None = Field(
        description="The IANA time zone the cut-off date was read in: the site's when one site "
        "is reported, UTC when every site is; null without a cut-off."
    )
    data_cutoff_rule: str = Field(
        description="In words, which occurrences and participants the cut-off let through "
        "(occurrences before local midnight starting the day after the cut-off, as a UTC "
        "instant; participants whose treatment started on or before it)."
    )
    participants: int = Field(
        description="Subjects registered in scope (the denominator); with a data cut-off, only "
        "those whose treatment (C1D1) started on or before it."
    )
    grades_counted: str = Field(description="Which grades were counted, and how.")
    terms: list[TermCount]
    totals: Totals
