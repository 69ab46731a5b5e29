"""Request and response bodies of the diary: the patient's day (doses, symptoms, note), what
staff record (held doses, dose changes, delayed cycles), adherence and the reminder webhook.

The symptom fields are safety_api's symptom report (DESIGN.md, API contract), mirrored here
because the services share no code: the same names and the same answer values as DOMAIN.md §3,
each with the plain-language question a phone asks behind it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from services.common.webhooks import WebhookSecret
from services.pro_api.diary.adherence import OverdoseReason
from services.pro_api.diary.regimen import Drug, Slot
from services.pro_api.patients.schemas import MAX_DOSE_MG, _not_blank

MAX_DAYS_PER_REQUEST = 62  # two months of days fit a phone's scroll and one query
MAX_DOSES_PER_DAY = 12  # the regimens have at most 4 doses a day; room for extra ones reported

Count = Annotated[int, Field(ge=0, le=50)]
Reason = Annotated[
    str, Field(min_length=1, max_length=1000, description="Why, for the audit trail.")
]


class SymptomReport(BaseModel):
    """Today's symptoms. Every field is optional; leave out what was not asked or answered."""

    model_config = ConfigDict(extra="forbid")

    stools_above_baseline: Count | None = Field(
        default=None,
        description="How many more times than usual did you open your bowels today? (0 if "
        "no more than usual)",
    )
    incontinence: bool | None = Field(
        default=None, description="Did you have an accident, not reaching the toilet in time?"
    )
    vomiting_episodes: Count | None = Field(
        default=None, description="How many times did you vomit (throw up) in the last 24 hours?"
    )
    nausea: Literal["none", "appetite_loss", "eating_less", "cannot_eat_or_drink"] | None = Field(
        default=None,
        description="Did you feel sick to your stomach? none; it took my appetite away; I ate "
        "less than usual; I could not eat or drink enough",
    )
    appetite: (
        Literal["normal", "less_appetite", "eating_less", "weight_loss_or_cannot_eat"] | None
    ) = Field(
        default=None,
        description="How was your appetite? normal; less appetite but eating as usual; eating "
        "less; losing weight or cannot eat",
    )
    fatigue: (
        Literal["none", "relieved_by_rest", "limits_usual_activities", "limits_self_care"] | None
    ) = Field(
        default=None,
        description="How tired were you? not tired; tired but rest helps; too tired for "
        "shopping, cooking or housework; too tired to wash, dress or eat without help",
    )
    hand_foot: (
        Literal[
            "none",
            "skin_changes_no_pain",
            "painful_limits_usual_activities",
            "severe_limits_self_care",
        ]
        | None
    ) = Field(
        default=None,
        description="How are the palms of your hands and soles of your feet? normal; red or "
        "changed but not painful; painful and it stops me doing usual things; so bad I need "
        "help to wash, dress or eat",
    )
    mouth_sores: (
        Literal["none", "mild", "painful_can_eat_modified_diet", "severe_cannot_eat"] | None
    ) = Field(
        default=None,
        description="Do you have sores in your mouth? none; mild; painful, I eat soft food; so "
        "painful I cannot eat",
    )
    abdominal_pain: (
        Literal["none", "mild", "moderate_limits_usual_activities", "severe_limits_self_care"]
        | None
    ) = Field(
        default=None,
        description="Pain in your belly? none; mild; it stops me doing usual things; so bad I "
        "need help to wash, dress or eat",
    )
    constipation: (
        Literal[
            "none", "occasional", "persistent_regular_laxatives", "obstipation_manual_evacuation"
        ]
        | None
    ) = Field(
        default=None,
        description="Constipation? none; now and then; most days, I take laxatives regularly; "
        "I cannot open my bowels without help",
    )
    temperature_c: float | None = Field(
        default=None,
        ge=34.0,
        le=43.0,
        allow_inf_nan=False,
        description="Your highest temperature today, in degrees Celsius (e.g. 37.2)",
    )
    yellow_eyes_or_skin: bool | None = Field(
        default=None, description="Are the whites of your eyes or your skin yellow?"
    )
    abdominal_swelling: bool | None = Field(
        default=None, description="Is your belly more swollen than usual?"
    )
    confusion: bool | None = Field(
        default=None,
        description="Have you or your family noticed you are confused or unusually sleepy?",
    )

    def reported(self) -> dict[str, Any]:
        """The fields that were answered (absent and null are not reported)."""
        return self.model_dump(exclude_none=True)


class DoseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drug: Drug
    slot: Slot
    taken: bool = Field(description="true if you took this dose")
    taken_at: AwareDatetime | None = Field(
        default=None, description="When you took it (only when taken), with its UTC offset."
    )
    reason: str | None = Field(
        default=None, max_length=500, description="Why the dose was not taken (only when missed)."
    )
    vomited_after: bool | None = Field(
        default=None, description="Did you vomit (throw up) soon after taking it?"
    )


class DiaryDayIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "doses": [
                    {
                        "drug": "capecitabine",
                        "slot": "morning",
                        "taken": True,
                        "taken_at": "2026-01-14T08:10:00-05:00",
                    },
                    {"drug": "capecitabine", "slot": "evening", "taken": False, "reason": "forgot"},
                ],
                "symptoms": {"stools_above_baseline": 2, "nausea": "none", "temperature_c": 37.1},
                "note": "Tired in the afternoon.",
            }
        },
    )

    doses: list[DoseIn] = Field(default_factory=list, max_length=MAX_DOSES_PER_DAY)
    symptoms: SymptomReport = Field(default_factory=SymptomReport)
    note: str | None = Field(default=None, max_length=2000)


