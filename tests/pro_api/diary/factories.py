"""Factories for diary tests: a patient plan with the protocol defaults, overridable per test."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.pro_api.diary.calendar import PatientPlan

C1D1 = date(2026, 1, 5)  # a Monday; C2D1 = 2026-02-02, C3D1 = 2026-03-02
NEW_YORK = "America/New_York"


def cycle_date(cycle: int, day: int, start: date = C1D1) -> date:
    """The local date of CxDy when no cycle is delayed."""
    return start + timedelta(days=(cycle - 1) * 28 + day - 1)


def make_plan(**overrides: Any) -> PatientPlan:
    values: dict[str, Any] = {
        "treatment_start": C1D1,
        "timezone": NEW_YORK,
        "starting_dose_mg": {"capecitabine": 1500, "temozolomide": 300},
    }
    values.update(overrides)
    return PatientPlan(**values)
