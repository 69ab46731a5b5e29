"""Patient-reported symptoms -> CTCAE v4.03 grades, per reference/DOMAIN.md section 3."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.safety_api.ctcae import GradeResult, GradingError, grade_symptoms
from tests.safety_api.ctcae.spec import csv_text

DIARRHEA, VOMITING, NAUSEA, ANOREXIA = "10012727", "10047700", "10028813", "10002646"
FATIGUE, HAND_FOOT, MUCOSITIS, ABDO_PAIN = "10016256", "10054524", "10028130", "10000081"
CONSTIPATION, FEVER = "10010774", "10016558"


def only(report: dict[str, object]) -> GradeResult:
    results = grade_symptoms(report)
    assert len(results) == 1
    return results[0]


# Every row of the DOMAIN.md mapping table: (field, reported value, MedDRA code, grade).
MAPPING_ROWS = [
    ("stools_above_baseline", 0, DIARRHEA, 0),
    ("stools_above_baseline", 1, DIARRHEA, 1),
    ("stools_above_baseline", 3, DIARRHEA, 1),
    ("stools_above_baseline", 4, DIARRHEA, 2),
    ("stools_above_baseline", 6, DIARRHEA, 2),
    ("stools_above_baseline", 7, DIARRHEA, 3),
    ("stools_above_baseline", 15, DIARRHEA, 3),
    ("incontinence", True, DIARRHEA, 3),
    ("incontinence", False, DIARRHEA, 0),
    ("vomiting_episodes", 0, VOMITING, 0),
    ("vomiting_episodes", 1, VOMITING, 1),
    ("vomiting_episodes", 2, VOMITING, 1),
    ("vomiting_episodes", 3, VOMITING, 2),
    ("vomiting_episodes", 5, VOMITING, 2),
    ("vomiting_episodes", 6, VOMITING, 3),
    ("vomiting_episodes", 12, VOMITING, 3),
    ("nausea", "none", NAUSEA, 0),
    ("nausea", "appetite_loss", NAUSEA, 1),
    ("nausea", "eating_less", NAUSEA, 2),
    ("nausea", "cannot_eat_or_drink", NAUSEA, 3),
    ("appetite", "normal", ANOREXIA, 0),
    ("appetite", "less_appetite", ANOREXIA, 1),
    ("appetite", "eating_less", ANOREXIA, 2),
    ("appetite", "weight_loss_or_cannot_eat", ANOREXIA, 3),
    ("fatigue", "none", FATIGUE, 0),
    ("fatigue", "relieved_by_rest", FATIGUE, 1),
    ("fatigue", "limits_usual_activities", FATIGUE, 2),
    ("fatigue", "limits_self_care", FATIGUE, 3),
    ("hand_foot", "none", HAND_FOOT, 0),
    ("hand_foot", "skin_changes_no_pain", HAND_FOOT, 1),
    ("hand_foot", "painful_limits_usual_activities", HAND_FOOT, 2),
    ("hand_foot", "severe_limits_self_care", HAND_FOOT, 3),
    ("mouth_sores", "none", MUCOSITIS, 0),
    ("mouth_sores", "mild", MUCOSITIS, 1),
    ("mouth_sores", "painful_can_eat_modified_diet", MUCOSITIS, 2),
    ("mouth_sores", "severe_cannot_eat", MUCOSITIS, 3),
    ("abdominal_pain", "none", ABDO_PAIN, 0),
    ("abdominal_pain", "mild", ABDO_PAIN, 1),
    ("abdominal_pain", "moderate_limits_usual_activities", ABDO_PAIN, 2),
    ("abdominal_pain", "severe_limits_self_care", ABDO_PAIN, 3),
    ("constipation", "none", CONSTIPATION, 0),
    ("constipation", "occasional", CONSTIPATION, 1),
    ("constipation", "persistent_regular_laxatives", CONSTIPATION, 2),
    ("constipation", "obstipation_manual_evacuation", CONSTIPATION, 3),
]


@pytest.mark.parametrize(
    ("field", "value", "code", "grade"),
    [pytest.param(*row, id=f"{row[0]}={row[1]!r} is G{row[3]}") for row in MAPPING_ROWS],
)
def test_each_symptom_answer_maps_to_its_ctcae_grade(
    field: str, value: object, code: str, grade: int
) -> None:
    result = only({field: value})

    assert (result.meddra_code, result.grade) == (code, grade)
    assert result.criteria == csv_text(code, grade)
    assert result.needs_clinical_assessment is False


# Fever: 38.0 - 39.0 is grade 1 (both ends included), >39.0 - 40.0 grade 2, >40.0 grade 3
# (grade 4 needs >24 hrs, which one reading cannot show).
TEMPERATURES = [
    ("36.6", 0, False),
    ("37.99", 0, False),
    ("38.0", 1, False),
    ("39.0", 1, False),
    ("39.01", 2, False),
    ("40.0", 2, False),
    ("40.01", 3, True),
    ("41.5", 3, True),
]


@pytest.mark.parametrize(
    ("celsius", "grade", "flagged"),
    [pytest.param(*row, id=f"{row[0]} C is G{row[1]}") for row in TEMPERATURES],
)
def test_fever_boundaries(celsius: str, grade: int, flagged: bool) -> None:
    result = only({"temperature_c": float(celsius)})

    assert (result.term, result.grade) == ("Fever", grade)
    assert result.needs_clinical_assessment is flagged
    assert result.criteria == csv_text(FEVER, grade)


def test_fever_from_an_integer_or_decimal_reading() -> None:
    assert only({"temperature_c": 39}).grade == 1
    assert only({"temperature_c": Decimal("39.5")}).grade == 2


@pytest.mark.parametrize("reading", [98.6, 102, 20, -1])
def test_an_implausible_celsius_reading_is_refused_not_graded(reading: float) -> None:
    with pytest.raises(GradingError) as caught:
        grade_symptoms({"temperature_c": reading})

    assert caught.value.field == "report.temperature_c"
    assert "Celsius" in caught.value.detail


# --------------------------------------------------------------------------- diarrhea


@pytest.mark.parametrize(
    ("stools", "incontinence", "grade"),
    [
        (2, True, 3),
        (5, True, 3),
        (8, True, 3),
        (8, False, 3),
        (5, False, 2),
        (0, False, 0),
    ],
)
def test_stools_and_incontinence_give_one_diarrhea_result_the_worse(
    stools: int, incontinence: bool, grade: int
) -> None:
    result = only({"stools_above_baseline": stools, "incontinence": incontinence})

    assert (result.term, result.grade) == ("Diarrhea", grade)


# --------------------------------------------------------------------------- report handling


def test_one_result_per_reported_symptom_in_a_fixed_order_grade_0_included() -> None:
    results = grade_symptoms(
        {
            "temperature_c": 37.2,
            "nausea": "eating_less",
            "stools_above_baseline": 0,
            "fatigue": "none",
        }
    )

    assert [(r.term, r.grade) for r in results] == [
        ("Diarrhea", 0),
        ("Nausea", 2),
        ("Fatigue", 0),
        ("Fever", 0),
    ]
    assert all(r.direction is None and r.x_uln is None for r in results)


def test_absent_and_null_fields_give_no_result() -> None:
    assert grade_symptoms({}) == []
    assert grade_symptoms({"nausea": None, "incontinence": None}) == []


@pytest.mark.parametrize("field", ["yellow_eyes_or_skin", "abdominal_swelling", "confusion"])
def test_hepatic_warning_signs_are_not_graded(field: str) -> None:
    assert grade_symptoms({field: True}) == []
    assert grade_symptoms({field: False}) == []


@pytest.mark.parametrize("field", ["yellow_eyes_or_skin", "abdominal_swelling", "confusion"])
def test_hepatic_warning_signs_must_still_be_booleans(field: str) -> None:
    with pytest.raises(GradingError) as caught:
        grade_symptoms({field: "yes"})

    assert caught.value.field == f"report.{field}"


def test_symptom_result_dict_has_the_contract_shape() -> None:
    assert only({"vomiting_episodes": 4}).to_dict() == {
        "term": "Vomiting",
        "meddra_code": VOMITING,
        "grade": 2,
        "direction": None,
        "x_uln": None,
        "criteria": "3 - 5 episodes (separated by 5 minutes) in 24 hrs",
        "needs_clinical_assessment": False,
    }


@pytest.mark.parametrize(
    ("report", "field"),
    [
        ({"headache": "mild"}, "report.headache"),
        ({"nausea": "severe"}, "report.nausea"),
        ({"nausea": 2}, "report.nausea"),
        ({"fatigue": "None"}, "report.fatigue"),
        ({"stools_above_baseline": -1}, "report.stools_above_baseline"),
        ({"stools_above_baseline": 2.0}, "report.stools_above_baseline"),
        ({"stools_above_baseline": "3"}, "report.stools_above_baseline"),
        ({"stools_above_baseline": True}, "report.stools_above_baseline"),
        ({"vomiting_episodes": 1.5}, "report.vomiting_episodes"),
        ({"incontinence": 1}, "report.incontinence"),
        ({"incontinence": "true"}, "report.incontinence"),
        ({"temperature_c": "hot"}, "report.temperature_c"),
        ({"temperature_c": True}, "report.temperature_c"),
        ({"temperature_c": float("nan")}, "report.temperature_c"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_bad_report_fields_are_errors_naming_the_field(
    report: dict[str, object], field: str
) -> None:
    with pytest.raises(GradingError) as caught:
        grade_symptoms(report)

    assert caught.value.field == field
    assert caught.value.detail


def test_a_report_that_is_not_an_object_is_an_error() -> None:
    with pytest.raises(GradingError) as caught:
        grade_symptoms(["nausea"])  # type: ignore[arg-type]

    assert caught.value.field == "report"
