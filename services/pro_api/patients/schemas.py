"""Request and response bodies for patients: enrolment, the record, status and calendar changes."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from services.common.sites import valid_timezone
from services.pro_api.diary.regimen import load_regimen

SUBJECT_ID_PATTERN = r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$"
SUBJECT_ID_MAX_LENGTH = 32
MAX_TARE_DATES = 4  # DOMAIN.md §1: one TARE per liver lobe (C2D7, then C3D7 or C4D7); room to spare

# The highest mg a site can enter per drug, to catch a slipped digit, not to judge the dose.
# DOMAIN.md §1: capecitabine 600-750 mg/m² twice daily and temozolomide 150-200 mg/m² daily; at a
# body surface area of 2.6 m² that is about 1,950 mg and 520 mg.
MAX_DOSE_MG = {"capecitabine": 4000, "temozolomide": 1000}

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")


class PatientStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


def tare_dates_on_or_after(dates: list[dt.date], treatment_start: dt.date | None) -> list[dt.date]:
    if treatment_start is not None:
        early = [d.isoformat() for d in dates if d < treatment_start]
        if early:
            raise ValueError(
                f"TARE date {', '.join(early)} is before treatment_start "
                f"{treatment_start.isoformat()}; TARE follows the start of CapTem (the dominant "
                "lobe on C2D7). Check both dates."
            )
    if len(set(dates)) != len(dates):
        raise ValueError("a TARE date is listed twice; list each procedure once")
    return sorted(dates)


def _not_blank(reason: str) -> str:
    if not reason.strip():
        raise ValueError("the reason is blank; say in a few words why, for the audit trail")
    return reason.strip()


def normalise_language(value: str) -> str:
    """BCP 47 in its usual case: ``es-mx`` → ``es-MX``, ``zh-hant-tw`` → ``zh-Hant-TW``."""
    if len(value) > 16 or not _BCP47.match(value):
        raise ValueError(
            f"{value!r} is not a language tag; use a BCP 47 tag such as 'en', 'es' or 'es-MX'"
        )
    first, *rest = value.split("-")
    parts = [first.lower()]
    for part in rest:
        if len(part) == 2 and part.isalpha():
            parts.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())  # script
        else:
            parts.append(part.lower())
    return "-".join(parts)


class RegimenDoses(BaseModel):
    """The mg the site prescribed per drug, in the regimen's dose basis."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        default="default",
        description="Which protocol version's schedule: `default` or `g2_pilot`.",
        max_length=32,
    )
    capecitabine_mg: int | float = Field(gt=0, le=MAX_DOSE_MG["capecitabine"])
    temozolomide_mg: int | float = Field(gt=0, le=MAX_DOSE_MG["temozolomide"])

    @field_validator("code")
    @classmethod
    def _known_regimen(cls, code: str) -> str:
        try:
            load_regimen(code)
        except (ValueError, OSError):
            raise ValueError(
                f"{code!r} is not a regimen of this trial; use 'default' or 'g2_pilot'"
            ) from None
        return code

    @model_validator(mode="after")
    def _a_dose_for_every_drug(self) -> RegimenDoses:
        for schedule in load_regimen(self.code).drugs:
            if getattr(self, f"{schedule.drug}_mg", None) is None:
                raise ValueError(f"regimen {self.code!r} needs {schedule.drug}_mg")
        return self


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: str = Field(
        max_length=SUBJECT_ID_MAX_LENGTH,
        pattern=SUBJECT_ID_PATTERN,
        description="Study subject ID, letters and digits in dash-separated groups, e.g. "
        "`101-0007`. No names or record numbers.",
    )
    timezone: str = Field(description="The patient's IANA time zone, e.g. America/New_York")
    language: str = Field(description="BCP 47 language tag, e.g. `en` or `es-MX`")
    treatment_start: dt.date = Field(description="Cycle 1 day 1 of CapTem")
    regimen: RegimenDoses
    tare_dates: list[dt.date] = Field(default_factory=list, max_length=MAX_TARE_DATES)

    _tz = field_validator("timezone")(valid_timezone)
    _language = field_validator("language")(normalise_language)

    @field_validator("tare_dates")
    @classmethod
    def _tare_after_start(cls, dates: list[dt.date], info: ValidationInfo) -> list[dt.date]:
        return tare_dates_on_or_after(dates, info.data.get("treatment_start"))


class CalendarChange(BaseModel):
    """A change to the dates that drive the diary calendar and safety_api's cycles."""

    model_config = ConfigDict(extra="forbid")

    treatment_start: dt.date | None = None
    tare_dates: list[dt.date] | None = Field(default=None, max_length=MAX_TARE_DATES)
    reason: str = Field(
        min_length=1, max_length=1000, description="Why the dates change, for the audit trail."
    )

    _reason = field_validator("reason")(lambda reason: _not_blank(reason))

    @model_validator(mode="after")
    def _changes_something(self) -> CalendarChange:
        if self.treatment_start is None and self.tare_dates is None:
            raise ValueError("send treatment_start, tare_dates or both")
        return self


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=1000,
        description="Why, in words the audit trail will keep, e.g. 'withdrew consent'.",
    )

    _reason = field_validator("reason")(lambda reason: _not_blank(reason))


class PatientEnrolled(BaseModel):
    id: str
    subject_id: str
    site_id: str
    activation_code: str = Field(description="Give this to the patient; it is shown only now.")
    activation_expires_at: dt.datetime
    activation_link: str = Field(description="Path of the phone page that activates with the code")


class ActivationCodeIssued(BaseModel):
    patient_id: str
    activation_code: str = Field(description="Give this to the patient; it is shown only now.")
    activation_expires_at: dt.datetime
    activation_link: str


class PatientPublic(BaseModel):
    id: str
    subject_id: str
    site_id: str
    timezone: str
    language: str
    treatment_start: dt.date
    enrolled_on: dt.date
    regimen: dict[str, Any]
    tare_dates: list[dt.date]
    status: PatientStatus
    status_changed_at: dt.datetime | None
    activated_at: dt.datetime | None = Field(
        description="When the patient last activated a phone; null if never."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class PatientList(BaseModel):
    items: list[PatientPublic]
    next_offset: int | None = Field(
        default=None,
        description="More patients match: ask again with this `offset`. null on the last page.",
    )