# ------------------------------------------------------------------------------ diary views


class PlannedDoseOut(BaseModel):
    drug: Drug
    slot: Slot
    mg: float = Field(description="mg to take at this time")
    held: bool = Field(description="The study team has told you not to take this dose.")


class DoseOut(BaseModel):
    drug: Drug
    slot: Slot
    taken: bool
    taken_at: dt.datetime | None
    reason: str | None
    vomited_after: bool | None


class OverdoseFlagOut(BaseModel):
    """More of a drug reported taken than prescribed in a slot (DOMAIN.md §7), for staff."""

    date: dt.date
    cycle: int | None
    drug: Drug
    slot: Slot
    reported_taken: int
    prescribed: int = Field(description="0 or 1 doses in that slot")
    reason: OverdoseReason
    message: str


class DiaryEntryOut(BaseModel):
    version: int = Field(description="1 for the first save of the day, +1 for each later save.")
    saved_at: dt.datetime
    doses: list[DoseOut]
    symptoms: dict[str, Any]
    note: str | None


class DiaryVersionOut(BaseModel):
    version: int
    saved_at: dt.datetime
    entered_by: str


class DiaryDayOut(BaseModel):
    date: dt.date = Field(description="The patient's local date.")
    cycle: int | None = Field(description="Treatment cycle; null before C1D1 or after treatment.")
    day: int | None = Field(description="Day of the cycle (1-28; 29+ while the next is delayed).")
    is_tare_day: bool
    is_delay_gap: bool
    planned_doses: list[PlannedDoseOut]
    entry: DiaryEntryOut | None = Field(description="What was saved (latest version), if any.")
    status: Literal["not_open_yet", "open", "closed", "before_enrolment"]
    editable: bool
    editable_until: dt.datetime = Field(description="When the day closes, in UTC.")
    editable_until_local: dt.datetime = Field(description="The same instant, local time.")
    flags: list[OverdoseFlagOut]
    versions: list[DiaryVersionOut] | None = Field(
        default=None, description="Staff view only: every saved version, oldest first."
    )


class DiaryOut(BaseModel):
    patient_id: str
    subject_id: str
    timezone: str
    today: dt.date = Field(description="The patient's local date now.")
    first_day: dt.date
    last_day: dt.date
    days: list[DiaryDayOut]


# ----------------------------------------------------------------------------- staff inputs


class DoseHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date = Field(description="The patient's local date of the held dose.")
    drug: Drug
    slot: Slot | None = Field(default=None, description="Leave out to hold the whole day.")
    reason: Reason

    _reason = field_validator("reason")(lambda reason: _not_blank(reason))


class DoseHoldOut(BaseModel):
    id: str
    patient_id: str
    date: dt.date
    drug: Drug
    slot: Slot | None
    reason: str
    created_by: str
    created_at: dt.datetime
    held_doses: list[PlannedDoseOut] = Field(description="The doses of that day now held.")


class DoseChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_cycle: int = Field(ge=1, le=200)
    drug: Drug
    mg: float = Field(
        gt=0,
        allow_inf_nan=False,
        description="mg per administration (or the day's total for a divided dose).",
    )
    reason: Reason

    _reason = field_validator("reason")(lambda reason: _not_blank(reason))


class DoseChangeOut(BaseModel):
    id: str
    patient_id: str
    from_cycle: int
    drug: Drug
    mg: float
    reason: str
    created_by: str
    created_at: dt.datetime


class CycleDelayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cycle: int = Field(ge=2, le=200, description="The cycle whose start moves (C1D1 cannot).")
    starts_on: dt.date = Field(description="Its new day 1, a local date.")
    reason: Reason

    _reason = field_validator("reason")(lambda reason: _not_blank(reason))


class CycleDelayOut(BaseModel):
    id: str
    patient_id: str
    cycle: int
    starts_on: dt.date
    reason: str
    created_by: str
    created_at: dt.datetime


def max_dose_mg(drug: str) -> float:
    return float(MAX_DOSE_MG[drug])


# -------------------------------------------------------------------------------- adherence


class AdherenceRowOut(BaseModel):
    cycle: int
    drug: Drug
    scheduled: int = Field(description="taken + missed")
    taken: int
    missed: int = Field(description="missed_reported + unreported")
    missed_reported: int
    unreported: int
    pending: int = Field(description="Not reported yet; the day can still be entered.")
    held: int
    percent: float | None = Field(description="taken / scheduled x 100; null if none scheduled")
    below_threshold: bool
    overdose_flags: list[OverdoseFlagOut]


class AdherenceOut(BaseModel):
    patient_id: str
    subject_id: str
    site_id: str
    as_of: dt.date = Field(description="The patient's local date the figures run to.")
    method: str
    threshold_percent: float
    by_cycle_and_drug: list[AdherenceRowOut]
    off_treatment_flags: list[OverdoseFlagOut]


class PatientBelowThreshold(BaseModel):
    patient_id: str
    subject_id: str
    site_id: str
    lowest_percent: float
    below: list[AdherenceRowOut] = Field(description="The cycles and drugs under the limit.")


class AdherenceReportOut(BaseModel):
    below_percent: float
    site_id: str | None
    method: str
    patients: list[PatientBelowThreshold]


# ---------------------------------------------------------------------------- reminder hook


class ReminderWebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="The site's SMS/push gateway endpoint (HTTPS).")
    secret: WebhookSecret


class ReminderWebhookOut(BaseModel):
    site_id: str
    url: str
    enabled: bool
    disabled_reason: str | None
    updated_at: dt.datetime
