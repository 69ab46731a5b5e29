"""UCUM spellings and exact conversions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.safety_api.ctcae.units import conversion_factor, convert, normalise_unit


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("U/L", "U/L"),
        ("U/l", "U/L"),
        ("mg/dL", "mg/dL"),
        ("mg/dl", "mg/dL"),
        ("umol/L", "umol/L"),
        ("µmol/L", "umol/L"),
        ("μmol/L", "umol/L"),
        ("umol/l", "umol/L"),
        ("g/dL", "g/dL"),
        ("g/L", "g/L"),
        ("mmol/L", "mmol/L"),
        ("10*9/L", "10*9/L"),
        ("10^9/L", "10*9/L"),
        ("10*9/l", "10*9/L"),
        ("10*3/uL", "10*3/uL"),
        ("10*3/µL", "10*3/uL"),
        ("10^3/uL", "10*3/uL"),
        ("/mm3", "/mm3"),
        ("/uL", "/uL"),
        ("/µL", "/uL"),
        ("{INR}", "{INR}"),
        ("1", "1"),
        ("%", "%"),
        ("mEq/L", "meq/L"),
        ("meq/L", "meq/L"),
        ("ng/mL", "ng/mL"),
        ("ug/L", "ug/L"),
        ("nmol/L", "nmol/L"),
        (" mg/dL ", "mg/dL"),
    ],
)
def test_accepted_spellings_normalise_to_the_ucum_code(spelling: str, code: str) -> None:
    assert normalise_unit(spelling) == code


@pytest.mark.parametrize(
    "spelling",
    [
        "u/L",  # UCUM u is the atomic mass unit, not the enzyme unit U
        "MG/DL",  # UCUM is case-sensitive: M is mega
        "IU/L",
        "K/uL",
        "x10E9/L",
        "mg",
        "INR",
        "",
        None,
        "cells/uL",
        "Mmol/L",
    ],
)
def test_other_spellings_are_refused_not_guessed(spelling: str | None) -> None:
    assert normalise_unit(spelling) is None


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "expected"),
    [
        ("1.5", "10*9/L", "/mm3", "1500"),
        ("1500", "/mm3", "10*9/L", "1.5"),
        ("1.5", "10*3/uL", "10*9/L", "1.5"),
        ("1000", "/uL", "/mm3", "1000"),
        ("75000", "/uL", "10*3/uL", "75"),
        ("10.0", "g/dL", "g/L", "100"),
        ("88.4", "umol/L", "mmol/L", "0.0884"),
        ("4.2", "meq/L", "mmol/L", "4.2"),
    ],
)
def test_conversions_are_exact_decimals(
    value: str, from_unit: str, to_unit: str, expected: str
) -> None:
    assert convert(Decimal(value), from_unit, to_unit) == Decimal(expected)


def test_mass_and_substance_concentrations_do_not_convert_without_a_molar_mass() -> None:
    with pytest.raises(ValueError, match="cannot convert"):
        conversion_factor("mg/dL", "umol/L")
