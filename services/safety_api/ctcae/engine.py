"""CTCAE v4.03 grading of one lab result or one patient symptom report: pure functions.

The clinical rules live in ``data/lab_rules.json`` and ``data/symptom_rules.json`` (validated by
``rules.py``); this module is the small interpreter over them. Numbers are compared as
``Decimal`` so that CTCAE's boundaries hold exactly (bilirubin 1.8 with ULN 1.2 is exactly
1.5 x ULN, hence grade 1). Input that cannot be graded without guessing raises GradingError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import Final, Literal

from services.safety_api.ctcae import units
from services.safety_api.ctcae.errors import GradingError
from services.safety_api.ctcae.rules import (
    AnalyteRule,
    ArmWhen,
    SymptomFieldRule,
    TermRule,
    lab_rules,
    symptom_rules,
)

__all__ = [
    "GradeResult",
    "GradingError",
    "grade_lab",
    "grade_symptoms",
    "is_graded",
    "resolve_analyte",
]

ResultDirection = Literal["high", "low", "normal"]

# Enough digits that multiplying a CTCAE edge by a reference limit never rounds.
_CTX: Final = Context(prec=40)
# x_uln is reported, not compared: Python's default 28 significant digits, whatever the caller's
# thread context says.
_RATIO_CTX: Final = Context(prec=28)
_ONE: Final = Decimal(1)
_X_ULN_PLACES: Final = Decimal("0.0001")

# Index of each reference value in the (ULN, LLN, baseline) tuple passed to the arm loop.
_REF_INDEX: Final = {"ULN": 0, "LLN": 1, "baseline": 2}
_REF_FIELD: Final = ("ref_high", "ref_low", "baseline")
_NO_REF: Final = -1


@dataclass(frozen=True, slots=True)
class GradeResult:
    """One CTCAE term graded. ``criteria`` is the CSV text of that grade (None at grade 0)."""

    term: str
    meddra_code: str
    grade: int
    direction: ResultDirection | None  # None for symptoms, which have no direction
    x_uln: Decimal | None
    criteria: str | None
    needs_clinical_assessment: bool

    def to_dict(self) -> dict[str, object]:
        """The /v1/grade result shape; x_uln as a float to 4 decimal places."""
        return {
            "term": self.term,
            "meddra_code": self.meddra_code,
            "grade": self.grade,
            "direction": self.direction,
            "x_uln": None if self.x_uln is None else _display_ratio(self.x_uln),
            "criteria": self.criteria,
            "needs_clinical_assessment": self.needs_clinical_assessment,
        }


def _display_ratio(ratio: Decimal) -> float:
    try:
        return float(ratio.quantize(_X_ULN_PLACES, context=_CTX))
    except InvalidOperation:  # too large to carry 4 places in 40 digits; rounding is moot
        return float(ratio)


# --------------------------------------------------------------------------- compiled plans
# The rules are turned once into tuples per (analyte, unit), so grading is a lookup and a loop.

Edges = tuple[tuple[int, Decimal, int], ...]  # (grade, number, reference index), highest first


@dataclass(frozen=True, slots=True)
class _TermPlan:
    rule: TermRule
    high: bool
    arms: tuple[tuple[ArmWhen, Edges], ...]
    criteria: tuple[str | None, ...]  # by grade 0..4


@dataclass(frozen=True, slots=True)
class _Plan:
    analyte: AnalyteRule
    unit: str
    grading_unit: str
    factor: Decimal | None  # to the grading unit; None when it is 1
    terms: tuple[_TermPlan, ...]


def _compile_plans() -> dict[tuple[str, str], _Plan]:
    plans: dict[tuple[str, str], _Plan] = {}
    for analyte in lab_rules().analytes.values():
        for unit, grading_unit in analyte.units.items():
            factor = units.conversion_factor(unit, grading_unit)
            terms = tuple(
                _TermPlan(
                    rule=term,
                    high=term.direction == "high",
                    arms=tuple(
                        (
                            arm.when,
                            tuple(
                                (
                                    e.grade,
                                    e.number,
                                    _NO_REF if e.reference is None else _REF_INDEX[e.reference],
                                )
                                for e in arm.edges_by_unit[grading_unit]
                            ),
                        )
                        for arm in term.arms
                    ),
                    criteria=(None, *(term.ctcae.criteria(g) for g in (1, 2, 3, 4))),
                )
                for term in analyte.terms
            )
            plans[(analyte.code, unit)] = _Plan(
                analyte, unit, grading_unit, None if factor == _ONE else factor, terms
            )
    return plans


_PLANS: Final = _compile_plans()
_ANALYTES: Final = lab_rules().analytes
_BY_LOINC: Final = lab_rules().by_loinc
_SYMPTOMS: Final = symptom_rules()


# --------------------------------------------------------------------------- input checks


def _to_decimal(raw: object, field: str) -> Decimal:
    """A finite Decimal from int/float/str/Decimal; floats via str so JSON 1.8 stays 1.8."""
    if isinstance(raw, Decimal):
        number = raw
    elif isinstance(raw, int) and not isinstance(raw, bool):
        return Decimal(raw)
    elif isinstance(raw, float | str) and not isinstance(raw, bool):
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise GradingError(field, f"{field} must be a number; got {raw!r}.") from None
    else:
        raise GradingError(field, f"{field} must be a number; got {raw!r}.")
    if not number.is_finite():
        raise GradingError(field, f"{field} must be a finite number; got {raw!r}.")
    return number


def _limit(raw: object, field: str, *, zero_ok: bool) -> Decimal | None:
    if raw is None:
        return None
    number = _to_decimal(raw, field)
    if number < 0 or (number == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise GradingError(field, f"{field} must be {bound}; got {raw!r}.")
    return number


def _analyte_list() -> str:
    return ", ".join(sorted(_ANALYTES))


def resolve_analyte(analyte: str | None, loinc: str | None) -> AnalyteRule:
    """The analyte named by its code (e.g. "ALT") or by any of its LOINC codes; both must agree."""
    by_name = by_code = None
    if analyte is not None:
        if not isinstance(analyte, str):
            raise GradingError(
                "analyte", f"analyte must be a string such as 'ALT'; got {analyte!r}."
            )
        by_name = _ANALYTES.get(analyte.strip().upper())
        if by_name is None:
            raise GradingError(
                "analyte",
                f"Unknown analyte {analyte!r}; send one of {_analyte_list()}, or a LOINC code "
                "in 'loinc'.",
            )
    if loinc is not None:
        if not isinstance(loinc, str):
            raise GradingError("loinc", f"loinc must be a string such as '1742-6'; got {loinc!r}.")
        by_code = _BY_LOINC.get(loinc.strip())
        if by_code is None:
            raise GradingError(
                "loinc",
                f"LOINC {loinc!r} is not a code this service grades; send a LOINC code of one of "
                f"{_analyte_list()}, or the analyte name in 'analyte'.",
            )
    if by_name is not None and by_code is not None and by_name is not by_code:
        raise GradingError(
            "loinc",
            f"LOINC {loinc} is {by_code.code}, but analyte says {by_name.code}; send one of them, "
            "or make them agree.",
        )
    found = by_name or by_code
    if found is None:
        raise GradingError(
            "analyte", f"Send 'analyte' (one of {_analyte_list()}) or its LOINC code in 'loinc'."
        )
    return found


def is_graded(analyte: str | None = None, loinc: str | None = None) -> bool:
    """False for analytes tracked without a CTCAE term (chromogranin A, a tumour marker)."""
    return resolve_analyte(analyte, loinc).is_graded


def _plan_for(analyte: AnalyteRule, unit: object) -> _Plan:
    canonical = units.normalise_unit(unit) if isinstance(unit, str) else None
    plan = _PLANS.get((analyte.code, canonical)) if canonical else None
    if plan is not None:
        return plan
    accepted = ", ".join(analyte.units)
    if canonical is not None and canonical in analyte.refused_units:
        reason = analyte.refused_units[canonical]
        raise GradingError("unit", f"{analyte.code} in {unit}: {reason}; send it in {accepted}.")
    if unit is None:
        raise GradingError("unit", f"{analyte.code} needs a unit; send one of {accepted}.")
    raise GradingError(
        "unit",
        f"Unit {unit!r} is not accepted for {analyte.code}; send one of {accepted} (UCUM codes).",
    )


# --------------------------------------------------------------------------- lab grading


def _arm_grade(
    edges: Edges, high: bool, value: Decimal, refs: tuple[Decimal | None, ...]
) -> int | None:
    """The grade on one arm, or None when it hangs on a reference value that was not sent.

    Edges run from the highest grade down. CTCAE's "A - B" excludes A, so a high-direction grade
    starts strictly above its edge and a low-direction grade strictly below it.
    """
    for grade, number, ref in edges:
        if ref == _NO_REF:
            limit = number
        else:
            reference = refs[ref]
            if reference is None:
                return None
            limit = reference if number == _ONE else _CTX.multiply(number, reference)
        if (value > limit) if high else (value < limit):
            return grade
    return 0


def _arm_applies(when: ArmWhen, refs: tuple[Decimal | None, ...], anticoagulated: bool) -> bool:
    if when == "always":
        return True
    if when == "baseline_given":
        return refs[2] is not None
    return anticoagulated == (when == "anticoagulated")


def _term_grade(
    term: _TermPlan, value: Decimal, refs: tuple[Decimal | None, ...], anticoagulated: bool
) -> int | None:
    """The worse of the term's applicable arms (CTCAE Creatinine increased: ULN or baseline)."""
    worst = 0
    for when, edges in term.arms:
        if not _arm_applies(when, refs, anticoagulated):
            continue
        grade = _arm_grade(edges, term.high, value, refs)
        if grade is None:
            return None
        if grade > worst:
            worst = grade
    return worst


