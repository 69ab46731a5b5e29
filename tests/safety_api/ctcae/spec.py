"""reference/DOMAIN.md section 2, transcribed by hand for the tests (independent of lab_rules.json).

Tests compare the engine and its data against this table, so a typo in the rules file cannot
silently agree with itself.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import services.safety_api.ctcae as ctcae_package

DATA_DIR = Path(ctcae_package.__file__).parent / "data"
CSV_SHA256 = "7b392f23b2e94512f8fe546b8eea005868fab1cc264d68bc3c0cc3724415ad64"

# analyte -> (LOINC codes, accepted UCUM units, MedDRA codes of its CTCAE terms)
DOMAIN_ANALYTES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "ALT": (("1742-6", "1743-4", "76625-3"), ("U/L",), ("10001551",)),
    "AST": (("1920-8", "30239-8"), ("U/L",), ("10003481",)),
    "ALP": (("6768-6",), ("U/L",), ("10001675",)),
    "GGT": (("2324-2",), ("U/L",), ("10056910",)),
    "BILI": (("1975-2", "14631-6", "42719-5"), ("mg/dL", "umol/L"), ("10005364",)),
    "ALB": (("1751-7", "61151-7"), ("g/dL", "g/L"), ("10020943",)),
    "INR": (("6301-6", "34714-6"), ("{INR}", "1"), ("10022402",)),
    "NEUT": (("751-8", "26499-4", "753-4"), ("10*9/L", "10*3/uL", "/mm3", "/uL"), ("10029366",)),
    "PLT": (("777-3", "26515-7"), ("10*9/L", "10*3/uL", "/mm3", "/uL"), ("10035528",)),
    "WBC": (("6690-2", "26464-8"), ("10*9/L", "10*3/uL", "/mm3", "/uL"), ("10049182",)),
    "LYMPH": (("731-0", "26474-7"), ("10*9/L", "10*3/uL", "/mm3", "/uL"), ("10025256",)),
    "HGB": (("718-7",), ("g/dL", "g/L", "mmol/L"), ("10002272",)),
    "CREAT": (("2160-0", "14682-9"), ("mg/dL", "umol/L"), ("10011368",)),
    "K": (("2823-3", "6298-4"), ("mmol/L", "meq/L"), ("10021018", "10020647")),
    "NA": (("2951-2", "2947-0"), ("mmol/L", "meq/L"), ("10021038", "10020680")),
    "GLUC": (("1558-6", "2345-7", "2339-0"), ("mg/dL", "mmol/L"), ("10021005", "10020639")),
    "CGA": (("9811-1", "25587-7"), ("ng/mL", "ug/L", "nmol/L"), ()),
}

# A value of each analyte in its first unit, with a reference range, used where any valid lab
# will do (e.g. "every LOINC alternative grades like the analyte name").
TYPICAL_LAB: dict[str, dict[str, object]] = {
    "ALT": {"value": 130, "unit": "U/L", "ref_low": 7, "ref_high": 40},
    "AST": {"value": 130, "unit": "U/L", "ref_low": 8, "ref_high": 35},
    "ALP": {"value": 400, "unit": "U/L", "ref_low": 40, "ref_high": 130},
    "GGT": {"value": 60, "unit": "U/L", "ref_low": 9, "ref_high": 48},
    "BILI": {"value": 2.5, "unit": "mg/dL", "ref_low": 0.1, "ref_high": 1.2},
    "ALB": {"value": 2.8, "unit": "g/dL", "ref_low": 3.5, "ref_high": 5.0},
    "INR": {"value": 1.9, "unit": "{INR}", "ref_low": 0.8, "ref_high": 1.2},
    "NEUT": {"value": 1.2, "unit": "10*9/L", "ref_low": 1.8, "ref_high": 7.7},
    "PLT": {"value": 60, "unit": "10*9/L", "ref_low": 150, "ref_high": 400},
    "WBC": {"value": 2.5, "unit": "10*9/L", "ref_low": 4.0, "ref_high": 11.0},
    "LYMPH": {"value": 0.4, "unit": "10*9/L", "ref_low": 1.0, "ref_high": 4.8},
    "HGB": {"value": 9.1, "unit": "g/dL", "ref_low": 12.0, "ref_high": 16.0},
    "CREAT": {"value": 2.0, "unit": "mg/dL", "ref_low": 0.6, "ref_high": 1.2},
    "K": {"value": 5.8, "unit": "mmol/L", "ref_low": 3.5, "ref_high": 5.1},
    "NA": {"value": 128, "unit": "mmol/L", "ref_low": 135, "ref_high": 145},
    "GLUC": {"value": 180, "unit": "mg/dL", "ref_low": 70, "ref_high": 99},
    "CGA": {"value": 250, "unit": "ng/mL"},
}


@cache
def csv_rows() -> dict[str, dict[str, str]]:
    """The CTCAE CSV read directly (not through rules.py), by MedDRA code."""
    with (DATA_DIR / "ctcae_v4.03.csv").open(encoding="utf-8", newline="") as f:
        return {row["meddra_code"]: row for row in csv.DictReader(f)}


def csv_text(meddra_code: str, grade: int) -> str | None:
    """The CSV text of a grade, or None at grade 0."""
    return csv_rows()[meddra_code][f"grade{grade}"] if grade else None
