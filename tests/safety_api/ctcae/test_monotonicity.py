"""Properties: a worse value never grades better; units and number types do not change grades."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.safety_api.ctcae import grade_lab, grade_symptoms

amounts = st.decimals(
    min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False
)
limits = st.decimals(min_value=Decimal("0.001"), max_value=10_000, places=3)


def lab_grade(*args: object, **kwargs: object) -> int:
    result = grade_lab(*args, **kwargs)  # type: ignore[arg-type]
    assert result is not None
    return result.grade


@settings(max_examples=300, deadline=None)
@given(a=amounts, b=amounts, uln=limits)
def test_a_higher_alt_never_grades_lower(a: Decimal, b: Decimal, uln: Decimal) -> None:
    low, high = sorted((a, b))

    assert lab_grade("ALT", low, "U/L", ref_high=uln) <= lab_grade("ALT", high, "U/L", ref_high=uln)


@settings(max_examples=300, deadline=None)
@given(a=amounts, b=amounts, lln=limits)
def test_a_lower_neutrophil_count_never_grades_lower(a: Decimal, b: Decimal, lln: Decimal) -> None:
    low, high = sorted((a, b))

    assert lab_grade("NEUT", low, "/mm3", ref_low=lln) >= lab_grade(
        "NEUT", high, "/mm3", ref_low=lln
    )


@settings(max_examples=200, deadline=None)
@given(a=amounts, b=amounts, uln=limits, baseline=limits)
def test_a_higher_creatinine_never_grades_lower(
    a: Decimal, b: Decimal, uln: Decimal, baseline: Decimal
) -> None:
    low, high = sorted((a, b))
    kwargs: dict[str, object] = {"ref_high": uln, "baseline": baseline}

    assert lab_grade("CREAT", low, "mg/dL", **kwargs) <= lab_grade("CREAT", high, "mg/dL", **kwargs)


@settings(max_examples=200, deadline=None)
@given(
    a=st.decimals(min_value=0, max_value=12, places=2),
    b=st.decimals(min_value=0, max_value=12, places=2),
)
def test_potassium_grades_grow_away_from_the_normal_range(a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    lln, uln = Decimal("3.5"), Decimal("5.1")
    low_result = grade_lab("K", low, "mmol/L", ref_low=lln, ref_high=uln)
    high_result = grade_lab("K", high, "mmol/L", ref_low=lln, ref_high=uln)
    assert low_result is not None and high_result is not None

    if high <= Decimal("4.3"):  # both on the low side: the lower value is at least as bad
        assert low_result.grade >= high_result.grade
    if low >= Decimal("4.3"):
        assert high_result.grade >= low_result.grade


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=500_000),
    lln=st.integers(min_value=1, max_value=500_000),
)
def test_a_platelet_count_grades_the_same_in_every_count_unit(count: int, lln: int) -> None:
    per_mm3 = lab_grade("PLT", count, "/mm3", ref_low=lln)
    thousands = Decimal(count) / 1000
    lln_thousands = Decimal(lln) / 1000

    assert lab_grade("PLT", thousands, "10*9/L", ref_low=lln_thousands) == per_mm3
    assert lab_grade("PLT", thousands, "10*3/uL", ref_low=lln_thousands) == per_mm3
    assert lab_grade("PLT", count, "/uL", ref_low=lln) == per_mm3


@settings(max_examples=200, deadline=None)
@given(
    a=st.decimals(min_value=25, max_value=45, places=2),
    b=st.decimals(min_value=25, max_value=45, places=2),
)
def test_a_higher_temperature_never_grades_lower(a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))

    assert (
        grade_symptoms({"temperature_c": low})[0].grade
        <= grade_symptoms({"temperature_c": high})[0].grade
    )


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(min_value=0, max_value=10_000, allow_nan=False),
    uln=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
)
def test_float_and_its_decimal_string_grade_the_same(value: float, uln: float) -> None:
    assert lab_grade("AST", value, "U/L", ref_high=uln) == lab_grade(
        "AST", str(value), "U/L", ref_high=str(uln)
    )