def _missing_reference(
    plan: _Plan,
    terms: tuple[_TermPlan, ...],
    value: Decimal,
    refs: tuple[Decimal | None, ...],
    anticoagulated: bool,
    value_text: str,
) -> GradingError:
    """Say which reference limit the grade hangs on, and why."""
    unit = plan.unit
    missing: list[tuple[_TermPlan, str, bool]] = []  # (term, field, arm is a pure ratio)
    for term in terms:
        for when, edges in term.arms:
            if not _arm_applies(when, refs, anticoagulated):
                continue
            if _arm_grade(edges, term.high, value, refs) is None:
                ref = next(r for _, _, r in edges if r != _NO_REF and refs[r] is None)
                ratio = all(r != _NO_REF for _, _, r in edges)
                missing.append((term, _REF_FIELD[ref], ratio))
    term, field, ratio = missing[0]
    if len(terms) > 1:
        names = " and ".join(dict.fromkeys(f for _, f, _ in missing))
        return GradingError(
            field,
            f"{plan.analyte.code} {value_text} {unit} is within CTCAE's fixed limits for "
            f"{' and '.join(t.rule.term for t in terms)}, so whether it is abnormal depends on the "
            f"lab's reference range; send {names} in {unit}.",
        )
    if ratio:
        return GradingError(
            field,
            f"{plan.analyte.code} is graded as a multiple of the upper limit of normal (CTCAE "
            f"'{term.rule.term}'); send ref_high in {unit}.",
        )
    limit_name = "upper" if field == "ref_high" else "lower"
    return GradingError(
        field,
        f"{plan.analyte.code} {value_text} {unit} does not reach CTCAE's fixed limits for the "
        f"higher grades of '{term.rule.term}', so grade 0 versus 1 depends on the {limit_name} "
        f"limit of normal; send {field} in {unit}.",
    )


