"""``POST /v1/grade``: stateless CTCAE v4.03 grading of one lab result or one symptom report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from services.common.auth import CurrentPrincipal
from services.common.errors import FieldProblem, problem_responses
from services.safety_api.ctcae import GradingError, grade_lab, grade_symptoms, resolve_analyte
from services.safety_api.ctcae.schemas import (
    GradeLabRequest,
    GradeRequest,
    GradeResponse,
    grading_field_error,
    not_graded_note,
)

router = APIRouter(tags=["grading"])

_EXAMPLES = {
    "lab": {
        "summary": "A lab result",
        "value": {
            "kind": "lab",
            "analyte": "ALT",
            "value": 130,
            "unit": "U/L",
            "ref_low": 7,
            "ref_high": 40,
        },
    },
    "symptoms": {
        "summary": "A symptom report",
        "value": {"kind": "symptoms", "report": {"nausea": "eating_less", "fatigue": "none"}},
    },
}


@router.post(
    "/v1/grade",
    response_model=GradeResponse,
    response_model_exclude_unset=True,
    responses=problem_responses(401, 422),
    summary="Grade a lab result or a symptom report (CTCAE v4.03)",
)
async def grade(
    body: Annotated[GradeRequest, Body(openapi_examples=_EXAMPLES)],
    _principal: CurrentPrincipal,
) -> dict[str, Any]:
    """One result per CTCAE term the input bears on: a lab gives one; a symptom report gives one
    per symptom reported, grade 0 included. A lab that cannot be graded honestly (unknown
    analyte, unit that cannot be converted, a reference limit the grade depends on missing) is a
    422 naming the field. Chromogranin A is not graded: `results` is empty and `note` says why."""
    try:
        if isinstance(body, GradeLabRequest):
            result = grade_lab(**body.grading_kwargs())
            if result is None:
                rule = resolve_analyte(body.analyte, body.loinc)
                return {"results": [], "note": not_graded_note(rule)}
            return {"results": [result.to_dict()]}
        return {"results": [r.to_dict() for r in grade_symptoms(body.report.reported())]}
    except GradingError as exc:
        raise FieldProblem([grading_field_error(exc)], slug="cannot-grade") from None
