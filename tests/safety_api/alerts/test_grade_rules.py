"""Grade-based rules: hepatic lab grade >= 3 (high; grade 4 critical), worsening >= 2 grades
above baseline (high), systemic grade >= 3 (high, switchable per site)."""

import pytest

from .factories import anc, lab, only, policy, report, signals, subject


@pytest.mark.parametrize("analyte", ["ALT", "AST", "ALP", "GGT", "BILI", "ALB", "INR"])
def test_grade_3_hepatic_lab_is_high(analyte):
    raised = only("hepatic_grade", signals([lab(analyte, grade=3)]))

    assert [a.severity for a in raised] == ["high"]
    assert raised[0].evidence[0]["grade"] == 3


def test_grade_4_hepatic_lab_is_critical():
    raised = only("hepatic_grade", signals([lab("ALT", x_uln="21", grade=4)]))

    assert [a.severity for a in raised] == ["critical"]
    assert "ALT 21\N{MULTIPLICATION SIGN}ULN (grade 4)" in raised[0].summary


def test_grade_2_hepatic_lab_does_not_alert_on_grade():
    assert only("hepatic_grade", signals([lab("BILI", x_uln="2.5", grade=2)])) == []


def test_ungraded_lab_does_not_alert_on_grade():
    assert only("hepatic_grade", signals([lab("ALT", x_uln="25")])) == []


def test_several_grade_3_labs_in_one_request_make_one_signal():
    raised = only("hepatic_grade", signals([lab("ALT", grade=3), lab("AST", grade=4)]))

    assert len(raised) == 1
    assert raised[0].severity == "critical"
    assert [e["analyte"] for e in raised[0].evidence] == ["ALT", "AST"]


def test_neutrophils_are_not_a_hepatic_grade():
    assert only("hepatic_grade", signals([anc("400", grade=4)])) == []


def test_alt_two_grades_above_baseline_is_worsening():
    raised = only(
        "worsening", signals([lab("ALT", grade=3)], ctx=subject(baseline_grades={"ALT": 1}))
    )

    assert [(a.severity, a.labels) for a in raised] == [("high", [])]
    assert raised[0].evidence[0]["baseline_grade"] == 1


def test_alt_one_grade_above_baseline_is_not_worsening():
    ctx = subject(baseline_grades={"ALT": 1})

    assert only("worsening", signals([lab("ALT", grade=2)], ctx=ctx)) == []


def test_missing_baseline_is_assumed_normal_and_said():
    raised = only("worsening", signals([lab("BILI", grade=2)], ctx=subject(baseline_grades={})))

    assert raised[0].labels == ["baseline_assumed_grade_0"]
    assert "no baseline recorded" in raised[0].summary


def test_site_can_skip_worsening_when_baseline_is_missing():
    site = policy({"rules": {"worsening": {"missing_baseline": "skip"}}})

    assert only("worsening", signals([lab("BILI", grade=3)], site_policy=site)) == []


def test_patient_reported_grade_3_diarrhea_is_systemic_high():
    diarrhea = report(graded=[("Diarrhea", "10012727", 3), ("Nausea", "10028813", 1)])

    raised = only("systemic_grade", signals([diarrhea]))

    assert [(a.severity, a.labels) for a in raised] == [("high", ["patient_reported"])]
    assert [e["finding"] for e in raised[0].evidence] == ["Diarrhea"]


def test_grade_4_platelets_are_systemic_high_by_default():
    raised = only("systemic_grade", signals([lab("PLT", grade=4)]))

    assert [a.severity for a in raised] == ["high"]


def test_hepatic_labs_are_not_systemic():
    assert only("systemic_grade", signals([lab("ALT", grade=4)])) == []


def test_grade_2_symptom_is_not_systemic_alert():
    assert only("systemic_grade", signals([report(graded=[("Fatigue", "10016256", 2)])])) == []


def test_site_can_switch_systemic_grade_off():
    site = policy({"rules": {"systemic_grade": {"enabled": False}}})

    assert only("systemic_grade", signals([lab("PLT", grade=4)], site_policy=site)) == []


def test_site_can_make_systemic_grade_4_critical():
    site = policy({"rules": {"systemic_grade": {"critical_from_grade": 4}}})

    raised = only("systemic_grade", signals([lab("PLT", grade=4)], site_policy=site))

    assert [a.severity for a in raised] == ["critical"]