def grade_lab(
    analyte: str | None = None,
    value: object = None,
    unit: str | None = None,
    *,
    loinc: str | None = None,
    ref_low: object = None,
    ref_high: object = None,
    baseline: object = None,
    anticoagulated: bool | None = False,
) -> GradeResult | None:
    """Grade one lab result per CTCAE v4.03.

    ``value``, ``ref_low``, ``ref_high`` and ``baseline`` are in ``unit`` and may be int, float,
    str or Decimal. ``baseline`` is used by Creatinine increased (when given) and by INR when
    ``anticoagulated`` (None counts as False); other analytes ignore it, since v4.03 has no
    baseline arm for them. Returns None for an analyte that is tracked but not graded
    (chromogranin A); raises GradingError for anything that cannot be graded honestly.
    """
    rule = resolve_analyte(analyte, loinc)
    plan = _plan_for(rule, unit)
    if value is None:
        raise GradingError("value", f"{rule.code} needs a value in {plan.unit}.")
    number = _to_decimal(value, "value")
    if number < 0:
        raise GradingError("value", f"value must be >= 0; got {value!r}.")
    uln = _limit(ref_high, "ref_high", zero_ok=False)
    lln = _limit(ref_low, "ref_low", zero_ok=True)
    base = _limit(baseline, "baseline", zero_ok=False)
    if uln is not None and lln is not None and lln >= uln:
        raise GradingError("ref_low", f"ref_low ({ref_low}) must be below ref_high ({ref_high}).")
    if anticoagulated is None:  # JSON null: not stated, the same as the default
        anticoagulated = False
    if not isinstance(anticoagulated, bool):
        raise GradingError("anticoagulated", "anticoagulated must be true or false.")
    if not plan.terms:
        return None
    if (
        anticoagulated
        and base is None
        and any(when == "anticoagulated" for t in plan.terms for when, _ in t.arms)
    ):
        raise GradingError(
            "baseline",
            f"{rule.code} on anticoagulation is graded as a multiple of the subject's baseline "
            f"(CTCAE '{plan.terms[0].rule.term}'); send the subject's baseline {rule.code} in "
            "baseline, or anticoagulated false to grade against ref_high.",
        )

    factor = plan.factor
    refs: tuple[Decimal | None, ...] = (uln, lln, base)
    scaled = number
    if factor is not None:
        scaled = _CTX.multiply(number, factor)
        refs = tuple(None if r is None else _CTX.multiply(r, factor) for r in (uln, lln, base))

    terms = plan.terms
    if len(terms) == 1:
        chosen = terms[0]
        grade = _term_grade(chosen, scaled, refs, anticoagulated)
        if grade is None:
            raise _missing_reference(plan, terms, scaled, refs, anticoagulated, str(value))
        direction: ResultDirection = chosen.rule.direction
    else:
        chosen, grade, direction = _grade_two_sided(plan, scaled, refs, str(value))

    return GradeResult(
        term=chosen.rule.term,
        meddra_code=chosen.rule.meddra_code,
        grade=grade,
        direction=direction,
        x_uln=_RATIO_CTX.divide(number, uln) if chosen.high and uln is not None else None,
        criteria=chosen.criteria[grade],
        needs_clinical_assessment=grade in chosen.rule.needs_clinical_assessment_grades,
    )


