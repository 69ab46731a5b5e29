"""The packaged CTCAE table and rule files: provenance, consistency with NCI's text, validation."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from decimal import Decimal
from typing import Any

import pytest

from services.safety_api.ctcae.rules import (
    RulesError,
    compile_lab_rules,
    compile_symptom_rules,
    ctcae_table,
    lab_rules,
    symptom_rules,
)
from tests.safety_api.ctcae.spec import CSV_SHA256, DATA_DIR, DOMAIN_ANALYTES, csv_rows


def lab_data() -> dict[str, Any]:
    return json.loads((DATA_DIR / "lab_rules.json").read_text(encoding="utf-8"))


def symptom_data() -> dict[str, Any]:
    return json.loads((DATA_DIR / "symptom_rules.json").read_text(encoding="utf-8"))


def test_ctcae_csv_is_the_verified_nci_export_byte_for_byte() -> None:
    digest = hashlib.sha256((DATA_DIR / "ctcae_v4.03.csv").read_bytes()).hexdigest()

    assert digest == CSV_SHA256


def test_ctcae_table_has_all_790_v4_03_terms() -> None:
    assert len(ctcae_table()) == 790
    assert ctcae_table()["10001551"].term == "Alanine aminotransferase increased"


def test_lab_rules_cover_exactly_the_domain_md_analytes_loinc_codes_units_and_terms() -> None:
    analytes = lab_rules().analytes

    assert set(analytes) == set(DOMAIN_ANALYTES)
    for code, (loincs, units, terms) in DOMAIN_ANALYTES.items():
        assert set(analytes[code].loinc) == set(loincs), code
        assert set(analytes[code].units) == set(units), code
        assert {t.meddra_code for t in analytes[code].terms} == set(terms), code


# --------------------------------------------------------------------------- rules vs CSV

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _threshold_rows() -> list[Any]:
    rows = []
    for analyte, spec in lab_data()["analytes"].items():
        for term in spec["terms"]:
            for arm in term["arms"]:
                tables = arm.get("limits_by_unit") or {arm["basis"]: arm["multiples"]}
                for where, thresholds in tables.items():
                    for grade, text in thresholds.items():
                        rows.append(
                            pytest.param(
                                term["meddra_code"],
                                int(grade),
                                text,
                                id=f"{analyte} {term['term']} {where} G{grade} {text}",
                            )
                        )
    return rows


@pytest.mark.parametrize(("code", "grade", "threshold"), _threshold_rows())
def test_every_threshold_in_lab_rules_is_written_in_that_grade_of_the_csv(
    code: str, grade: int, threshold: str
) -> None:
    cell = csv_rows()[code][f"grade{grade}"]
    written = {n.replace(",", "") for n in _NUMBER.findall(cell)} | {"ULN", "LLN"} & {
        w for w in ("ULN", "LLN") if w in cell
    }

    assert cell, f"CTCAE has no grade {grade} for {code}"
    assert threshold in written, f"{threshold} not in {cell!r}"


def test_every_rule_term_name_matches_the_csv() -> None:
    rows = csv_rows()
    for spec in lab_data()["analytes"].values():
        for term in spec["terms"]:
            assert rows[term["meddra_code"]]["term"] == term["term"]
    for field in symptom_data()["fields"]:
        if field.get("meddra_code"):
            assert field["meddra_code"] in rows


def test_clinical_criteria_are_quoted_verbatim_from_the_csv() -> None:
    rows = csv_rows()
    for spec in lab_data()["analytes"].values():
        for term in spec["terms"]:
            for grade, clause in term["clinical_criteria"].items():
                assert clause in rows[term["meddra_code"]][f"grade{grade}"]


def test_lab_flags_follow_ctcae_or_semantics_a_higher_grade_reachable_on_clinical_grounds() -> None:
    # CTCAE v4.03: "A semi-colon indicates 'or' within the description of the grade". A lab
    # grade is flagged exactly when a higher grade can be met by a clinical clause alone.
    for analyte in lab_rules().analytes.values():
        for term in analyte.terms:
            lab_grades = {
                e.grade for arm in term.arms for edges in arm.edges_by_unit.values() for e in edges
            }
            for grade in lab_grades:
                higher_clinical = any(g > grade for g in term.clinical_criteria)
                flagged = grade in term.needs_clinical_assessment_grades
                assert flagged == higher_clinical, (term.term, grade)


@pytest.mark.parametrize("analyte", [a for a in DOMAIN_ANALYTES if a != "CGA"])
def test_every_grade_a_lab_can_return_has_csv_text(analyte: str) -> None:
    for term in lab_rules().analytes[analyte].terms:
        for arm in term.arms:
            for edges in arm.edges_by_unit.values():
                for edge in edges:
                    assert term.ctcae.criteria(edge.grade)


def test_every_symptom_grade_has_csv_text() -> None:
    for rule in symptom_rules().values():
        if rule.ctcae is None:
            continue
        grades = (
            {g for _, g in rule.bands}
            | set(rule.choices.values())
            | {g for g, _, _ in rule.edges}
            | {rule.grade_if_true}
        )
        for grade in grades - {0}:
            assert rule.ctcae.criteria(grade), (rule.field, grade)


# --------------------------------------------------------------------------- validation


def _first_term(data: dict[str, Any], analyte: str) -> dict[str, Any]:
    term: dict[str, Any] = data["analytes"][analyte]["terms"][0]
    return term


def _break_meddra(data: dict[str, Any]) -> None:
    _first_term(data, "ALT")["meddra_code"] = "10099999"


def _break_monotonic(data: dict[str, Any]) -> None:
    # 5.0 is written in both grade 2 and grade 3 text, so only the ordering check can catch it.
    _first_term(data, "ALT")["arms"][0]["multiples"]["2"] = "5.0"


def _break_number(data: dict[str, Any]) -> None:
    _first_term(data, "NEUT")["arms"][0]["limits_by_unit"]["/mm3"]["3"] = "1100"


def _break_unit(data: dict[str, Any]) -> None:
    data["analytes"]["ALT"]["units"] = {"IU/L": "IU/L"}


def _break_loinc(data: dict[str, Any]) -> None:
    data["analytes"]["AST"]["loinc"].append("1742-6")


def _break_clause(data: dict[str, Any]) -> None:
    _first_term(data, "HGB")["clinical_criteria"]["3"] = "blood transfusion indicated"


def _break_term_name(data: dict[str, Any]) -> None:
    _first_term(data, "GGT")["term"] = "Gamma GT increased"


def _break_missing_grade(data: dict[str, Any]) -> None:
    _first_term(data, "NA")["arms"][0]["limits_by_unit"]["mmol/L"]["2"] = "125"


def _break_extra_key(data: dict[str, Any]) -> None:
    _first_term(data, "ALT")["treshold"] = "3.0"


@pytest.mark.parametrize(
    ("breaker", "message"),
    [
        (_break_meddra, "10099999 is not in ctcae_v4.03.csv"),
        (_break_monotonic, "not monotonic"),
        (_break_number, "1100 does not appear in the CTCAE text"),
        (_break_unit, "'IU/L' is not known"),
        (_break_loinc, "LOINC 1742-6 is listed for both"),
        (_break_clause, "is not in the CTCAE text"),
        (_break_term_name, "names 10056910 'GGT increased'"),
        (_break_missing_grade, "grade 2 has a threshold but CTCAE has no such grade"),
        (_break_extra_key, "wrong shape"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_inconsistent_lab_rules_fail_loudly_at_load(breaker: Any, message: str) -> None:
    data = copy.deepcopy(lab_data())
    breaker(data)

    with pytest.raises(RulesError, match=re.escape(message)):
        compile_lab_rules(data, ctcae_table())


def test_inconsistent_symptom_rules_fail_loudly_at_load() -> None:
    data = copy.deepcopy(symptom_data())
    data["fields"][3]["meddra_code"] = "10000000"

    with pytest.raises(RulesError, match="nausea: MedDRA code 10000000"):
        compile_symptom_rules(data, ctcae_table())


def test_fever_edges_must_be_written_in_the_csv() -> None:
    data = copy.deepcopy(symptom_data())
    fever = next(f for f in data["fields"] if f["field"] == "temperature_c")
    fever["edges"][1]["value"] = "39.5"

    with pytest.raises(RulesError, match=re.escape("39.5 is not in")):
        compile_symptom_rules(data, ctcae_table())


def test_thresholds_are_held_as_decimals() -> None:
    edges = lab_rules().analytes["BILI"].terms[0].arms[0].edges_by_unit["mg/dL"]

    assert [(e.grade, e.number) for e in edges] == [
        (4, Decimal("10.0")),
        (3, Decimal("3.0")),
        (2, Decimal("1.5")),
        (1, Decimal(1)),
    ]
