"""Load and validate the CTCAE v4.03 table and the grading rules (package data, read once).

The data files are the clinical rules; this module only checks that they are consistent with
the NCI table and with themselves, and turns them into immutable structures. Anything wrong
fails loudly at import, naming the file, the analyte or field, and the problem.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.safety_api.ctcae import units

CSV_FILE = "ctcae_v4.03.csv"
LAB_RULES_FILE = "lab_rules.json"
SYMPTOM_RULES_FILE = "symptom_rules.json"

Direction = Literal["high", "low"]
Basis = Literal["x_uln", "x_baseline", "absolute"]
ArmWhen = Literal["always", "baseline_given", "anticoagulated", "not_anticoagulated"]
Reference = Literal["ULN", "LLN", "baseline"]

GRADES = (1, 2, 3, 4)


class RulesError(RuntimeError):
    """The packaged rule data is inconsistent; the service must not start."""


# --------------------------------------------------------------------------- CTCAE table


@dataclass(frozen=True, slots=True)
class CtcaeTerm:
    meddra_code: str
    soc: str
    term: str
    grades: tuple[str | None, ...]  # text of grades 1..5; None where NCI wrote "-"
    definition: str

    def criteria(self, grade: int) -> str | None:
        """The CSV text of a grade, verbatim; None for grade 0 or a grade CTCAE leaves empty."""
        return self.grades[grade - 1] if 1 <= grade <= 5 else None


def _read_data(name: str) -> str:
    return (resources.files(__package__) / "data" / name).read_text(encoding="utf-8")


@cache
def ctcae_table() -> Mapping[str, CtcaeTerm]:
    """All 790 CTCAE v4.03 terms by MedDRA code."""
    table: dict[str, CtcaeTerm] = {}
    for row in csv.DictReader(io.StringIO(_read_data(CSV_FILE), newline="")):
        code = row["meddra_code"]
        if code in table:
            raise RulesError(f"{CSV_FILE}: MedDRA code {code} appears twice")
        table[code] = CtcaeTerm(
            meddra_code=code,
            soc=row["soc"],
            term=row["term"],
            grades=tuple(row[f"grade{g}"] or None for g in range(1, 6)),
            definition=row["definition"],
        )
    return MappingProxyType(table)


# --------------------------------------------------------------------------- raw file shapes


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RawArm(_Raw):
    basis: Basis
    when: ArmWhen
    multiples: dict[str, str] | None = None
    limits_by_unit: dict[str, dict[str, str]] | None = None


class _RawTerm(_Raw):
    meddra_code: str
    term: str
    direction: Direction
    arms: list[_RawArm] = Field(min_length=1)
    clinical_criteria: dict[str, str]
    needs_clinical_assessment_grades: list[int]
    note: str | None = None


class _RawAnalyte(_Raw):
    name: str
    loinc: list[str] = Field(min_length=1)
    units: dict[str, str] = Field(min_length=1)
    refused_units: dict[str, str] = {}
    graded: bool
    tracked_as: str | None = None
    terms: list[_RawTerm]
    note: str | None = None


class _RawLabRules(_Raw):
    source: str
    how_to_read: list[str]
    analytes: dict[str, _RawAnalyte]


class _RawBand(_Raw):
    min: int
    grade: int


class _RawEdge(_Raw):
    grade: int
    op: Literal[">=", ">"]
    value: str


class _RawSymptomField(_Raw):
    field: str
    type: Literal["count", "boolean", "choice", "measure"]
    graded: bool = True
    meddra_code: str | None = None
    bands: list[_RawBand] | None = None
    grade_if_true: int | None = None
    grade_if_false: int | None = None
    choices: dict[str, int] | None = None
    unit: str | None = None
    edges: list[_RawEdge] | None = None
    plausible_range: tuple[str, str] | None = None
    needs_clinical_assessment_grades: list[int] = []
    note: str | None = None


class _RawSymptomRules(_Raw):
    source: str
    how_to_read: list[str]
    fields: list[_RawSymptomField]


# --------------------------------------------------------------------------- compiled rules


@dataclass(frozen=True, slots=True)
class Edge:
    """The lower edge of one grade: ``number`` alone, or ``number`` x a reference value."""

    grade: int
    number: Decimal
    reference: Reference | None


@dataclass(frozen=True, slots=True)
class Arm:
    basis: Basis
    when: ArmWhen
    # grading unit -> edges, highest grade first (ratio arms: the same edges for every unit)
    edges_by_unit: Mapping[str, tuple[Edge, ...]]


@dataclass(frozen=True, slots=True)
class TermRule:
    meddra_code: str
    term: str
    direction: Direction
    arms: tuple[Arm, ...]
    ctcae: CtcaeTerm
    clinical_criteria: Mapping[int, str]
    needs_clinical_assessment_grades: frozenset[int]


@dataclass(frozen=True, slots=True)
class AnalyteRule:
    code: str
    name: str
    loinc: tuple[str, ...]
    units: Mapping[str, str]  # accepted canonical UCUM unit -> unit whose CTCAE numbers grade it
    refused_units: Mapping[str, str]
    graded: bool
    tracked_as: str | None
    terms: tuple[TermRule, ...]

    @property
    def is_graded(self) -> bool:
        """False for analytes tracked without a CTCAE term (chromogranin A)."""
        return self.graded


@dataclass(frozen=True, slots=True)
class LabRules:
    analytes: Mapping[str, AnalyteRule]
    by_loinc: Mapping[str, AnalyteRule]


@dataclass(frozen=True, slots=True)
class SymptomFieldRule:
    field: str
    type: Literal["count", "boolean", "choice", "measure"]
    graded: bool
    ctcae: CtcaeTerm | None
    bands: tuple[tuple[int, int], ...]  # (min count, grade), highest min first
    grade_if_true: int
    grade_if_false: int
    choices: Mapping[str, int]
    edges: tuple[tuple[int, bool, Decimal], ...]  # (grade, inclusive, edge), highest grade first
    plausible_range: tuple[Decimal, Decimal] | None
    needs_clinical_assessment_grades: frozenset[int]


# --------------------------------------------------------------------------- validation helpers

_LOINC = re.compile(r"^\d{1,7}-\d$")
# Numbers as NCI writes them: "75,000", "1.5", "80g/L" -> 80.
_CSV_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def numbers_in(text: str) -> set[str]:
    """Every number written in a CTCAE cell, thousands separators removed."""
    return {m.replace(",", "") for m in _CSV_NUMBER.findall(text)}


def _decimal(text: str, where: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RulesError(f"{where}: {text!r} is not a decimal number") from None
    if not number.is_finite() or number <= 0:
        raise RulesError(f"{where}: {text!r} must be a finite number > 0")
    return number


def _grade_key(key: str, where: str) -> int:
    if key not in {"1", "2", "3", "4"}:
        raise RulesError(f"{where}: grade {key!r} must be one of 1, 2, 3, 4")
    return int(key)


def _compile_edges(
    raw: Mapping[str, str],
    *,
    basis: Basis,
    direction: Direction,
    ctcae: CtcaeTerm,
    where: str,
) -> tuple[Edge, ...]:
    edges: list[Edge] = []
    for key, text in sorted(raw.items(), key=lambda kv: _grade_key(kv[0], where)):
        grade = _grade_key(key, where)
        cell = ctcae.criteria(grade)
        if cell is None:
            raise RulesError(f"{where}: grade {grade} has a threshold but CTCAE has no such grade")
        here = f"{where} grade {grade}"
        reference: Reference | None = {"x_uln": "ULN", "x_baseline": "baseline", "absolute": None}[
            basis
        ]
        if text in {"ULN", "LLN"}:
            expected = "ULN" if direction == "high" else "LLN"
            if text != expected or grade != 1 or basis == "x_baseline":
                raise RulesError(
                    f"{here}: {text} can only be the grade-1 edge of a "
                    f"{'high' if text == 'ULN' else 'low'}-direction term"
                )
            if text not in cell:
                raise RulesError(f"{here}: CTCAE text {cell!r} does not mention {text}")
            number, reference = Decimal(1), ("ULN" if text == "ULN" else "LLN")
        else:
            number = _decimal(text, here)
            # Cross-check against NCI's own words: the number must be written in that grade.
            if text not in numbers_in(cell):
                raise RulesError(f"{here}: {text} does not appear in the CTCAE text {cell!r}")
        edges.append(Edge(grade, number, reference))
    if not edges:
        raise RulesError(f"{where}: no thresholds")
    for lower, higher in itertools.pairwise(edges):
        ok = higher.number > lower.number if direction == "high" else higher.number < lower.number
        if lower.reference in {"ULN", "LLN"} and basis == "absolute":
            ok = True  # the lab's own limit: ordered against CTCAE's numbers case by case
        if not ok:
            raise RulesError(
                f"{where}: thresholds are not monotonic: grade {higher.grade} edge "
                f"{higher.number} must be {'above' if direction == 'high' else 'below'} "
                f"grade {lower.grade} edge {lower.number}"
            )
    return tuple(reversed(edges))


def _check_unit(unit: str, where: str) -> None:
    if unit not in units.KNOWN_UNITS:
        raise RulesError(f"{where}: unit {unit!r} is not known to units.py")


def _compile_analyte(code: str, raw: _RawAnalyte, table: Mapping[str, CtcaeTerm]) -> AnalyteRule:
    where = f"{LAB_RULES_FILE}: {code}"
    for loinc in raw.loinc:
        if not _LOINC.match(loinc):
            raise RulesError(f"{where}: {loinc!r} is not a LOINC code")
    for accepted, grading in raw.units.items():
        _check_unit(accepted, f"{where} units")
        _check_unit(grading, f"{where} units")
        try:
            units.conversion_factor(accepted, grading)
        except ValueError as exc:
            raise RulesError(f"{where} units: {exc}") from None
    for refused in raw.refused_units:
        _check_unit(refused, f"{where} refused_units")
        if refused in raw.units:
            raise RulesError(f"{where}: {refused} is both accepted and refused")
    if raw.graded != bool(raw.terms):
        raise RulesError(f"{where}: graded={raw.graded} but {len(raw.terms)} terms are listed")
    directions = [t.direction for t in raw.terms]
    if len(set(directions)) != len(directions):
        raise RulesError(f"{where}: one lab gives one result, so at most one term per direction")
    grading_units = frozenset(raw.units.values())
    terms = tuple(_compile_term(where, t, grading_units, table) for t in raw.terms)
    return AnalyteRule(
        code=code,
        name=raw.name,
        loinc=tuple(raw.loinc),
        units=MappingProxyType(dict(raw.units)),
        refused_units=MappingProxyType(dict(raw.refused_units)),
        graded=raw.graded,
        tracked_as=raw.tracked_as,
        terms=terms,
    )


def _compile_term(
    where: str, raw: _RawTerm, grading_units: frozenset[str], table: Mapping[str, CtcaeTerm]
) -> TermRule:
    ctcae = table.get(raw.meddra_code)
    where = f"{where} {raw.term} ({raw.meddra_code})"
    if ctcae is None:
        raise RulesError(f"{where}: MedDRA code {raw.meddra_code} is not in {CSV_FILE}")
    if ctcae.term != raw.term:
        raise RulesError(f"{where}: {CSV_FILE} names {raw.meddra_code} {ctcae.term!r}")
    whens = sorted(a.when for a in raw.arms)
    if whens not in (
        ["always"],
        ["always", "baseline_given"],
        ["anticoagulated", "not_anticoagulated"],
    ):
        raise RulesError(
            f"{where}: arms apply {whens}; need 'always' (plus 'baseline_given') "
            "or exactly 'anticoagulated' + 'not_anticoagulated'"
        )
    arms: list[Arm] = []
    for raw_arm in raw.arms:
        arm_where = f"{where} arm {raw_arm.basis}"
        uses_baseline = raw_arm.when in {"baseline_given", "anticoagulated"}
        if (raw_arm.basis == "x_baseline") != uses_baseline:
            raise RulesError(f"{arm_where}: a baseline arm applies exactly when a baseline is used")
        if raw_arm.basis == "absolute":
            if raw_arm.multiples is not None or raw_arm.limits_by_unit is None:
                raise RulesError(f"{arm_where}: absolute arms give limits_by_unit, not multiples")
            if set(raw_arm.limits_by_unit) != grading_units:
                given = sorted(raw_arm.limits_by_unit)
                raise RulesError(
                    f"{arm_where}: limits are given for {given} but the analyte "
                    f"grades in {sorted(grading_units)}"
                )
            edges_by_unit = {
                unit: _compile_edges(
                    limits,
                    basis="absolute",
                    direction=raw.direction,
                    ctcae=ctcae,
                    where=f"{arm_where} {unit}",
                )
                for unit, limits in raw_arm.limits_by_unit.items()
            }
            grade_sets = {frozenset(e.grade for e in edges) for edges in edges_by_unit.values()}
            if len(grade_sets) != 1:
                raise RulesError(f"{arm_where}: units define different sets of grades")
        else:
            if raw_arm.multiples is None or raw_arm.limits_by_unit is not None:
                raise RulesError(f"{arm_where}: ratio arms give multiples, not limits_by_unit")
            edges = _compile_edges(
                raw_arm.multiples,
                basis=raw_arm.basis,
                direction=raw.direction,
                ctcae=ctcae,
                where=arm_where,
            )
            edges_by_unit = dict.fromkeys(grading_units, edges)
        arms.append(Arm(raw_arm.basis, raw_arm.when, MappingProxyType(edges_by_unit)))
    clinical: dict[int, str] = {}
    for key, clause in raw.clinical_criteria.items():
        grade = _grade_key(key, f"{where} clinical_criteria")
        cell = ctcae.criteria(grade) or ""
        if clause not in cell:
            raise RulesError(
                f"{where} clinical_criteria grade {grade}: {clause!r} is not in the "
                f"CTCAE text {cell!r}"
            )
        clinical[grade] = clause
    flagged = frozenset(raw.needs_clinical_assessment_grades)
    if not flagged <= set(GRADES):
        raise RulesError(f"{where}: needs_clinical_assessment_grades must be within 1-4")
    return TermRule(
        meddra_code=raw.meddra_code,
        term=raw.term,
        direction=raw.direction,
        arms=tuple(arms),
        ctcae=ctcae,
        clinical_criteria=MappingProxyType(clinical),
        needs_clinical_assessment_grades=flagged,
    )


def compile_lab_rules(data: Any, table: Mapping[str, CtcaeTerm]) -> LabRules:
    """Validate parsed lab_rules.json against the CTCAE table; RulesError if anything is off."""
    try:
        raw = _RawLabRules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"{LAB_RULES_FILE} has the wrong shape:\n{exc}") from None
    analytes = {code: _compile_analyte(code, a, table) for code, a in raw.analytes.items()}
    by_loinc: dict[str, AnalyteRule] = {}
    for analyte in analytes.values():
        for loinc in analyte.loinc:
            if loinc in by_loinc:
                raise RulesError(
                    f"{LAB_RULES_FILE}: LOINC {loinc} is listed for both "
                    f"{by_loinc[loinc].code} and {analyte.code}"
                )
            by_loinc[loinc] = analyte
    return LabRules(MappingProxyType(analytes), MappingProxyType(by_loinc))


def _compile_symptom_field(
    raw: _RawSymptomField, table: Mapping[str, CtcaeTerm]
) -> SymptomFieldRule:
    where = f"{SYMPTOM_RULES_FILE}: {raw.field}"
    ctcae = None
    grades_used: set[int] = set()
    bands: tuple[tuple[int, int], ...] = ()
    edges: tuple[tuple[int, bool, Decimal], ...] = ()
    plausible: tuple[Decimal, Decimal] | None = None
    if raw.graded:
        if raw.meddra_code is None or raw.meddra_code not in table:
            raise RulesError(f"{where}: MedDRA code {raw.meddra_code} is not in {CSV_FILE}")
        ctcae = table[raw.meddra_code]
        if raw.type == "count":
            if not raw.bands or raw.bands[0].min != 0:
                raise RulesError(f"{where}: count bands must start at min 0")
            for lower, higher in itertools.pairwise(raw.bands):
                if not (higher.min > lower.min and higher.grade > lower.grade):
                    raise RulesError(f"{where}: bands must rise in both count and grade")
            bands = tuple((b.min, b.grade) for b in reversed(raw.bands))
            grades_used = {b.grade for b in raw.bands}
        elif raw.type == "boolean":
            if raw.grade_if_true is None or raw.grade_if_false is None:
                raise RulesError(f"{where}: graded booleans need grade_if_true and grade_if_false")
            grades_used = {raw.grade_if_true, raw.grade_if_false}
        elif raw.type == "choice":
            if not raw.choices:
                raise RulesError(f"{where}: a choice field needs choices")
            grades_used = set(raw.choices.values())
        else:
            if not raw.edges or raw.plausible_range is None:
                raise RulesError(f"{where}: a measure needs edges and a plausible_range")
            values = [_decimal(e.value, f"{where} edge") for e in raw.edges]
            if values != sorted(set(values)) or [e.grade for e in raw.edges] != sorted(
                {e.grade for e in raw.edges}
            ):
                raise RulesError(f"{where}: edges must rise in both value and grade")
            for edge in raw.edges:
                cell = ctcae.criteria(edge.grade) or ""
                if edge.value not in numbers_in(cell):
                    raise RulesError(f"{where} grade {edge.grade}: {edge.value} is not in {cell!r}")
            edges = tuple(
                (e.grade, e.op == ">=", v)
                for e, v in reversed(list(zip(raw.edges, values, strict=True)))
            )
            low, high = (_decimal(v, f"{where} plausible_range") for v in raw.plausible_range)
            plausible = (low, high)
            grades_used = {0} | {e.grade for e in raw.edges}
        for grade in grades_used - {0}:
            if not 1 <= grade <= 5 or ctcae.criteria(grade) is None:
                raise RulesError(f"{where}: CTCAE {ctcae.term} has no grade {grade}")
    elif raw.type != "boolean" or raw.meddra_code is not None:
        raise RulesError(f"{where}: ungraded fields are booleans without a MedDRA code")
    flagged = frozenset(raw.needs_clinical_assessment_grades)
    if not flagged <= grades_used - {0}:
        raise RulesError(f"{where}: needs_clinical_assessment_grades must be grades it gives")
    return SymptomFieldRule(
        field=raw.field,
        type=raw.type,
        graded=raw.graded,
        ctcae=ctcae,
        bands=bands,
        grade_if_true=raw.grade_if_true or 0,
        grade_if_false=raw.grade_if_false or 0,
        choices=MappingProxyType(dict(raw.choices or {})),
        edges=edges,
        plausible_range=plausible,
        needs_clinical_assessment_grades=flagged,
    )


def compile_symptom_rules(
    data: Any, table: Mapping[str, CtcaeTerm]
) -> Mapping[str, SymptomFieldRule]:
    """Validate parsed symptom_rules.json; fields keep the file's order (the result order)."""
    try:
        raw = _RawSymptomRules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"{SYMPTOM_RULES_FILE} has the wrong shape:\n{exc}") from None
    fields: dict[str, SymptomFieldRule] = {}
    for raw_field in raw.fields:
        if raw_field.field in fields:
            raise RulesError(f"{SYMPTOM_RULES_FILE}: field {raw_field.field} appears twice")
        fields[raw_field.field] = _compile_symptom_field(raw_field, table)
    return MappingProxyType(fields)


@cache
def lab_rules() -> LabRules:
    """The validated lab rules (loaded once)."""
    return compile_lab_rules(json.loads(_read_data(LAB_RULES_FILE)), ctcae_table())


@cache
def symptom_rules() -> Mapping[str, SymptomFieldRule]:
    """The validated symptom rules by field name, in file order (loaded once)."""
    return compile_symptom_rules(json.loads(_read_data(SYMPTOM_RULES_FILE)), ctcae_table())