def _grade_two_sided(
    plan: _Plan, value: Decimal, refs: tuple[Decimal | None, ...], value_text: str
) -> tuple[_TermPlan, int, ResultDirection]:
    """Potassium, sodium, glucose: one lab gives one result, on the side of the value."""
    graded = [(term, _term_grade(term, value, refs, False)) for term in plan.terms]
    abnormal = [(term, grade) for term, grade in graded if grade]
    if len(abnormal) > 1:
        raise GradingError(
            "ref_high",
            f"{plan.analyte.code} {value_text} {plan.unit} is both above and below the reference "
            "range sent; check ref_low and ref_high.",
        )
    if abnormal:
        term, grade = abnormal[0]
        return term, grade, term.rule.direction
    undetermined = tuple(term for term, grade in graded if grade is None)
    if undetermined:
        raise _missing_reference(plan, undetermined, value, refs, False, value_text)
    # In range (both limits known, else a grade above would be undetermined): report the term
    # on the side the value leans to; exactly mid-range counts as the high side.
    uln, lln = refs[0], refs[1]
    assert uln is not None and lln is not None  # both known, else a grade above would be None
    high_side = value * 2 >= uln + lln
    term = next(t for t in plan.terms if t.high == high_side)
    return term, 0, "normal"


# --------------------------------------------------------------------------- symptom grading


