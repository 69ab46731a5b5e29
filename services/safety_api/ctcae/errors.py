"""The one error the grading engine raises for input it cannot grade honestly."""

from __future__ import annotations


class GradingError(Exception):
    """Input that cannot be graded without guessing.

    ``field`` names the offending input ("analyte", "unit", "ref_high", "report.nausea", ...) and
    ``detail`` is a sentence for people saying what is wrong and what would be right. The HTTP
    layer turns it into a 422 problem.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
