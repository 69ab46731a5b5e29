"""UCUM units the grading engine accepts, and exact conversions between them.

Accepted spellings are the UCUM codes EHRs send (reference/DOMAIN.md section 2) plus only the
variants UCUM itself treats as the same unit:

- ``L`` and ``l`` are both the litre in UCUM, so ``mg/dl`` is ``mg/dL``.
- ``10^`` is UCUM's alternative to ``10*``, so ``10^9/L`` is ``10*9/L``.
- the micro prefix may arrive as ``u`` (UCUM), ``µ`` (U+00B5) or ``μ`` (U+03BC).

Everything else is case-sensitive, as UCUM is: ``u/L`` (atomic mass units per litre) or
``MG/DL`` (megagrams) are refused rather than guessed at. ``mEq/L`` / ``meq/L`` are accepted as
``mmol/L``-equivalent because potassium and sodium are monovalent (1 mEq = 1 mmol); the lab
rules accept them for K and NA only. ``%`` is recognised so that a differential count in % gets
a clear refusal instead of "unknown unit".
"""

from __future__ import annotations

import itertools
from decimal import Context, Decimal
from typing import Final

# Exact arithmetic for unit factors: every factor is a power of ten, so 40 digits never round.
_CTX: Final = Context(prec=40)

# canonical UCUM code -> (dimension, factor to that dimension's reference unit)
_UNITS: Final[dict[str, tuple[str, Decimal]]] = {
    "U/L": ("catalytic concentration", Decimal(1)),
    "g/L": ("mass concentration", Decimal(1)),
    "g/dL": ("mass concentration", Decimal(10)),
    "mg/dL": ("mass concentration", Decimal("0.01")),
    "ug/L": ("mass concentration", Decimal("0.000001")),
    "ng/mL": ("mass concentration", Decimal("0.000001")),
    "mmol/L": ("substance concentration", Decimal(1)),
    "umol/L": ("substance concentration", Decimal("0.001")),
    "nmol/L": ("substance concentration", Decimal("0.000001")),
    # Monovalent ions only (K+, Na+): one equivalent is one mole.
    "meq/L": ("substance concentration", Decimal(1)),
    # Cell counts: 1 x 10^9/L = 1 x 10^3/uL = 1000/mm3 = 1000/uL (1 mm3 = 1 uL).
    "10*9/L": ("number concentration", Decimal(1)),
    "10*3/uL": ("number concentration", Decimal(1)),
    "/mm3": ("number concentration", Decimal("0.001")),
    "/uL": ("number concentration", Decimal("0.001")),
    "{INR}": ("ratio", Decimal(1)),
    "1": ("ratio", Decimal(1)),
    "%": ("percent", Decimal(1)),
}

KNOWN_UNITS: Final[frozenset[str]] = frozenset(_UNITS)

_MICRO_SIGNS: Final = ("u", "\u00b5", "\u03bc")


def _spellings(code: str) -> set[str]:
    """Every accepted spelling of a canonical code."""
    litre = {code, code[:-1] + "l"} if code.endswith("L") else {code}
    tens = {s for c in litre for s in (c, c.replace("10*", "10^"))}
    if code in {"umol/L", "ug/L", "10*3/uL", "/uL"}:
        # Only the micro prefix is a lower-case u in these codes (U/L's U is the enzyme unit).
        return {s.replace("u", m) for s, m in itertools.product(tens, _MICRO_SIGNS)}
    return tens


_SPELLINGS: Final[dict[str, str]] = {
    spelling: code for code in _UNITS for spelling in _spellings(code)
} | {"mEq/L": "meq/L", "mEq/l": "meq/L"}


def normalise_unit(text: str | None) -> str | None:
    """The canonical UCUM code for an accepted spelling, or None if it is not one."""
    if not isinstance(text, str):
        return None
    return _SPELLINGS.get(text.strip())


def dimension(code: str) -> str:
    """What a canonical unit measures (e.g. "number concentration")."""
    return _UNITS[code][0]


def conversion_factor(from_unit: str, to_unit: str) -> Decimal:
    """The exact factor f with value_in(to_unit) = value_in(from_unit) * f.

    Raises ValueError between different dimensions (mass and substance concentrations need a
    molar mass, which is analyte-specific and never needed for CTCAE grading).
    """
    from_dim, from_factor = _UNITS[from_unit]
    to_dim, to_factor = _UNITS[to_unit]
    if from_dim != to_dim:
        raise ValueError(f"cannot convert {from_unit} ({from_dim}) to {to_unit} ({to_dim})")
    return _CTX.divide(from_factor, to_factor)


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """value in from_unit expressed in to_unit, exactly (e.g. 1500 /mm3 -> 1.5 10*9/L)."""
    return _CTX.multiply(value, conversion_factor(from_unit, to_unit))
