"""Patient-reported hepatic warning signs (high) and febrile neutropenia: temperature
>= 38.3 °C reported within 3 days of ANC < 1000/mm³ (critical, switchable per site)."""

from typing import Any

import pytest

from .factories import anc, only, policy, report, signals


@pytest.mark.parametrize("sign", ["yellow_eyes_or_skin", "abdominal_swelling", "confusion"])
def test_each_reported_hepatic_warning_sign_is_high(sign):
    signs: dict[str, Any] = {sign: True}
    raised = only("hepatic_warning_signs", signals([report(**signs)]))

    assert [(a.severity, a.labels) for a in raised] == [("high", ["patient_reported"])]
    assert [e["finding"] for e in raised[0].evidence] == [sign]


def test_signs_reported_absent_or_not_answered_do_not_alert():
    quiet = report(yellow_eyes_or_skin=False, abdominal_swelling=None, confusion=False)

    assert only("hepatic_warning_signs", signals([quiet])) == []


def test_two_signs_in_one_report_are_one_signal_naming_both():
    raised = only(
        "hepatic_warning_signs", signals([report(yellow_eyes_or_skin=True, confusion=True)])
    )

    assert len(raised) == 1
    assert "yellow eyes or skin and confusion" in raised[0].summary


def test_fever_two_days_after_a_low_count_is_febrile_neutropenia():
    raised = only(
        "febrile_neutropenia", signals([report(day=2, temperature_c="38.3")], [anc("999")])
    )

    assert [a.severity for a in raised] == ["critical"]
    assert "38.3 °C" in raised[0].summary
    assert "999/mm³" in raised[0].summary
    assert [e["role"] for e in raised[0].evidence] == ["neutrophil_count", "temperature"]


def test_low_count_after_a_reported_fever_pairs_too():
    raised = only(
        "febrile_neutropenia", signals([anc("600", day=3)], [report(temperature_c="38.9")])
    )

    assert len(raised) == 1


def test_fever_four_days_from_the_count_is_not_paired():
    assert (
        only("febrile_neutropenia", signals([report(day=4, temperature_c="39")], [anc("500")]))
        == []
    )


def test_count_of_exactly_1000_is_not_neutropenic_enough():
    assert only("febrile_neutropenia", signals([report(temperature_c="39")], [anc("1000")])) == []


def test_temperature_just_below_38_3_is_not_febrile():
    assert only("febrile_neutropenia", signals([report(temperature_c="38.2")], [anc("500")])) == []


def test_site_can_switch_febrile_neutropenia_off():
    site = policy({"rules": {"febrile_neutropenia": {"enabled": False}}})

    raised = signals([report(temperature_c="39")], [anc("500")], site_policy=site)

    assert only("febrile_neutropenia", raised) == []
