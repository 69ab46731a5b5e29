"""The CapTem regimen as configuration, validated when loaded.

Dosing differs between protocol versions of NCT04339036 (DOMAIN.md §1), so which drug is taken
on which cycle days and in which slots is data (``data/regimen_*.json``), never code. The code
here only checks that a regimen file is self-consistent and answers "what is due on cycle day N".
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The API contract (DESIGN.md, `PUT /v1/me/diary/{date}`) fixes these names.
Drug = Literal["capecitabine", "temozolomide"]
Slot = Literal["morning", "evening", "bedtime"]

# Order of the day, so a diary day lists doses in the order the patient takes them.
SLOT_ORDER: tuple[Slot, ...] = ("morning", "evening", "bedtime")

DEFAULT_CYCLE_LENGTH_DAYS = 28  # DOMAIN.md §1: "Cycle = 28 days".

# How the site's "mg" for a drug maps onto one administration (DOMAIN.md §1):
# - "per_dose": the mg is taken at every slot, e.g. capecitabine 750 mg/m² *twice daily*.
# - "daily_total_divided": the mg is the day's total, split evenly over the slots, e.g. the G2
#   pilot's temozolomide 150-200 mg/m² "in 2 divided doses".
DoseBasis = Literal["per_dose", "daily_total_divided"]

_DATA_DIR = Path(__file__).parent / "data"

_STRICT = ConfigDict(frozen=True, extra="forbid")


class DosingDays(BaseModel):
    """An inclusive range of cycle days, e.g. days 1-14."""

    model_config = _STRICT

    first: int = Field(ge=1)
    last: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> DosingDays:
        if self.last < self.first:
            raise ValueError(f"dosing days {self.first}-{self.last}: last is before first")
        return self

    def __contains__(self, cycle_day: object) -> bool:
        return isinstance(cycle_day, int) and self.first <= cycle_day <= self.last


class DrugSchedule(BaseModel):
    """When one drug is taken within a cycle."""

    model_config = _STRICT

    drug: Drug
    dosing_days: tuple[DosingDays, ...] = Field(min_length=1)
    slots: tuple[Slot, ...] = Field(min_length=1)
    dose_basis: DoseBasis = "per_dose"

    @model_validator(mode="after")
    def _consistent(self) -> DrugSchedule:
        if len(set(self.slots)) != len(self.slots):
            raise ValueError(f"{self.drug}: a slot is listed twice in {list(self.slots)}")
        days = [day for r in self.dosing_days for day in range(r.first, r.last + 1)]
        if len(set(days)) != len(days):
            raise ValueError(f"{self.drug}: dosing day ranges overlap")
        return self

    def is_dosing_day(self, cycle_day: int) -> bool:
        return any(cycle_day in r for r in self.dosing_days)

    def mg_per_administration(self, prescribed_mg: float) -> float:
        if self.dose_basis == "daily_total_divided":
            return prescribed_mg / len(self.slots)
        return prescribed_mg

    @property
    def administrations_per_cycle(self) -> int:
        return sum(r.last - r.first + 1 for r in self.dosing_days) * len(self.slots)


class Regimen(BaseModel):
    """A protocol version's dosing schedule; patient-specific mg, holds and delays are not here."""

    model_config = _STRICT

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    source: str = Field(min_length=1, description="Where the schedule comes from, for auditors.")
    cycle_length_days: int = Field(ge=1)
    drugs: tuple[DrugSchedule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Regimen:
        names = [d.drug for d in self.drugs]
        if len(set(names)) != len(names):
            raise ValueError(f"a drug is listed twice in {names}")
        for schedule in self.drugs:
            for r in schedule.dosing_days:
                if r.last > self.cycle_length_days:
                    raise ValueError(
                        f"{schedule.drug}: dosing day {r.last} is beyond the "
                        f"{self.cycle_length_days}-day cycle"
                    )
        return self

    def schedule_for(self, drug: Drug) -> DrugSchedule:
        for schedule in self.drugs:
            if schedule.drug == drug:
                return schedule
        raise KeyError(f"regimen {self.code!r} has no {drug}")

    def administrations_per_cycle(self, drug: Drug) -> int:
        return self.schedule_for(drug).administrations_per_cycle


def load_regimen_file(path: Path | str) -> Regimen:
    """Load and validate a regimen JSON file; raises pydantic.ValidationError if inconsistent."""
    return Regimen.model_validate_json(Path(path).read_text(encoding="utf-8"))


@cache
def load_regimen(code: str = "default") -> Regimen:
    """Load a regimen shipped with the service, e.g. ``"default"`` or ``"g2_pilot"``."""
    if not code.replace("_", "").isalnum():
        raise ValueError(f"regimen code {code!r} must be letters, digits and underscores")
    regimen = load_regimen_file(_DATA_DIR / f"regimen_{code}.json")
    if regimen.code != code:
        raise ValueError(f"regimen_{code}.json declares code {regimen.code!r}")
    return regimen