def _symptom_grade(rule: SymptomFieldRule, raw: object) -> int:
    field = f"report.{rule.field}"
    if rule.type == "boolean":
        if not isinstance(raw, bool):
            raise GradingError(field, f"{rule.field} must be true or false; got {raw!r}.")
        return rule.grade_if_true if raw else rule.grade_if_false
    if rule.type == "count":
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise GradingError(field, f"{rule.field} must be a whole number >= 0; got {raw!r}.")
        return next(grade for minimum, grade in rule.bands if raw >= minimum)
    if rule.type == "choice":
        if not isinstance(raw, str) or raw not in rule.choices:
            raise GradingError(
                field, f"{rule.field} must be one of {', '.join(rule.choices)}; got {raw!r}."
            )
        return rule.choices[raw]
    number = _to_decimal(raw, field)
    assert rule.plausible_range is not None  # checked when the rules load
    low, high = rule.plausible_range
    if not low <= number <= high:
        raise GradingError(
            field,
            f"{rule.field} {raw!r} is outside {low}-{high} degrees C; send the temperature in "
            "degrees Celsius (a Fahrenheit reading would be graded wrongly).",
        )
    for grade, inclusive, edge in rule.edges:
        if number >= edge if inclusive else number > edge:
            return grade
    return 0


def grade_symptoms(report: Mapping[str, object]) -> list[GradeResult]:
    """Grade a patient symptom report: one result per CTCAE term reported, grade 0 included.

    Absent (or null) fields are not reported and give no result. Fields of the same term
    (stools_above_baseline and incontinence -> Diarrhea) give one result, the worse grade.
    Hepatic warning signs are validated but not graded. Results follow symptom_rules.json order.
    """
    if not isinstance(report, Mapping):
        raise GradingError("report", "report must be an object of symptom fields.")
    for key in report:
        if key not in _SYMPTOMS:
            raise GradingError(
                f"report.{key}",
                f"Unknown symptom field {key!r}; the fields are {', '.join(_SYMPTOMS)}.",
            )
    worst: dict[str, tuple[SymptomFieldRule, int, bool]] = {}
    for name, rule in _SYMPTOMS.items():
        raw = report.get(name)
        if raw is None:
            continue
        grade = _symptom_grade(rule, raw)
        if rule.ctcae is None:
            continue
        code = rule.ctcae.meddra_code
        flagged = grade in rule.needs_clinical_assessment_grades
        previous = worst.get(code)
        if previous is None or grade > previous[1]:
            worst[code] = (rule, grade, flagged)
    results = []
    for rule, grade, flagged in worst.values():
        ctcae = rule.ctcae
        assert ctcae is not None  # ungraded fields were skipped above
        results.append(
            GradeResult(
                term=ctcae.term,
                meddra_code=ctcae.meddra_code,
                grade=grade,
                direction=None,
                x_uln=None,
                criteria=ctcae.criteria(grade) if grade else None,
                needs_clinical_assessment=flagged,
            )
        )
    return results
