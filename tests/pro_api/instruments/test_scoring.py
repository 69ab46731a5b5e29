"""EORTC scoring (Scoring Manual 3rd ed.; C30 summary per Giesinger 2016), by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pro_api.instruments.catalog import Instrument
from services.pro_api.instruments.loader import load_instruments
from services.pro_api.instruments.schema import Questionnaire
from services.pro_api.instruments.scoring import (
    InvalidAnswersError,
    score_response,
    validate_answers,
)
from tests.pro_api.instruments.factories import questionnaire

CATALOG = load_instruments()
C30 = CATALOG.get("qlq-c30")
NET = CATALOG.get("eortc-net")
GINET21 = CATALOG.get("qlq-ginet21")

C30_KEYS = ["QL2", "PF2", "RF2", "EF", "CF", "SF", "FA", "NV", "PA", "DY", "SL", "AP", "CO"]
C30_KEYS += ["DI", "FI", "C30SUMMARY"]

# One mixed response, every scale computed by hand below.
MIXED = {
    1: 1, 2: 2, 3: 2, 4: 1, 5: 1,  # PF2
    6: 2, 7: 3,  # RF2
    8: 2,  # DY
    9: 3, 19: 2,  # PA
    10: 3, 12: 2, 18: 4,  # FA
    11: 4,  # SL
    13: 1,  # AP
    14: 2, 15: 1,  # NV
    16: 3,  # CO
    17: 2,  # DI
    20: 1, 25: 2,  # CF
    21: 2, 22: 3, 23: 1, 24: 2,  # EF
    26: 4, 27: 3,  # SF
    28: 2,  # FI
    29: 5, 30: 4,  # QL2
}  # fmt: skip


def test_every_c30_scale_matches_hand_computation() -> None:
    scores = score_response(C30, MIXED)
    # PF2 functional: RS = (1+2+2+1+1)/5 = 1.4; (1 - 0.4/3)*100 = 86.666.. -> 86.67
    assert scores["PF2"] == 86.67
    # RF2 functional: RS = (2+3)/2 = 2.5; (1 - 1.5/3)*100 = 50
    assert scores["RF2"] == 50.0
    # EF functional: RS = (2+3+1+2)/4 = 2; (1 - 1/3)*100 = 66.666.. -> 66.67
    assert scores["EF"] == 66.67
    # CF functional: RS = (1+2)/2 = 1.5; (1 - 0.5/3)*100 = 83.333.. -> 83.33
    assert scores["CF"] == 83.33
    # SF functional: RS = (4+3)/2 = 3.5; (1 - 2.5/3)*100 = 16.666.. -> 16.67
    assert scores["SF"] == 16.67
    # QL2 global: RS = (5+4)/2 = 4.5; 3.5/6*100 = 58.333.. -> 58.33
    assert scores["QL2"] == 58.33
    # FA symptom: RS = (3+2+4)/3 = 3; 2/3*100 = 66.666.. -> 66.67
    assert scores["FA"] == 66.67
    # NV symptom: RS = (2+1)/2 = 1.5; 0.5/3*100 = 16.666.. -> 16.67
    assert scores["NV"] == 16.67
    # PA symptom: RS = (3+2)/2 = 2.5; 1.5/3*100 = 50
    assert scores["PA"] == 50.0
    # Single items, symptom: (x-1)/3*100
    assert scores["DY"] == 33.33  # 2 -> 33.333..
    assert scores["SL"] == 100.0  # 4 -> 100
    assert scores["AP"] == 0.0  # 1 -> 0
    assert scores["CO"] == 66.67  # 3 -> 66.666..
    assert scores["DI"] == 33.33  # 2 -> 33.333..
    assert scores["FI"] == 33.33  # 2 -> 33.333..
    # Summary (Giesinger 2016), in thirds, from unrounded scale scores:
    # PF2 260/3, RF2 150/3, EF 200/3, CF 250/3, SF 50/3,
    # 100-FA 100/3, 100-PA 150/3, 100-NV 250/3, 100-DY 200/3, 100-SL 0, 100-AP 300/3,
    # 100-CO 100/3, 100-DI 200/3; sum 2210/3; /13 = 2210/39 = 56.666.. -> 56.67
    assert scores["C30SUMMARY"] == 56.67


def test_score_keys_are_eortc_abbreviations_then_ginet21_codes_from_its_definition() -> None:
    scores = score_response(NET, {})
    ginet_codes = [scale.code for scale in GINET21.scales]
    assert set(scores) == set(C30_KEYS) | set(ginet_codes)


def test_best_answers_give_ql2_100_pf2_100_fatigue_0_summary_100() -> None:
    answers = {number: 1 for number in range(1, 29)} | {29: 7, 30: 7}
    scores = score_response(C30, answers)
    assert scores["QL2"] == 100.0
    assert scores["PF2"] == 100.0
    assert scores["FA"] == 0.0
    assert scores["C30SUMMARY"] == 100.0


def test_worst_answers_give_functioning_0_symptoms_100_global_0_summary_0() -> None:
    answers = {number: 4 for number in range(1, 29)} | {29: 1, 30: 1}
    scores = score_response(C30, answers)
    assert scores["PF2"] == 0.0
    assert scores["FA"] == 100.0
    assert scores["QL2"] == 0.0
    assert scores["C30SUMMARY"] == 0.0


def test_physical_functioning_with_two_of_five_items_is_not_scored() -> None:
    assert score_response(C30, {1: 2, 2: 2})["PF2"] is None


def test_physical_functioning_with_three_of_five_items_is_scored_on_those_three() -> None:
    # RS = (2+2+3)/3 = 7/3; (1 - (4/3)/3)*100 = (1 - 4/9)*100 = 55.555.. -> 55.56
    assert score_response(C30, {1: 2, 2: 2, 3: 3})["PF2"] == 55.56


def test_two_item_scale_with_one_item_answered_is_scored() -> None:
    # RF2 from item 6 alone: RS = 3; (1 - 2/3)*100 = 33.333.. -> 33.33
    assert score_response(C30, {6: 3})["RF2"] == 33.33


def test_fatigue_with_one_of_three_items_is_not_scored() -> None:
    assert score_response(C30, {10: 4})["FA"] is None


def test_single_item_scale_not_answered_is_none() -> None:
    assert score_response(C30, {})["DI"] is None


def test_summary_is_none_when_one_of_its_thirteen_scales_is_missing() -> None:
    answers = dict(MIXED)
    del answers[17]  # diarrhoea: DI is a summary component
    scores = score_response(C30, answers)
    assert scores["DI"] is None
    assert scores["C30SUMMARY"] is None


def test_summary_does_not_need_financial_difficulties_or_global_health() -> None:
    answers = {number: n for number, n in MIXED.items() if number not in (28, 29, 30)}
    scores = score_response(C30, answers)
    assert scores["FI"] is None
    assert scores["QL2"] is None
    assert scores["C30SUMMARY"] == 56.67


@pytest.mark.parametrize(("code", "expected"), [(1, 0.0), (2, 33.33), (3, 66.67), (4, 100.0)])
def test_ginet21_scales_use_the_symptom_transform(code: int, expected: float) -> None:
    # (code - 1)/3*100 for every scale when all of its items are answered the same.
    scores = score_response(GINET21, {number: code for number in range(31, 52)})
    assert set(scores) == {scale.code for scale in GINET21.scales}
    assert all(value == expected for value in scores.values())


def test_composed_form_scores_the_c30_exactly_as_the_c30_alone() -> None:
    answers = MIXED | {number: 2 for number in range(31, 52)}
    net_scores = score_response(NET, answers)
    c30_scores = score_response(C30, MIXED)
    assert {key: net_scores[key] for key in c30_scores} == c30_scores


def test_valid_complete_answers_have_no_problems() -> None:
    assert validate_answers(NET, MIXED | {number: 1 for number in range(31, 52)}) == []


def test_unknown_item_number_is_a_problem_naming_the_item_range() -> None:
    [problem] = validate_answers(NET, {52: 1})
    assert problem.item == 52
    assert problem.problem == "unknown_item"
    assert "items 1-51" in problem.detail


def test_code_outside_an_items_options_is_a_problem_listing_the_allowed_codes() -> None:
    problems = validate_answers(NET, {1: 5, 29: 0, 31: 2})
    assert [(p.item, p.problem, p.allowed_codes) for p in problems] == [
        (1, "code_not_allowed", (1, 2, 3, 4)),
        (29, "code_not_allowed", (1, 2, 3, 4, 5, 6, 7)),
    ]
    assert problems[0].detail == "Item 1: 5 is not an allowed answer; allowed: 1, 2, 3, 4."


def test_boolean_answer_is_not_taken_as_code_1() -> None:
    [problem] = validate_answers(C30, {1: True})
    assert problem.problem == "code_not_allowed"


def test_invalid_answers_are_refused_not_scored() -> None:
    with pytest.raises(InvalidAnswersError) as raised:
        score_response(C30, {1: 9, 31: 1})
    assert [p.item for p in raised.value.problems] == [1, 31]


def _conditional_instrument() -> Instrument:
    items = [
        {
            "number": 1,
            "text": {"en": "Sexually active?"},
            "options": "four_point",
            "verified": True,
        },
        {
            "number": 2,
            "text": {"en": "Was sex enjoyable?"},
            "options": "four_point",
            "show_if": {"item": 1, "in": [2, 3, 4]},
            "verified": True,
        },
    ]
    return Instrument.of_questionnaire(
        Questionnaire.model_validate(questionnaire(items=items, scales=[]))
    )


def test_answer_to_an_item_whose_condition_is_not_met_is_a_problem() -> None:
    instrument = _conditional_instrument()
    [problem] = validate_answers(instrument, {1: 1, 2: 3})
    assert (problem.item, problem.problem) == (2, "item_not_shown")
    assert validate_answers(instrument, {1: 2, 2: 3}) == []


# Any subset of items 1-51, each answered with one of that item's own codes.
answer_sets = st.fixed_dictionaries(
    {}, optional={item.number: st.sampled_from(item.codes) for item in NET.items}
)


@given(answer_sets)
def test_every_score_is_missing_or_within_0_to_100(answers: dict[int, int]) -> None:
    for value in score_response(NET, answers).values():
        assert value is None or 0.0 <= value <= 100.0


@given(st.dictionaries(st.integers(1, 28), st.integers(1, 4), min_size=28))
def test_summary_is_within_0_to_100_when_all_c30_symptom_and_function_items_answered(
    answers: dict[int, int],
) -> None:
    summary = score_response(C30, answers)["C30SUMMARY"]
    assert summary is not None
    assert 0.0 <= summary <= 100.0
