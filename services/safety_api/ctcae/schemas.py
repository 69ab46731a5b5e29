"""Request and response shapes of ``POST /v1/grade``, shared by every route that takes lab results.

The shapes only say what the fields are; whether a lab can be graded is the engine's call
(:func:`grade_lab`), and its :class:`GradingError` becomes a 422 naming the field
(:func:`grading_field_error`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.errors import field_error
from services.safety_api.ctcae import GradingError
from services.safety_api.ctcae.rules import AnalyteRule, lab_rules, symptom_rules

# Finite JSON numbers; the bound keeps every value within the database's Numeric(20, 6).
LabNumber = Annotated[float, Field(allow_inf_nan=False, le=1e12)]


class LabIn(BaseModel):
    """One lab result: the fields of ``/v1/grade`` kind ``lab`` and of ``/v1/labs`` results."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"analyte": "ALT", "value": 130, "unit": "U/L", "ref_low": 7, "ref_high": 40}
        },
    )

    analyte: str | None = Field(
        default=None,
        max_length=16,
        description="Analyte code, one of: " + ", ".join(sorted(lab_rules().analytes)) + ".",
    )
    loinc: str | None = Field(
        default=None,
        max_length=16,
        description="LOINC code, instead of (or agreeing with) analyte.",
    )
    value: LabNumber = Field(description="The result, in `unit`.")
    unit: str = Field(max_length=32, description="UCUM unit, e.g. `U/L`, `mg/dL`, `10*9/L`.")
    ref_low: LabNumber | None = Field(
        default=None, description="Lower limit of normal (LLN), in `unit`."
    )
    ref_high: LabNumber | None = Field(
        default=None, description="Upper limit of normal (ULN), in `unit`."
    )
    baseline: LabNumber | None = Field(
        default=None,
        description="The subject's baseline value in `unit` (creatinine; INR when anticoagulated).",
    )
    anticoagulated: bool = Field(
        default=False, description="INR only: grade against baseline instead of ULN."
    )

    def grading_kwargs(self) -> dict[str, Any]:
        """The engine's arguments; numbers go in as JSON gave them (the engine uses str())."""
        return {
            "analyte": self.analyte,
            "loinc": self.loinc,
            "value": self.value,
            "unit": self.unit,
            "ref_low": self.ref_low,
            "ref_high": self.ref_high,
            "baseline": self.baseline,
            "anticoagulated": self.anticoagulated,
        }


class GradeLabRequest(LabIn):
    kind: Literal["lab"]


def _choices(field: str) -> dict[str, Any]:
    return {"enum": list(symptom_rules()[field].choices)}


class SymptomReportIn(BaseModel):
    """A patient symptom report; every field is optional and an absent field is not reported.

    The engine validates the values against ``symptom_rules.json`` (the listed choices come from
    there too), so a bad value gets the engine's sentence naming the allowed answers.
    """

    model_config = ConfigDict(extra="forbid")

    stools_above_baseline: int | None = Field(
        default=None, description="Stools per day above the usual number."
    )
    incontinence: bool | None = None
    vomiting_episodes: int | None = Field(default=None, description="Episodes in 24 hours.")
    nausea: str | None = Field(default=None, json_schema_extra=_choices("nausea"))
    appetite: str | None = Field(default=None, json_schema_extra=_choices("appetite"))
    fatigue: str | None = Field(default=None, json_schema_extra=_choices("fatigue"))
    hand_foot: str | None = Field(default=None, json_schema_extra=_choices("hand_foot"))
    mouth_sores: str | None = Field(default=None, json_schema_extra=_choices("mouth_sores"))
    abdominal_pain: str | None = Field(default=None, json_schema_extra=_choices("abdominal_pain"))
    constipation: str | None = Field(default=None, json_schema_extra=_choices("constipation"))
    temperature_c: LabNumber | None = Field(
        default=None, description="Highest temperature of the day, degrees Celsius."
    )
    yellow_eyes_or_skin: bool | None = Field(default=None, description="Alerts; not graded.")
    abdominal_swelling: bool | None = Field(default=None, description="Alerts; not graded.")
    confusion: bool | None = Field(default=None, description="Alerts; not graded.")

    def reported(self) -> dict[str, Any]:
        """The fields that were reported (absent and null fields are not)."""
        return self.model_dump(exclude_none=True)


class GradeSymptomsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["symptoms"]
    report: SymptomReportIn


GradeRequest = Annotated[GradeLabRequest | GradeSymptomsRequest, Field(discriminator="kind")]


class GradeResultOut(BaseModel):
    term: str = Field(description="CTCAE v4.03 term.")
    meddra_code: str
    grade: int = Field(ge=0, le=5)
    direction: Literal["high", "low", "normal"] | None = Field(
        description="Labs: which side of the reference range; null for symptoms."
    )
    x_uln: float | None = Field(description="Value as a multiple of ULN, where ULN applies.")
    criteria: str | None = Field(description="The CTCAE text of this grade; null at grade 0.")
    needs_clinical_assessment: bool = Field(
        description="The value alone cannot separate this grade from the next; a clinician must."
    )


class GradeResponse(BaseModel):
    results: list[GradeResultOut]
    note: str | None = Field(
        default=None, description="Present when the input is recorded but not graded (CgA)."
    )


def not_graded_note(rule: AnalyteRule) -> str:
    """Plain words for an analyte that is kept but has no CTCAE term (chromogranin A)."""
    kind = rule.tracked_as or "tracked value"
    return (
        f"{rule.name} is a {kind}: it is stored and trended over time, but CTCAE v4.03 does not "
        "grade it, so there is no grade."
    )


def grading_field_error(error: GradingError, prefix: str = "body") -> dict[str, str]:
    """A :class:`GradingError` as a problem ``errors`` item naming the request field."""
    return field_error(f"{prefix}.{error.field}", error.detail)
