"""CTCAE v4.03 grading: pure functions over validated rule data (no I/O beyond package data)."""

from services.safety_api.ctcae.engine import (
    GradeResult,
    grade_lab,
    grade_symptoms,
    is_graded,
    resolve_analyte,
)
from services.safety_api.ctcae.errors import GradingError

__all__ = [
    "GradeResult",
    "GradingError",
    "grade_lab",
    "grade_symptoms",
    "is_graded",
    "resolve_analyte",
]
