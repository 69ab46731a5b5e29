"""CTCAE v4.03 lab grading: the protocol's named cases, limits, units, LOINC and errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.safety_api.ctcae import GradeResult, GradingError, grade_lab, is_graded
from services.safety_api.ctcae.engine import resolve_analyte
from tests.safety_api.ctcae.spec import DOMAIN_ANALYTES, TYPICAL_LAB, csv_text


def graded(*args: object, **kwargs: object) -> GradeResult:
    result = grade_lab(*args, **kwargs)  # type: ignore[arg-type]
    assert result is not None
    return result


def grading_error(*args: object, **kwargs: object) -> GradingError:
    with pytest.raises(GradingError) as caught:
        grade_lab(*args, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --------------------------------------------------------------------------- protocol cases


def test_alt_exactly_three_times_uln_is_grade_1() -> None:
    assert graded("ALT", 120, "U/L", ref_high=40).grade == 1


def test_alt_just_above_three_times_uln_is_grade_2() -> None:
    assert graded("ALT", 120.01, "U/L", ref_high=40).grade == 2


def test_alt_130_with_uln_40_gives_the_contract_example() -> None:
    result = graded("ALT", 130, "U/L", ref_low=7, ref_high=40)

    assert result.to_dict() == {
        "term": "Alanine aminotransferase increased",
        "meddra_code": "10001551",
        "grade": 2,
        "direction": "high",
        "x_uln": 3.25,
        "criteria": ">3.0 - 5.0 x ULN",
        "needs_clinical_assessment": False,
    }


def test_neutrophils_exactly_1000_per_mm3_is_grade_2() -> None:
    assert graded("NEUT", 1000, "/mm3", ref_low=1800).grade == 2


def test_bilirubin_1_8_with_uln_1_2_is_exactly_1_5_x_uln_and_grade_1() -> None:
    # Binary floats make 1.8 / 1.2 = 1.5000000000000002; Decimal keeps it on the boundary.
    result = graded("BILI", 1.8, "mg/dL", ref_low=0.1, ref_high=1.2)

    assert result.grade == 1
    assert result.x_uln == Decimal("1.5")


@pytest.mark.parametrize("value", [1.8, "1.8", Decimal("1.8")], ids=["float", "str", "Decimal"])
def test_bilirubin_boundary_holds_whatever_number_type_arrives(value: object) -> None:
    assert graded("BILI", value, "mg/dL", ref_high=1.2).grade == 1


def test_bilirubin_in_umol_per_l_grades_as_a_ratio_like_mg_per_dl() -> None:
    assert graded("BILI", 30.78, "umol/L", ref_high=20.52).grade == 1  # exactly 1.5 x ULN
    assert graded("BILI", "30.79", "umol/L", ref_high="20.52").grade == 2


def test_hemoglobin_6_2_mmol_per_l_with_lln_7_5_is_grade_1() -> None:
    result = graded("HGB", 6.2, "mmol/L", ref_low=7.5)

    assert (result.term, result.grade, result.direction) == ("Anemia", 1, "low")


def test_hemoglobin_is_graded_with_ctcae_numbers_of_the_unit_sent_not_a_conversion() -> None:
    # 6.2 mmol/L is ~9.99 g/dL by molar conversion (grade 2 in g/dL), but CTCAE's mmol/L
    # column puts 6.2 in grade 1.
    assert graded("HGB", 6.2, "mmol/L", ref_low=7.5).grade == 1
    assert graded("HGB", 9.99, "g/dL", ref_low=12).grade == 2


def test_hyponatremia_has_no_grade_2_in_v4_03() -> None:
    grades = {
        v: graded("NA", v, "mmol/L", ref_low=135, ref_high=145).grade
        for v in (134, 130, 129, 125, 120, 119)
    }

    assert grades == {134: 1, 130: 1, 129: 3, 125: 3, 120: 3, 119: 4}


# --------------------------------------------------------------------------- clinical assessment


def test_hypokalemia_between_3_0_and_lln_is_grade_1_flagged_since_grade_2_is_clinical() -> None:
    result = graded("K", 3.2, "mmol/L", ref_low=3.5, ref_high=5.1)

    assert (result.term, result.grade, result.needs_clinical_assessment) == ("Hypokalemia", 1, True)


def test_hypoalbuminemia_below_2_g_per_dl_is_grade_3_flagged_since_grade_4_is_clinical() -> None:
    result = graded("ALB", 1.8, "g/dL", ref_low=3.5)

    assert (result.grade, result.needs_clinical_assessment) == (3, True)


def test_anemia_below_8_g_per_dl_is_grade_3_flagged_since_grade_4_is_clinical() -> None:
    result = graded("HGB", 7.5, "g/dL", ref_low=12)

    assert (result.grade, result.needs_clinical_assessment) == (3, True)


def test_anemia_grade_2_is_flagged_since_transfusion_indicated_makes_grade_3() -> None:
    result = graded("HGB", 9.0, "g/dL", ref_low=12)

    assert (result.grade, result.needs_clinical_assessment) == (2, True)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "limits"),
    [
        ("K", 7.5, "mmol/L", {"ref_low": 3.5, "ref_high": 5.1}),
        ("NA", 115, "mmol/L", {"ref_low": 135, "ref_high": 145}),
        ("GLUC", 25, "mg/dL", {"ref_low": 70, "ref_high": 99}),
    ],
    ids=["hyperkalemia G4", "hyponatremia G4", "hypoglycemia G4"],
)
def test_top_grade_from_a_lab_needs_no_clinical_assessment(
    analyte: str, value: float, unit: str, limits: dict[str, float]
) -> None:
    result = graded(analyte, value, unit, **limits)

    assert (result.grade, result.needs_clinical_assessment) == (4, False)


@pytest.mark.parametrize("analyte", ["ALT", "AST", "ALP", "GGT", "BILI", "CREAT", "INR"])
def test_ratio_to_uln_terms_are_fully_defined_by_the_lab(analyte: str) -> None:
    for multiple in ("1.1", "2.9", "4", "8", "25"):
        unit = DOMAIN_ANALYTES[analyte][1][0]
        result = graded(analyte, Decimal(multiple) * 10, unit, ref_high=10)
        assert result.needs_clinical_assessment is False


@pytest.mark.parametrize("analyte", ["NEUT", "PLT", "WBC", "LYMPH"])
def test_count_terms_are_fully_defined_by_the_lab(analyte: str) -> None:
    for value in ("0.01", "0.3", "0.6", "1.2", "2.5", "40", "70"):
        result = graded(analyte, value, "10*9/L", ref_low=200)
        assert result.needs_clinical_assessment is False


# --------------------------------------------------------------------------- reference limits


@pytest.mark.parametrize("value", [10, 40, 130, 10_000])
def test_alt_without_ref_high_is_always_an_error(value: int) -> None:
    error = grading_error("ALT", value, "U/L", ref_low=7)

    assert error.field == "ref_high"
    assert "upper limit of normal" in error.detail and "U/L" in error.detail


def test_neutrophils_800_per_mm3_without_ref_low_is_grade_3() -> None:
    # CTCAE grades 2-4 are fixed counts, so the lab's lower limit does not matter here.
    assert graded("NEUT", 800, "/mm3").grade == 3


def test_neutrophils_1600_per_mm3_without_ref_low_is_an_error_on_ref_low() -> None:
    error = grading_error("NEUT", 1600, "/mm3")

    assert error.field == "ref_low"
    assert "lower limit of normal" in error.detail and "/mm3" in error.detail


def test_neutrophils_below_1500_are_graded_by_ctcae_even_when_the_lab_lln_is_lower() -> None:
    # CTCAE's grade-2 edge is a fixed 1500/mm3; a lab LLN of 1400 does not make 1450 normal.
    assert graded("NEUT", 1450, "/mm3", ref_low=1400).grade == 2


def test_hyperkalemia_6_5_without_limits_is_grade_3() -> None:
    result = graded("K", 6.5, "mmol/L")

    assert (result.term, result.grade, result.x_uln) == ("Hyperkalemia", 3, None)


def test_potassium_in_the_grade_1_zone_without_limits_is_an_error() -> None:
    error = grading_error("K", 4.0, "mmol/L")

    assert error.field == "ref_low"
    assert "ref_low and ref_high" in error.detail


def test_potassium_below_lln_needs_no_upper_limit() -> None:
    result = graded("K", 3.2, "mmol/L", ref_low=3.5)

    assert (result.term, result.grade) == ("Hypokalemia", 1)


def test_potassium_in_range_with_only_ref_low_is_an_error_on_ref_high() -> None:
    assert grading_error("K", 4.0, "mmol/L", ref_low=3.5).field == "ref_high"


def test_potassium_in_range_is_grade_0_normal_on_the_side_nearer_the_value() -> None:
    low_side = graded("K", 4.0, "mmol/L", ref_low=3.5, ref_high=5.1)
    high_side = graded("K", 4.8, "mmol/L", ref_low=3.5, ref_high=5.1)

    assert (low_side.term, low_side.grade, low_side.direction) == ("Hypokalemia", 0, "normal")
    assert low_side.x_uln is None and low_side.criteria is None
    assert (high_side.term, high_side.grade, high_side.direction) == ("Hyperkalemia", 0, "normal")
    assert high_side.x_uln is not None


def test_value_exactly_mid_range_reports_the_high_side_term() -> None:
    assert graded("NA", 140, "mmol/L", ref_low=135, ref_high=145).term == "Hypernatremia"


def test_glucose_in_range_is_grade_0_normal() -> None:
    result = graded("GLUC", 72, "mg/dL", ref_low=70, ref_high=99)

    assert (result.term, result.grade, result.direction) == ("Hypoglycemia", 0, "normal")


def test_alt_at_or_below_uln_is_grade_0_with_the_term_direction() -> None:
    result = graded("ALT", 25, "U/L", ref_low=7, ref_high=40)

    assert (result.grade, result.direction, result.criteria) == (0, "high", None)
    assert result.x_uln == Decimal("0.625")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("ref_high", {"ref_high": 0}),
        ("ref_high", {"ref_high": -40}),
        ("ref_high", {"ref_high": "forty"}),
        ("ref_low", {"ref_low": -1, "ref_high": 40}),
        ("ref_low", {"ref_low": 50, "ref_high": 40}),
        ("ref_low", {"ref_low": 40, "ref_high": 40}),
        ("baseline", {"ref_high": 40, "baseline": 0}),
    ],
)
def test_impossible_reference_values_are_errors(field: str, kwargs: dict[str, object]) -> None:
    assert grading_error("ALT", 50, "U/L", **kwargs).field == field


# --------------------------------------------------------------------------- creatinine, INR


def test_creatinine_without_baseline_uses_the_uln_arm() -> None:
    assert graded("CREAT", 1.0, "mg/dL", ref_high=1.2).grade == 0
    assert graded("CREAT", 2.0, "mg/dL", ref_high=1.2).grade == 2


def test_creatinine_doubling_from_baseline_below_uln_is_grade_2_by_the_baseline_arm() -> None:
    # 1.1 mg/dL is under the ULN, but 2.2 x a 0.5 baseline: CTCAE >1.5 - 3.0 x baseline.
    result = graded("CREAT", 1.1, "mg/dL", ref_high=1.2, baseline=0.5)

    assert result.grade == 2
    assert result.criteria == ">1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN"


def test_creatinine_takes_the_uln_arm_when_it_is_worse_than_the_baseline_arm() -> None:
    # 7.5 mg/dL: 2.5 x a 3.0 baseline (grade 2) but 6.25 x ULN (grade 4).
    assert graded("CREAT", 7.5, "mg/dL", ref_high=1.2, baseline=3.0).grade == 4


def test_creatinine_above_three_times_baseline_is_grade_3() -> None:
    assert graded("CREAT", 160, "umol/L", ref_high=106, baseline=50).grade == 3


def test_creatinine_with_baseline_but_without_ref_high_is_an_error() -> None:
    assert grading_error("CREAT", 1.1, "mg/dL", baseline=0.5).field == "ref_high"


def test_inr_on_anticoagulation_is_graded_against_baseline_not_uln() -> None:
    # 2.8 is 2.33 x ULN (grade 2) but 1.12 x a 2.5 baseline (grade 1).
    result = graded("INR", 2.8, "{INR}", ref_high=1.2, baseline=2.5, anticoagulated=True)

    assert result.grade == 1
    assert result.x_uln == Decimal("2.8") / Decimal("1.2")


def test_inr_on_anticoagulation_needs_no_uln() -> None:
    assert graded("INR", 4.0, "1", baseline=1.5, anticoagulated=True).grade == 3


def test_inr_on_anticoagulation_without_baseline_is_an_error() -> None:
    error = grading_error("INR", 2.8, "{INR}", ref_high=1.2, anticoagulated=True)

    assert error.field == "baseline"
    assert "baseline" in error.detail


def test_inr_not_anticoagulated_ignores_baseline() -> None:
    assert graded("INR", 2.8, "{INR}", ref_high=1.2, baseline=2.5).grade == 2


def test_baseline_is_ignored_for_terms_without_a_baseline_arm_in_v4_03() -> None:
    assert graded("ALT", 100, "U/L", ref_high=40, baseline=90).grade == 1


# --------------------------------------------------------------------------- analytes, LOINC


LOINC_CASES = [
    pytest.param(analyte, loinc, id=f"{analyte} LOINC {loinc}")
    for analyte, (loincs, _, _) in DOMAIN_ANALYTES.items()
    for loinc in loincs
]


@pytest.mark.parametrize(("analyte", "loinc"), LOINC_CASES)
def test_every_loinc_alternative_grades_like_the_analyte_name(analyte: str, loinc: str) -> None:
    lab = TYPICAL_LAB[analyte]

    assert resolve_analyte(None, loinc).code == analyte
    assert grade_lab(loinc=loinc, **lab) == grade_lab(analyte, **lab)  # type: ignore[arg-type]


UNIT_CASES = [
    pytest.param(analyte, unit, id=f"{analyte} in {unit}")
    for analyte, (_, units, _) in DOMAIN_ANALYTES.items()
    for unit in units
]


@pytest.mark.parametrize(("analyte", "unit"), UNIT_CASES)
def test_every_unit_of_domain_md_is_accepted(analyte: str, unit: str) -> None:
    result = grade_lab(analyte, 1, unit, ref_low="0.5", ref_high=2)

    assert result is None if analyte == "CGA" else result is not None


def test_analyte_and_loinc_may_both_be_sent_when_they_agree() -> None:
    assert graded("ALT", 130, "U/L", loinc="1742-6", ref_high=40).grade == 2


def test_analyte_and_loinc_that_disagree_are_an_error() -> None:
    error = grading_error("AST", 130, "U/L", loinc="1742-6", ref_high=40)

    assert error.field == "loinc" and "ALT" in error.detail and "AST" in error.detail


def test_analyte_names_are_case_insensitive() -> None:
    assert graded(" alt ", 130, "U/L", ref_high=40).grade == 2


def test_unknown_analyte_is_an_error_listing_the_known_ones() -> None:
    error = grading_error("LDH", 300, "U/L", ref_high=250)

    assert error.field == "analyte" and "ALT" in error.detail


def test_unknown_loinc_is_an_error() -> None:
    assert grading_error(None, 300, "U/L", loinc="2532-0", ref_high=250).field == "loinc"


def test_neither_analyte_nor_loinc_is_an_error() -> None:
    assert grading_error(None, 300, "U/L", ref_high=250).field == "analyte"


# --------------------------------------------------------------------------- chromogranin A


@pytest.mark.parametrize("unit", ["ng/mL", "ug/L", "nmol/L", "µg/L"])
def test_chromogranin_a_is_accepted_but_not_graded(unit: str) -> None:
    assert grade_lab("CGA", 250, unit) is None


def test_chromogranin_a_is_known_as_a_tracked_tumour_marker() -> None:
    info = resolve_analyte(None, "9811-1")

    assert (info.code, info.is_graded, info.tracked_as) == ("CGA", False, "tumour marker")
    assert is_graded("CGA") is False and is_graded(loinc="25587-7") is False
    assert is_graded("ALT") is True


def test_chromogranin_a_in_a_unit_it_is_not_reported_in_is_still_an_error() -> None:
    assert grading_error("CGA", 250, "U/L").field == "unit"


# --------------------------------------------------------------------------- units and values


def test_unit_not_accepted_for_the_analyte_is_an_error_naming_the_right_units() -> None:
    error = grading_error("ALT", 130, "mg/dL", ref_high=40)

    assert error.field == "unit" and "U/L" in error.detail


@pytest.mark.parametrize("unit", ["IU/L", "u/L", "K/uL", "", None, "mg"])
def test_unknown_or_missing_unit_is_an_error(unit: str | None) -> None:
    assert grading_error("ALT", 130, unit, ref_high=40).field == "unit"


@pytest.mark.parametrize("analyte", ["NEUT", "LYMPH", "WBC", "PLT"])
def test_a_count_in_percent_is_refused_with_a_reason(analyte: str) -> None:
    error = grading_error(analyte, 45, "%", ref_low=40)

    assert error.field == "unit" and "%" in error.detail and "10*9/L" in error.detail


def test_meq_per_l_is_accepted_for_potassium_and_sodium_only() -> None:
    assert graded("K", 6.5, "mEq/L").grade == 3
    assert graded("NA", 158, "meq/L").grade == 3
    assert grading_error("GLUC", 6.5, "mEq/L").field == "unit"


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        ("0.9", "10*9/L"),
        ("0.9", "10*3/uL"),
        ("0.9", "10^9/L"),
        ("900", "/mm3"),
        ("900", "/uL"),
        ("900", "/µL"),
        ("900", "/μL"),
    ],
)
def test_the_same_neutrophil_count_in_any_count_unit_is_the_same_grade(
    value: str, unit: str
) -> None:
    assert graded("NEUT", value, unit).grade == 3


@pytest.mark.parametrize("unit", ["umol/L", "µmol/L", "μmol/L", "umol/l"])
def test_micromoles_per_litre_spellings(unit: str) -> None:
    assert graded("CREAT", 200, unit, ref_high=106).grade == 2


def test_litre_may_be_lower_case_as_ucum_allows() -> None:
    assert graded("BILI", 2.0, "mg/dl", ref_high=1.2).grade == 2


@pytest.mark.parametrize(
    "value", [-1, "-0.1", float("nan"), float("inf"), "NaN", "abc", True, None, [1], {"v": 1}]
)
def test_a_value_that_is_not_a_finite_non_negative_number_is_an_error(value: object) -> None:
    assert grading_error("ALT", value, "U/L", ref_high=40).field == "value"


def test_zero_is_a_valid_count() -> None:
    assert graded("NEUT", 0, "10*9/L").grade == 4


def test_anticoagulated_must_be_a_boolean() -> None:
    error = grading_error("INR", 2, "1", ref_high=1.2, anticoagulated="yes")

    assert error.field == "anticoagulated"


# --------------------------------------------------------------------------- result shape


def test_criteria_is_the_csv_text_of_the_grade_verbatim() -> None:
    result = graded("PLT", 40000, "/mm3", ref_low=150000)

    assert result.criteria == csv_text("10035528", 3)
    assert result.criteria == "<50,000 - 25,000/mm3; <50.0 - 25.0 x 10e9 /L"


def test_x_uln_is_exact_on_the_result_and_rounded_to_4_places_in_the_dict() -> None:
    result = graded("ALT", 100, "U/L", ref_high=30)

    assert result.x_uln == Decimal(100) / Decimal(30)
    assert result.to_dict()["x_uln"] == 3.3333


def test_x_uln_is_absent_for_low_direction_terms() -> None:
    assert graded("NEUT", 1.0, "10*9/L", ref_low=1.8, ref_high=7.7).to_dict()["x_uln"] is None


def test_x_uln_is_given_for_absolute_high_terms_when_ref_high_is_known() -> None:
    assert graded("K", 6.12, "mmol/L", ref_low=3.5, ref_high=5.1).to_dict()["x_uln"] == 1.2


def test_grade_result_is_immutable() -> None:
    result = graded("ALT", 130, "U/L", ref_high=40)

    with pytest.raises(AttributeError):
        result.grade = 1  # type: ignore[misc]
