"""The alert policy is data: shipped defaults, per-site overrides merged in and validated."""

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.safety_api.alerts.policy import default_policy, load_policy


def test_defaults_are_the_protocol_values():
    rules = default_policy().rules

    assert rules.hys_law.aminotransferase_x_uln_at_least == Decimal("3.0")
    assert rules.hys_law.bilirubin_x_uln_above == Decimal("2.0")
    assert rules.hys_law.cholestatic_alp_x_uln_at_least == Decimal("2.0")
    assert rules.hys_law.pairing_days == 7
    assert rules.reild_watch.window_days == 120
    assert rules.febrile_neutropenia.within_days == 3
    assert rules.febrile_neutropenia.temperature_c_at_least == Decimal("38.3")
    assert rules.hepatic_grade.analytes == {"ALT", "AST", "ALP", "GGT", "BILI", "ALB", "INR"}
    assert default_policy().ack_deadlines.critical == timedelta(hours=1)
    assert default_policy().ack_deadlines.high == timedelta(hours=24)


def test_no_overrides_is_the_default_policy():
    assert load_policy(None) == default_policy()
    assert load_policy({}) == default_policy()


def test_site_override_changes_one_value_and_keeps_its_siblings():
    site = load_policy({"rules": {"reild_watch": {"window_days": 90}}})

    assert site.rules.reild_watch.window_days == 90
    assert site.rules.reild_watch.bilirubin_x_uln_above == Decimal("2.0")
    assert site.rules.hys_law == default_policy().rules.hys_law


def test_overrides_do_not_change_the_default():
    load_policy({"rules": {"hys_law": {"pairing_days": 2}}})

    assert default_policy().rules.hys_law.pairing_days == 7


def test_lists_are_replaced_not_merged():
    site = load_policy({"rules": {"hepatic_grade": {"analytes": ["ALT", "AST"]}}})

    assert site.rules.hepatic_grade.analytes == {"ALT", "AST"}


def test_deadlines_take_iso_8601_durations():
    site = load_policy({"ack_deadlines": {"critical": "PT30M"}})

    assert site.ack_deadlines.critical == timedelta(minutes=30)


def test_float_threshold_is_refused_with_the_field_and_the_fix():
    with pytest.raises(ValidationError) as error:
        load_policy({"rules": {"hys_law": {"bilirubin_x_uln_above": 2.0}}})

    assert "rules.hys_law.bilirubin_x_uln_above" in str(error.value)
    assert 'decimal string, e.g. "2.0"' in str(error.value)


def test_misspelt_key_is_refused_rather_than_ignored():
    with pytest.raises(ValidationError, match=r"rules\.hys_law\.pairing_day\b"):
        load_policy({"rules": {"hys_law": {"pairing_day": 3}}})


def test_unknown_severity_is_refused():
    with pytest.raises(ValidationError, match="severity"):
        load_policy({"rules": {"worsening": {"severity": "medium"}}})


def test_non_hepatic_analyte_in_hepatic_rule_is_refused():
    with pytest.raises(ValidationError, match="not a hepatic analyte: NEUT"):
        load_policy({"rules": {"hepatic_grade": {"analytes": ["ALT", "NEUT"]}}})


def test_zero_deadline_is_refused():
    with pytest.raises(ValidationError, match="positive duration"):
        load_policy({"ack_deadlines": {"high": "PT0S"}})


def test_policy_is_immutable():
    with pytest.raises(ValidationError):
        default_policy().rules.hys_law.pairing_days = 3  # type: ignore[misc]
