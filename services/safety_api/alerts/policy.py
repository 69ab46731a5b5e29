"""Alert policy: which rules raise alerts, at which thresholds, windows and severities.

The policy is data (``data/alert_policy_default.json``), validated here once at start-up. A
site may override any part of it with a plain dict; the dict is deep-merged into the defaults
and the result validated again, so a misspelt key or a float threshold in a site's overrides
fails loudly instead of silently changing nothing.

Conventions of the data file:

- thresholds are decimal strings (``"3.0"``), never JSON floats: CTCAE and Hy's law boundaries
  are compared exactly (DOMAIN.md §2), and ``2.0`` as a float is not the same promise;
- windows are whole calendar days in the subject's local time zone, inclusive at both ends
  (see ``rules.py``);
- acknowledgement deadlines are ISO 8601 durations (``"PT1H"``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Severity = Literal["high", "critical"]

SEVERITY_RANK: Mapping[str, int] = {"high": 1, "critical": 2}

# NCI CTCAE v4.03 liver-related lab terms (DOMAIN.md §2): the "hepatic toxicities" secondary
# outcome of NCT04339036. Everything else that is graded counts as systemic.
HEPATIC_ANALYTES: frozenset[str] = frozenset({"ALT", "AST", "ALP", "GGT", "BILI", "ALB", "INR"})

_DATA_PACKAGE = "services.safety_api.alerts.data"
DEFAULT_POLICY_RESOURCE = "alert_policy_default.json"


def _exact_decimal(value: object) -> Decimal:
    """Accept ``"2.0"``, ``2`` or a Decimal; refuse floats, whose binary value is not exact."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            f'threshold {value!r} must be written as a decimal string, e.g. "2.0" (not a float)'
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f'threshold {value!r} is not a decimal number, e.g. "2.0"') from exc
        if not parsed.is_finite():
            raise ValueError(f"threshold {value!r} must be a finite decimal number")
        return parsed
    raise ValueError(f'threshold {value!r} must be a decimal string, e.g. "2.0"')


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal)]
CalendarDays = Annotated[int, Field(ge=0, le=3650, strict=True)]
Grade = Annotated[int, Field(ge=1, le=5, strict=True)]


def _check_hepatic(analytes: frozenset[str]) -> None:
    unknown = sorted(analytes - HEPATIC_ANALYTES)
    if unknown:
        raise ValueError(
            f"not a hepatic analyte: {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(HEPATIC_ANALYTES))}"
        )


class _PolicyModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Switchable(_PolicyModel):
    enabled: bool


class HepaticGradePolicy(_Switchable):
    """Hepatic lab grade >= 3 alerts; grade 4 is critical (CTCAE v4.03 grade definitions)."""

    analytes: frozenset[str]
    min_grade: Grade
    severity: Severity
    critical_from_grade: Grade | None

    @model_validator(mode="after")
    def _analytes_are_hepatic(self) -> HepaticGradePolicy:
        _check_hepatic(self.analytes)
        return self


class HysLawPolicy(_Switchable):
    """Potential Hy's law (FDA DILI guidance, 2009): ALT or AST >= 3xULN with total bilirubin
    > 2xULN, without initial cholestasis (ALP < 2xULN)."""

    aminotransferase_x_uln_at_least: ExactDecimal
    bilirubin_x_uln_above: ExactDecimal
    cholestatic_alp_x_uln_at_least: ExactDecimal
    pairing_days: CalendarDays
    severity: Severity
    cholestatic_severity: Severity


class ReildWatchPolicy(_Switchable):
    """Radioembolization-induced liver disease watch (Sangro 2008; Braat 2017): jaundice,
    ascites or raised bilirubin 2 weeks to 4 months after TARE. The window starts on the TARE
    day itself so that nothing after TARE is missed."""

    window_days: CalendarDays
    bilirubin_x_uln_above: ExactDecimal
    combine_within_days: CalendarDays
    severity: Severity
    combined_severity: Severity


