"""Score an EORTC questionnaire response. Pure: plain values in, plain values out.

Rules (EORTC QLQ-C30 Scoring Manual, 3rd edition, Fayers et al. 2001; the same rules apply
to EORTC modules such as QLQ-GINET21):

- Raw score RS = mean of the scale's answered items.
- Linear transform to 0-100, by scale kind, with range = max - min possible response:
  functional ``(1 - (RS - 1) / range) * 100``; symptom and global ``(RS - 1) / range * 100``.
  So 100 = best functioning / worst symptom / best global health.
- Half rule: a scale is scored only if at least half of its items are answered (the mean of
  the answered items stands in for the missing ones); otherwise it is missing (None).
- Summary scores (QLQ-C30 summary, Giesinger et al., J Clin Epidemiol 2016;69:79-88): the
  mean of the listed scale scores, symptom scales entered as ``100 - score``; only when
  every listed scale has a score.

Rounding: every score is computed at full precision; summary scores use the unrounded scale
scores. Only the returned values are rounded, to 2 decimals, half away from zero on the
shortest decimal form of the float (2.675 -> 2.68, where float ``round`` gives 2.67 because
the binary value is slightly below 2.675). Recompute from the stored answers whenever more
precision is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from services.pro_api.instruments.catalog import Instrument
from services.pro_api.instruments.schema import Scale, ScaleKind

ProblemCode = Literal["unknown_item", "code_not_allowed", "item_not_shown"]

# EORTC scoring manual, linear transformation by scale kind.
TRANSFORMS: dict[ScaleKind, Callable[[float, int], float]] = {
    "functional": lambda raw, range_: (1 - (raw - 1) / range_) * 100,
    "symptom": lambda raw, range_: (raw - 1) / range_ * 100,
    "global": lambda raw, range_: (raw - 1) / range_ * 100,
}


@dataclass(frozen=True)
class AnswerProblem:
    """One thing wrong with a submitted answer, worded for a 422 problem response."""

    item: int
    problem: ProblemCode
    detail: str
    allowed_codes: tuple[int, ...] = ()


class InvalidAnswersError(ValueError):
    def __init__(self, problems: list[AnswerProblem]) -> None:
        super().__init__("; ".join(problem.detail for problem in problems))
        self.problems = problems


def validate_answers(instrument: Instrument, answers: Mapping[int, int]) -> list[AnswerProblem]:
    """Everything wrong with ``answers`` (item number -> response code); empty when valid.

    Missing items are not problems: EORTC scoring handles them (half rule)."""
    problems: list[AnswerProblem] = []
    for number in sorted(answers):
        code = answers[number]
        item = instrument.item(number)
        if item is None:
            numbers = instrument.item_numbers
            problems.append(
                AnswerProblem(
                    item=number,
                    problem="unknown_item",
                    detail=(
                        f"Item {number} is not part of {instrument.code} "
                        f"(items {numbers[0]}-{numbers[-1]})."
                    ),
                )
            )
            continue
        # bool is an int in Python; true/false is never a valid EORTC response code.
        if isinstance(code, bool) or code not in item.codes:
            allowed = ", ".join(str(c) for c in item.codes)
            problems.append(
                AnswerProblem(
                    item=number,
                    problem="code_not_allowed",
                    detail=f"Item {number}: {code!r} is not an allowed answer; allowed: {allowed}.",
                    allowed_codes=item.codes,
                )
            )
            continue
        if item.show_if is not None and answers.get(item.show_if.item) not in item.show_if.in_:
            problems.append(
                AnswerProblem(
                    item=number,
                    problem="item_not_shown",
                    detail=(
                        f"Item {number} is only asked when item {item.show_if.item} is answered "
                        f"with {', '.join(str(c) for c in item.show_if.in_)}; leave it out."
                    ),
                )
            )
    return problems


def raw_score(scale: Scale, answers: Mapping[int, int]) -> float | None:
    """Mean of the answered items, or None when fewer than half are answered (half rule)."""
    answered = [answers[number] for number in scale.items if number in answers]
    if 2 * len(answered) < len(scale.items):
        return None
    return sum(answered) / len(answered)


def scale_score(scale: Scale, answers: Mapping[int, int]) -> float | None:
    """Unrounded 0-100 score of one scale, or None when the half rule leaves it unscored."""
    raw = raw_score(scale, answers)
    if raw is None:
        return None
    return TRANSFORMS[scale.kind](raw, scale.range)


def score_response(instrument: Instrument, answers: Mapping[int, int]) -> dict[str, float | None]:
    """All scale and summary scores, keyed by EORTC abbreviation, rounded to 2 decimals.

    Raises ``InvalidAnswersError`` if ``validate_answers`` finds any problem: an invalid
    answer is refused, never scored."""
    problems = validate_answers(instrument, answers)
    if problems:
        raise InvalidAnswersError(problems)
    scores = {scale.code: scale_score(scale, answers) for scale in instrument.scales}
    for summary in instrument.summary_scores:
        parts = [
            (100 - value) if component.reverse else value
            for component in summary.components
            if (value := scores[component.scale]) is not None
        ]
        complete = len(parts) == len(summary.components)
        scores[summary.code] = sum(parts) / len(parts) if complete else None
    return {code: _round2(value) for code, value in scores.items()}


def _round2(value: float | None) -> float | None:
    if value is None:
        return None
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
