"""Request and response shapes of ``/v1/subjects``."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.common.sites import SITE_ID_PATTERN
from services.safety_api.ctcae import GradingError, resolve_analyte
from services.safety_api.ctcae import units as ctcae_units

# Study subject IDs as sites write them, e.g. 101-0007: letters, digits and dashes.
SUBJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
SubjectId = Annotated[
    str,
    Path(pattern=SUBJECT_ID_PATTERN, description="Study subject ID, e.g. `101-0007`."),
]


class BaselineValue(BaseModel):
    """One baseline lab value, in a unit accepted for its analyte (as for ``/v1/grade``)."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(gt=0, allow_inf_nan=False, description="The value, e.g. 0.9")
    unit: str = Field(min_length=1, max_length=32, description="UCUM unit, e.g. mg/dL")


class SubjectIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "site_id": "101",
                "treatment_start": "2026-01-05",
                "tare_dates": ["2026-02-08"],
                "baseline": {"CREAT": {"value": 0.9, "unit": "mg/dL"}},
            }
        },
    )

    site_id: str = Field(pattern=SITE_ID_PATTERN, description="A registered site's id.")
    treatment_start: dt.date = Field(description="Cycle 1 day 1 (first CapTem dose).")
    tare_dates: list[dt.date] = Field(
        default_factory=list, max_length=10, description="Y90 radioembolization dates."
    )
    baseline: dict[str, BaselineValue] = Field(
        default_factory=dict,
        description=(
            "Baseline lab values by analyte code (as in /v1/grade, e.g. CREAT, INR), used where "
            "CTCAE v4.03 grades against baseline: creatinine, and INR on anticoagulation."
        ),
    )
    cycle_starts: list[dt.date] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Actual start dates of cycles 1..n, when delays moved them; the first is "
            "treatment_start. Omit to count nominal 28-day cycles from treatment_start."
        ),
    )

    @field_validator("tare_dates")
    @classmethod
    def _tare_dates_sorted(cls, value: list[dt.date]) -> list[dt.date]:
        return sorted(set(value))

    @field_validator("baseline")
    @classmethod
    def _known_analytes(cls, value: dict[str, BaselineValue]) -> dict[str, BaselineValue]:
        checked: dict[str, BaselineValue] = {}
        for key, item in value.items():
            try:
                rule = resolve_analyte(key, None)
            except GradingError as exc:
                raise ValueError(f"{key}: {exc.detail}") from None
            unit = ctcae_units.normalise_unit(item.unit)
            if unit is None or unit not in rule.units:
                raise ValueError(
                    f"{key}: unit {item.unit!r} is not accepted for {rule.code}; "
                    f"send one of {', '.join(rule.units)}."
                )
            checked[rule.code] = BaselineValue(value=item.value, unit=unit)
        return checked

    @model_validator(mode="after")
    def _cycle_starts_follow_treatment_start(self) -> SubjectIn:
        starts = self.cycle_starts
        if starts and starts[0] != self.treatment_start:
            raise ValueError(
                f"cycle_starts[0] is {starts[0]} but treatment_start is {self.treatment_start}; "
                "the first cycle starts on treatment_start (C1D1)."
            )
        for earlier, later in itertools.pairwise(starts):
            if later <= earlier:
                raise ValueError(
                    f"cycle_starts must be in increasing order; {later} follows {earlier}."
                )
        return self

    def stored(self) -> dict[str, object]:
        """The subject's columns as stored (dates as ISO strings in the JSON columns).

        ``baseline`` and ``cycle_starts`` left out of the request keep their stored values:
        pro_api re-sends the calendar on every change and must not wipe a baseline staff
        entered here."""
        values: dict[str, object] = {
            "site_id": self.site_id,
            "treatment_start": self.treatment_start,
            "tare_dates": [d.isoformat() for d in self.tare_dates],
            "cycle_starts": [d.isoformat() for d in self.cycle_starts],
            "baseline": {
                code: {"value": item.value, "unit": item.unit}
                for code, item in sorted(self.baseline.items())
            },
        }
        for optional in ("baseline", "cycle_starts"):
            if optional not in self.model_fields_set:
                values.pop(optional)
        return values


class SubjectPublic(BaseModel):
    id: str
    site_id: str
    treatment_start: dt.date
    tare_dates: list[dt.date]
    cycle_starts: list[dt.date]
    baseline: dict[str, BaselineValue]
    created_at: dt.datetime
    updated_at: dt.datetime
