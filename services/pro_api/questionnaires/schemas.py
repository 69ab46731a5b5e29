"""Request and response bodies of the questionnaire endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from services.pro_api.instruments.schedule import TimepointStatus

Answers = Annotated[
    dict[str, StrictInt | None],
    Field(
        description=(
            "EORTC item number (1-51) -> the item's response code. Leave an item out (or send "
            "null) when it was not answered; the half rule decides which scales are scored."
        ),
        examples=[{"1": 1, "2": 2, "29": 6, "30": 5}],
    ),
]
Reason = Annotated[str, Field(min_length=3, max_length=1000, description="Why, in words.")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmissionIn(_In):
    instrument: str = Field(default="eortc-net", examples=["eortc-net"])
    timepoint: str = Field(examples=["M3"], description="baseline, M3, M6 ... M24")
    answers: Answers
    status: Literal["completed", "draft"] = Field(
        default="completed",
        description="`draft` saves the answers so far to resume later; `completed` submits.",
    )


class DraftIn(_In):
    instrument: str = Field(default="eortc-net", examples=["eortc-net"])
    answers: Answers


class StaffEntryIn(_In):
    """Answers a patient gave on paper or in an interview, entered by site staff."""

    instrument: str = Field(default="eortc-net", examples=["eortc-net"])
    timepoint: str = Field(examples=["M3"])
    answers: Answers
    mode: Literal["paper", "interview"]
    reason: Reason = Field(examples=["Patient completed the paper form at the clinic visit."])
    completed_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the patient answered (the date on the paper form, or the interview). "
            "Defaults to now. Must fall inside the timepoint's window unless window_override."
        ),
    )
    window_override: bool = Field(
        default=False,
        description=(
            "Accept answers given outside the timepoint's window. Needs a reason that says "
            "why; the override is recorded in the audit trail."
        ),
    )


class CorrectionIn(_In):
    answers: Answers
    reason: Reason = Field(examples=["Transcription error on item 12 (paper form says 2)."])


class QuestionnaireResponsePublic(BaseModel):
    id: str
    instrument: str
    timepoint: str
    status: Literal["draft", "completed", "superseded"]
    version: int
    mode: str
    answers: dict[str, int]
    completed_at: dt.datetime | None
    scores: dict[str, float | None] | None = Field(
        description="0-100 per scale by EORTC abbreviation; null where the half rule leaves a "
        "scale unscored. Null for drafts."
    )
    supersedes_id: str | None = None
    reason: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class Window(BaseModel):
    opens_on: dt.date = Field(description="First day, patient's local date.")
    closes_on: dt.date = Field(description="Last day (inclusive), patient's local date.")
    opens_at: dt.datetime = Field(description="UTC instant the window opens.")
    closes_at: dt.datetime = Field(description="UTC instant the window closes (exclusive).")


class AssessmentTimepoint(BaseModel):
    code: str
    status: TimepointStatus
    due_date: dt.date
    window: Window
    response_id: str | None = None
    has_draft: bool = False


class AssessmentsPublic(BaseModel):
    instrument: str
    timezone: str
    timepoints: list[AssessmentTimepoint]


class ScaleChange(BaseModel):
    change: float | None = Field(description="Score minus baseline score, in points (0-100).")
    meaningful: bool = Field(description="|change| >= 10 points (Osoba et al. 1998).")
    direction: Literal["improved", "worsened", "unchanged"] | None


class ResponseVersion(BaseModel):
    id: str
    version: int
    status: str
    mode: str
    completed_at: dt.datetime | None
    created_at: dt.datetime
    reason: str | None


class TimepointOutcome(BaseModel):
    timepoint: str
    response_id: str
    version: int
    mode: str
    completed_at: dt.datetime | None
    scores: dict[str, float | None]
    change_from_baseline: dict[str, ScaleChange] | None = Field(
        description="Per scale; null at baseline or when there is no baseline response."
    )
    meaningful_changes: list[str] = Field(
        description="Scales whose change from baseline is at least 10 points."
    )
    versions: list[ResponseVersion]


class PatientOutcomes(BaseModel):
    patient_id: str
    subject_id: str
    site_id: str
    instrument: str
    meaningful_change_points: float
    timepoints: list[TimepointOutcome]


class CompletionRow(BaseModel):
    timepoint: str
    due: int = Field(description="Patients whose window has closed, or who already answered.")
    completed: int
    open: int = Field(description="Windows open now and not yet answered (not counted as due).")
    rate: float | None = Field(description="completed / due, 0-1; null when nothing is due yet.")


class CompletionReport(BaseModel):
    instrument: str
    site_id: str | None
    as_of: dt.datetime
    timepoints: list[CompletionRow]