class WorseningPolicy(_Switchable):
    """A hepatic lab >= 2 grades above the subject's baseline grade (DOMAIN.md §4; the
    remote-monitoring trials alert on worsening, Basch 2016/2017, PRO-TECT)."""

    analytes: frozenset[str]
    grades_above_baseline: Annotated[int, Field(ge=1, le=5, strict=True)]
    # The trial admits abnormal baselines (ALT up to 5xULN), so an unknown baseline is a data
    # gap: by default alert as if the baseline were normal and say so in the alert.
    missing_baseline: Literal["assume_grade_0", "skip"]
    severity: Severity

    @model_validator(mode="after")
    def _analytes_are_hepatic(self) -> WorseningPolicy:
        _check_hepatic(self.analytes)
        return self


class HepaticWarningSignsPolicy(_Switchable):
    """Patient-reported yellow eyes/skin, abdominal swelling or confusion (DOMAIN.md §3: these
    are not graded from a report; they alert)."""

    severity: Severity


class SystemicGradePolicy(_Switchable):
    """Any non-hepatic graded term at grade >= 3 (Basch 2016/2017; PRO-TECT)."""

    min_grade: Grade
    severity: Severity
    critical_from_grade: Grade | None


class FebrileNeutropeniaPolicy(_Switchable):
    """CTCAE v4.03 Febrile neutropenia: ANC < 1000/mm3 with a temperature > 38.3 C. The issue
    asks for >= 38.3 C (the more sensitive side of the boundary) within 3 days of the count."""

    temperature_c_at_least: ExactDecimal
    anc_per_mm3_below: ExactDecimal
    within_days: CalendarDays
    severity: Severity


class AlertRulesPolicy(_PolicyModel):
    hepatic_grade: HepaticGradePolicy
    hys_law: HysLawPolicy
    reild_watch: ReildWatchPolicy
    worsening: WorseningPolicy
    hepatic_warning_signs: HepaticWarningSignsPolicy
    systemic_grade: SystemicGradePolicy
    febrile_neutropenia: FebrileNeutropeniaPolicy


class AckDeadlines(_PolicyModel):
    """Time allowed to acknowledge an alert before it escalates, per severity."""

    critical: timedelta
    high: timedelta

    @model_validator(mode="after")
    def _positive(self) -> AckDeadlines:
        for name in ("critical", "high"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"ack_deadlines.{name} must be a positive duration, e.g. PT1H")
        return self

    def for_severity(self, severity: Severity) -> timedelta:
        return self.critical if severity == "critical" else self.high


class AlertPolicy(_PolicyModel):
    schema_version: Literal[1]
    provenance: str
    rules: AlertRulesPolicy
    ack_deadlines: AckDeadlines

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> AlertPolicy:
        """This policy with a site's overrides deep-merged in and validated.

        Nested objects merge key by key; any other value (lists included) replaces the default.
        """
        if not overrides:
            return self
        merged = deep_merge(self.model_dump(mode="json"), overrides)
        return AlertPolicy.model_validate(merged)


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: mappings merge recursively, other values replace."""
    merged: dict[str, Any] = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


@cache
def default_policy() -> AlertPolicy:
    """The shipped default policy, read from ``data/alert_policy_default.json``."""
    text = (resources.files(_DATA_PACKAGE) / DEFAULT_POLICY_RESOURCE).read_text("utf-8")
    return AlertPolicy.model_validate(json.loads(text))


def load_policy(
    site_overrides: Mapping[str, Any] | None = None,
    *,
    base: AlertPolicy | None = None,
) -> AlertPolicy:
    """The policy for one site: the default (or ``base``) with the site's overrides merged in.

    Raises ``pydantic.ValidationError`` naming the offending field when the result is invalid.
    """
    return (base or default_policy()).with_overrides(site_overrides)
