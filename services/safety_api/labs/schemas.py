"""Request and response shapes of ``POST /v1/labs``."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.safety_api.alerts.router import AlertPublic
from services.safety_api.ctcae.schemas import LabIn
from services.safety_api.subjects.schemas import SUBJECT_ID_PATTERN

MAX_RESULTS_PER_BATCH = 1000


class LabBatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "subject_id": "101-0007",
                "collected_at": "2026-03-02T08:15:00-05:00",
                "results": [
                    {"analyte": "ALT", "value": 130, "unit": "U/L", "ref_low": 7, "ref_high": 40},
                    {"loinc": "777-3", "value": 62, "unit": "10*3/uL", "ref_low": 150},
                ],
            }
        },
    )

    subject_id: str = Field(pattern=SUBJECT_ID_PATTERN, description="Study subject ID.")
    collected_at: AwareDatetime = Field(
        description="When the sample was taken, ISO 8601 with a UTC offset; not in the future."
    )
    results: list[LabIn] = Field(min_length=1, max_length=MAX_RESULTS_PER_BATCH)


class LabResultOut(BaseModel):
    """A stored lab result with its CTCAE grade; the graded fields are null for an analyte that
    is not graded (chromogranin A)."""

    id: str
    analyte: str = Field(description="The analyte code the result was recognised as.")
    loinc: str | None
    value: float
    unit: str = Field(description="The unit sent, in its canonical UCUM spelling.")
    ref_low: float | None
    ref_high: float | None
    term: str | None
    meddra_code: str | None
    grade: int | None
    direction: Literal["high", "low", "normal"] | None
    x_uln: float | None
    criteria: str | None
    needs_clinical_assessment: bool


class LabHistoryEntry(LabResultOut):
    collected_at: AwareDatetime


class LabHistory(BaseModel):
    subject_id: str
    site_id: str
    results: list[LabHistoryEntry] = Field(
        description="Every stored result of the subject, oldest first, then by analyte."
    )


class LabBatchOut(BaseModel):
    subject_id: str
    collected_at: AwareDatetime
    results: list[LabResultOut]
    alerts: list[AlertPublic] = Field(
        description="Alerts these results raised or updated (hepatic-toxicity policy)"
    )
