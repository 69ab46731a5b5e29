"""Shapes of ``POST /v1/symptom-reports``.

The report's fields are the one symptom-report shape of ``/v1/grade`` (``ctcae.schemas``): unknown
fields are refused there, and the grading engine refuses values outside ``symptom_rules.json``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.safety_api.ctcae.schemas import GradeResultOut
from services.safety_api.ctcae.schemas import SymptomReportIn as SymptomReportFields
from services.safety_api.subjects.schemas import SUBJECT_ID_PATTERN


class SymptomReportCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "subject_id": "101-0007",
                "reported_at": "2026-01-20T20:15:00-05:00",
                "source": "diary",
                "report": {"stools_above_baseline": 8, "vomiting_episodes": 6, "nausea": "none"},
            }
        },
    )

    subject_id: str = Field(pattern=SUBJECT_ID_PATTERN, description="Study subject ID.")
    reported_at: AwareDatetime = Field(description="When the symptoms were reported.")
    source: Literal["diary", "staff"] = Field(
        description="diary: the patient's own report (patient-reported CTCAE grades); "
        "staff: entered by site staff."
    )
    report: SymptomReportFields


class SymptomReportPublic(BaseModel):
    id: str
    subject_id: str
    reported_at: dt.datetime
    source: Literal["diary", "staff"]
    patient_reported: bool
    cycle: int = Field(description="Treatment cycle of the report (0 = before C1D1).")
    report: dict[str, Any] = Field(description="The fields reported, as stored.")
    results: list[GradeResultOut] = Field(
        description="One result per CTCAE term reported, grade 0 included; hepatic warning "
        "signs are stored in report but not graded."
    )
    alerts: list[dict[str, Any]] = Field(
        description="Alerts this report raised or updated, in the /v1/alerts shape."
    )
