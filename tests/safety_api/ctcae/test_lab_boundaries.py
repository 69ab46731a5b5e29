"""Both sides of every CTCAE v4.03 grade boundary of every analyte in DOMAIN.md section 2.

Each boundary gives two cases: the value exactly on the edge (CTCAE "A - B" includes B, so it
stays in the lower grade) and a value just past it (the next grade). Every unit variant has its
own rows, with CTCAE's own numbers for that unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from services.safety_api.ctcae import grade_lab
from tests.safety_api.ctcae.spec import csv_text

ALT, AST, ALP, GGT = "10001551", "10003481", "10001675", "10056910"
BILI, ALB, INR, CREAT = "10005364", "10020943", "10022402", "10011368"
NEUT, PLT, WBC, LYMPH, ANEMIA = "10029366", "10035528", "10049182", "10025256", "10002272"
HYPO_K, HYPER_K, HYPO_NA, HYPER_NA = "10021018", "10020647", "10021038", "10020680"
HYPO_GLUC, HYPER_GLUC = "10021005", "10020639"

EPSILON = Decimal("0.001")


@dataclass(frozen=True)
class Lab:
    label: str
    analyte: str
    unit: str
    term: str  # MedDRA code of the term the boundaries belong to
    high: bool  # the term's worse side is higher values
    kwargs: tuple[tuple[str, object], ...] = ()


# (lab, [(edge value, grade on the edge, grade just past it, what the edge is)])
BOUNDARIES: list[tuple[Lab, list[tuple[str, int, int, str]]]] = [
    (
        Lab("ALT ULN 40", "ALT", "U/L", ALT, True, (("ref_low", 7), ("ref_high", 40))),
        [
            ("40", 0, 1, "ULN"),
            ("120", 1, 2, "3.0xULN"),
            ("200", 2, 3, "5.0xULN"),
            ("800", 3, 4, "20.0xULN"),
        ],
    ),
    (
        Lab("AST ULN 35", "AST", "U/L", AST, True, (("ref_high", 35),)),
        [
            ("35", 0, 1, "ULN"),
            ("105", 1, 2, "3.0xULN"),
            ("175", 2, 3, "5.0xULN"),
            ("700", 3, 4, "20.0xULN"),
        ],
    ),
    (
        Lab("ALP ULN 130", "ALP", "U/L", ALP, True, (("ref_high", 130),)),
        [
            ("130", 0, 1, "ULN"),
            ("325", 1, 2, "2.5xULN"),
            ("650", 2, 3, "5.0xULN"),
            ("2600", 3, 4, "20.0xULN"),
        ],
    ),
    (
        Lab("GGT ULN 48", "GGT", "U/L", GGT, True, (("ref_high", 48),)),
        [
            ("48", 0, 1, "ULN"),
            ("120", 1, 2, "2.5xULN"),
            ("240", 2, 3, "5.0xULN"),
            ("960", 3, 4, "20.0xULN"),
        ],
    ),
    (
        Lab("BILI mg/dL ULN 1.2", "BILI", "mg/dL", BILI, True, (("ref_high", "1.2"),)),
        [
            ("1.2", 0, 1, "ULN"),
            ("1.8", 1, 2, "1.5xULN"),
            ("3.6", 2, 3, "3.0xULN"),
            ("12.0", 3, 4, "10.0xULN"),
        ],
    ),
    (
        Lab("BILI umol/L ULN 21", "BILI", "umol/L", BILI, True, (("ref_high", 21),)),
        [
            ("21", 0, 1, "ULN"),
            ("31.5", 1, 2, "1.5xULN"),
            ("63", 2, 3, "3.0xULN"),
            ("210", 3, 4, "10.0xULN"),
        ],
    ),
    (
        Lab("ALB g/dL LLN 3.5", "ALB", "g/dL", ALB, False, (("ref_low", "3.5"),)),
        [("3.5", 0, 1, "LLN"), ("3", 1, 2, "3 g/dL"), ("2", 2, 3, "2 g/dL")],
    ),
    (
        Lab("ALB g/L LLN 35", "ALB", "g/L", ALB, False, (("ref_low", 35),)),
        [("35", 0, 1, "LLN"), ("30", 1, 2, "30 g/L"), ("20", 2, 3, "20 g/L")],
    ),
    (
        Lab("INR {INR} ULN 1.2", "INR", "{INR}", INR, True, (("ref_high", "1.2"),)),
        [("1.2", 0, 1, "ULN"), ("1.8", 1, 2, "1.5xULN"), ("3.0", 2, 3, "2.5xULN")],
    ),
    (
        Lab("INR 1 ULN 1.1", "INR", "1", INR, True, (("ref_high", "1.1"),)),
        [("1.1", 0, 1, "ULN"), ("1.65", 1, 2, "1.5xULN"), ("2.75", 2, 3, "2.5xULN")],
    ),
    (
        Lab(
            "INR anticoagulated baseline 2.0",
            "INR",
            "{INR}",
            INR,
            True,
            (("ref_high", "1.2"), ("baseline", "2.0"), ("anticoagulated", True)),
        ),
        [("2.0", 0, 1, "baseline"), ("3.0", 1, 2, "1.5xbaseline"), ("5.0", 2, 3, "2.5xbaseline")],
    ),
    (
        Lab("NEUT /mm3 LLN 1800", "NEUT", "/mm3", NEUT, False, (("ref_low", 1800),)),
        [
            ("1800", 0, 1, "LLN"),
            ("1500", 1, 2, "1500/mm3"),
            ("1000", 2, 3, "1000/mm3"),
            ("500", 3, 4, "500/mm3"),
        ],
    ),
    (
        Lab("NEUT /uL LLN 1800", "NEUT", "/uL", NEUT, False, (("ref_low", 1800),)),
        [
            ("1800", 0, 1, "LLN"),
            ("1500", 1, 2, "1500/uL"),
            ("1000", 2, 3, "1000/uL"),
            ("500", 3, 4, "500/uL"),
        ],
    ),
    (
        Lab("NEUT 10*9/L LLN 1.8", "NEUT", "10*9/L", NEUT, False, (("ref_low", "1.8"),)),
        [
            ("1.8", 0, 1, "LLN"),
            ("1.5", 1, 2, "1.5x10e9/L"),
            ("1.0", 2, 3, "1.0x10e9/L"),
            ("0.5", 3, 4, "0.5x10e9/L"),
        ],
    ),
    (
        Lab("NEUT 10*3/uL LLN 1.8", "NEUT", "10*3/uL", NEUT, False, (("ref_low", "1.8"),)),
        [
            ("1.8", 0, 1, "LLN"),
            ("1.5", 1, 2, "1.5x10e3/uL"),
            ("1.0", 2, 3, "1.0x10e3/uL"),
            ("0.5", 3, 4, "0.5x10e3/uL"),
        ],
    ),
    (
        Lab("PLT /mm3 LLN 150000", "PLT", "/mm3", PLT, False, (("ref_low", 150000),)),
        [
            ("150000", 0, 1, "LLN"),
            ("75000", 1, 2, "75,000/mm3"),
            ("50000", 2, 3, "50,000/mm3"),
            ("25000", 3, 4, "25,000/mm3"),
        ],
    ),
    (
        Lab("PLT /uL LLN 150000", "PLT", "/uL", PLT, False, (("ref_low", 150000),)),
        [
            ("150000", 0, 1, "LLN"),
            ("75000", 1, 2, "75,000/uL"),
            ("50000", 2, 3, "50,000/uL"),
            ("25000", 3, 4, "25,000/uL"),
        ],
    ),
    (
        Lab("PLT 10*9/L LLN 150", "PLT", "10*9/L", PLT, False, (("ref_low", 150),)),
        [
            ("150", 0, 1, "LLN"),
            ("75.0", 1, 2, "75.0x10e9/L"),
            ("50.0", 2, 3, "50.0x10e9/L"),
            ("25.0", 3, 4, "25.0x10e9/L"),
        ],
    ),
    (
        Lab("PLT 10*3/uL LLN 150", "PLT", "10*3/uL", PLT, False, (("ref_low", 150),)),
        [
            ("150", 0, 1, "LLN"),
            ("75", 1, 2, "75x10e3/uL"),
            ("50", 2, 3, "50x10e3/uL"),
            ("25", 3, 4, "25x10e3/uL"),
        ],
    ),
    (
        Lab("WBC /mm3 LLN 4000", "WBC", "/mm3", WBC, False, (("ref_low", 4000),)),
        [
            ("4000", 0, 1, "LLN"),
            ("3000", 1, 2, "3000/mm3"),
            ("2000", 2, 3, "2000/mm3"),
            ("1000", 3, 4, "1000/mm3"),
        ],
    ),
    (
        Lab("WBC /uL LLN 4000", "WBC", "/uL", WBC, False, (("ref_low", 4000),)),
        [
            ("4000", 0, 1, "LLN"),
            ("3000", 1, 2, "3000/uL"),
            ("2000", 2, 3, "2000/uL"),
            ("1000", 3, 4, "1000/uL"),
        ],
    ),
    (
        Lab("WBC 10*9/L LLN 4.0", "WBC", "10*9/L", WBC, False, (("ref_low", "4.0"),)),
        [
            ("4.0", 0, 1, "LLN"),
            ("3.0", 1, 2, "3.0x10e9/L"),
            ("2.0", 2, 3, "2.0x10e9/L"),
            ("1.0", 3, 4, "1.0x10e9/L"),
        ],
    ),
    (
        Lab("WBC 10*3/uL LLN 4.0", "WBC", "10*3/uL", WBC, False, (("ref_low", "4.0"),)),
        [
            ("4.0", 0, 1, "LLN"),
            ("3.0", 1, 2, "3.0x10e3/uL"),
            ("2.0", 2, 3, "2.0x10e3/uL"),
            ("1.0", 3, 4, "1.0x10e3/uL"),
        ],
    ),
    (
        Lab("LYMPH /mm3 LLN 1000", "LYMPH", "/mm3", LYMPH, False, (("ref_low", 1000),)),
        [
            ("1000", 0, 1, "LLN"),
            ("800", 1, 2, "800/mm3"),
            ("500", 2, 3, "500/mm3"),
            ("200", 3, 4, "200/mm3"),
        ],
    ),
    (
        Lab("LYMPH /uL LLN 1000", "LYMPH", "/uL", LYMPH, False, (("ref_low", 1000),)),
        [
            ("1000", 0, 1, "LLN"),
            ("800", 1, 2, "800/uL"),
            ("500", 2, 3, "500/uL"),
            ("200", 3, 4, "200/uL"),
        ],
    ),
    (
        Lab("LYMPH 10*9/L LLN 1.0", "LYMPH", "10*9/L", LYMPH, False, (("ref_low", "1.0"),)),
        [
            ("1.0", 0, 1, "LLN"),
            ("0.8", 1, 2, "0.8x10e9/L"),
            ("0.5", 2, 3, "0.5x10e9/L"),
            ("0.2", 3, 4, "0.2x10e9/L"),
        ],
    ),
    (
        Lab("LYMPH 10*3/uL LLN 1.0", "LYMPH", "10*3/uL", LYMPH, False, (("ref_low", "1.0"),)),
        [
            ("1.0", 0, 1, "LLN"),
            ("0.8", 1, 2, "0.8x10e3/uL"),
            ("0.5", 2, 3, "0.5x10e3/uL"),
            ("0.2", 3, 4, "0.2x10e3/uL"),
        ],
    ),
    (
        Lab("HGB g/dL LLN 12", "HGB", "g/dL", ANEMIA, False, (("ref_low", 12),)),
        [("12", 0, 1, "LLN"), ("10.0", 1, 2, "10.0 g/dL"), ("8.0", 2, 3, "8.0 g/dL")],
    ),
    (
        Lab("HGB g/L LLN 120", "HGB", "g/L", ANEMIA, False, (("ref_low", 120),)),
        [("120", 0, 1, "LLN"), ("100", 1, 2, "100 g/L"), ("80", 2, 3, "80 g/L")],
    ),
    (
        Lab("HGB mmol/L LLN 7.5", "HGB", "mmol/L", ANEMIA, False, (("ref_low", "7.5"),)),
        [("7.5", 0, 1, "LLN"), ("6.2", 1, 2, "6.2 mmol/L"), ("4.9", 2, 3, "4.9 mmol/L")],
    ),
    (
        Lab("CREAT mg/dL ULN 1.2", "CREAT", "mg/dL", CREAT, True, (("ref_high", "1.2"),)),
        [
            ("1.2", 0, 1, "ULN"),
            ("1.8", 1, 2, "1.5xULN"),
            ("3.6", 2, 3, "3.0xULN"),
            ("7.2", 3, 4, "6.0xULN"),
        ],
    ),
    (
        Lab("CREAT umol/L ULN 106", "CREAT", "umol/L", CREAT, True, (("ref_high", 106),)),
        [
            ("106", 0, 1, "ULN"),
            ("159", 1, 2, "1.5xULN"),
            ("318", 2, 3, "3.0xULN"),
            ("636", 3, 4, "6.0xULN"),
        ],
    ),
    # Baseline 0.5 mg/dL with ULN 1.2: below 1.5 mg/dL the baseline arm is the worse arm.
    (
        Lab(
            "CREAT mg/dL baseline 0.5 ULN 1.2",
            "CREAT",
            "mg/dL",
            CREAT,
            True,
            (("ref_high", "1.2"), ("baseline", "0.5")),
        ),
        [("0.5", 0, 1, "baseline"), ("0.75", 1, 2, "1.5xbaseline"), ("1.5", 2, 3, "3.0xbaseline")],
    ),
    (
        Lab(
            "CREAT umol/L baseline 44 ULN 106",
            "CREAT",
            "umol/L",
            CREAT,
            True,
            (("ref_high", 106), ("baseline", 44)),
        ),
        [("44", 0, 1, "baseline"), ("66", 1, 2, "1.5xbaseline"), ("132", 2, 3, "3.0xbaseline")],
    ),
    (
        Lab(
            "K low mmol/L LLN 3.5",
            "K",
            "mmol/L",
            HYPO_K,
            False,
            (("ref_low", "3.5"), ("ref_high", "5.1")),
        ),
        [("3.5", 0, 1, "LLN"), ("3.0", 1, 3, "3.0 mmol/L"), ("2.5", 3, 4, "2.5 mmol/L")],
    ),
    (
        Lab(
            "K low meq/L LLN 3.5",
            "K",
            "meq/L",
            HYPO_K,
            False,
            (("ref_low", "3.5"), ("ref_high", "5.1")),
        ),
        [("3.5", 0, 1, "LLN"), ("3.0", 1, 3, "3.0 mEq/L"), ("2.5", 3, 4, "2.5 mEq/L")],
    ),
    (
        Lab(
            "K high mmol/L ULN 5.1",
            "K",
            "mmol/L",
            HYPER_K,
            True,
            (("ref_low", "3.5"), ("ref_high", "5.1")),
        ),
        [
            ("5.1", 0, 1, "ULN"),
            ("5.5", 1, 2, "5.5 mmol/L"),
            ("6.0", 2, 3, "6.0 mmol/L"),
            ("7.0", 3, 4, "7.0 mmol/L"),
        ],
    ),
    (
        Lab(
            "K high meq/L ULN 5.1",
            "K",
            "meq/L",
            HYPER_K,
            True,
            (("ref_low", "3.5"), ("ref_high", "5.1")),
        ),
        [
            ("5.1", 0, 1, "ULN"),
            ("5.5", 1, 2, "5.5 mEq/L"),
            ("6.0", 2, 3, "6.0 mEq/L"),
            ("7.0", 3, 4, "7.0 mEq/L"),
        ],
    ),
    # Hyponatremia has no grade 2 in v4.03: below 130 it is grade 3 directly.
    (
        Lab(
            "NA low mmol/L LLN 135",
            "NA",
            "mmol/L",
            HYPO_NA,
            False,
            (("ref_low", 135), ("ref_high", 145)),
        ),
        [("135", 0, 1, "LLN"), ("130", 1, 3, "130 mmol/L"), ("120", 3, 4, "120 mmol/L")],
    ),
    (
        Lab(
            "NA low meq/L LLN 135",
            "NA",
            "meq/L",
            HYPO_NA,
            False,
            (("ref_low", 135), ("ref_high", 145)),
        ),
        [("135", 0, 1, "LLN"), ("130", 1, 3, "130 mEq/L"), ("120", 3, 4, "120 mEq/L")],
    ),
    (
        Lab(
            "NA high mmol/L ULN 145",
            "NA",
            "mmol/L",
            HYPER_NA,
            True,
            (("ref_low", 135), ("ref_high", 145)),
        ),
        [
            ("145", 0, 1, "ULN"),
            ("150", 1, 2, "150 mmol/L"),
            ("155", 2, 3, "155 mmol/L"),
            ("160", 3, 4, "160 mmol/L"),
        ],
    ),
    (
        Lab(
            "NA high meq/L ULN 145",
            "NA",
            "meq/L",
            HYPER_NA,
            True,
            (("ref_low", 135), ("ref_high", 145)),
        ),
        [
            ("145", 0, 1, "ULN"),
            ("150", 1, 2, "150 mEq/L"),
            ("155", 2, 3, "155 mEq/L"),
            ("160", 3, 4, "160 mEq/L"),
        ],
    ),
    (
        Lab(
            "GLUC high mg/dL ULN 99",
            "GLUC",
            "mg/dL",
            HYPER_GLUC,
            True,
            (("ref_low", 70), ("ref_high", 99)),
        ),
        [
            ("99", 0, 1, "ULN"),
            ("160", 1, 2, "160 mg/dL"),
            ("250", 2, 3, "250 mg/dL"),
            ("500", 3, 4, "500 mg/dL"),
        ],
    ),
    (
        Lab(
            "GLUC high mmol/L ULN 5.5",
            "GLUC",
            "mmol/L",
            HYPER_GLUC,
            True,
            (("ref_low", "3.9"), ("ref_high", "5.5")),
        ),
        [
            ("5.5", 0, 1, "ULN"),
            ("8.9", 1, 2, "8.9 mmol/L"),
            ("13.9", 2, 3, "13.9 mmol/L"),
            ("27.8", 3, 4, "27.8 mmol/L"),
        ],
    ),
    (
        Lab(
            "GLUC low mg/dL LLN 70",
            "GLUC",
            "mg/dL",
            HYPO_GLUC,
            False,
            (("ref_low", 70), ("ref_high", 99)),
        ),
        [
            ("70", 0, 1, "LLN"),
            ("55", 1, 2, "55 mg/dL"),
            ("40", 2, 3, "40 mg/dL"),
            ("30", 3, 4, "30 mg/dL"),
        ],
    ),
    (
        Lab(
            "GLUC low mmol/L LLN 3.9",
            "GLUC",
            "mmol/L",
            HYPO_GLUC,
            False,
            (("ref_low", "3.9"), ("ref_high", "5.5")),
        ),
        [
            ("3.9", 0, 1, "LLN"),
            ("3.0", 1, 2, "3.0 mmol/L"),
            ("2.2", 2, 3, "2.2 mmol/L"),
            ("1.7", 3, 4, "1.7 mmol/L"),
        ],
    ),
]


def _cases() -> list[object]:
    cases: list[object] = []
    for lab, edges in BOUNDARIES:
        for edge, on_edge, past_edge, what in edges:
            value = Decimal(edge)
            past = value + EPSILON if lab.high else value - EPSILON
            sign = ">" if lab.high else "<"
            cases.append(
                pytest.param(
                    lab, value, on_edge, id=f"{lab.label}: {edge} (= {what}) is G{on_edge}"
                )
            )
            cases.append(
                pytest.param(
                    lab, past, past_edge, id=f"{lab.label}: {past} ({sign} {what}) is G{past_edge}"
                )
            )
    return cases


@pytest.mark.parametrize(("lab", "value", "grade"), _cases())
def test_grade_on_each_side_of_every_ctcae_boundary(lab: Lab, value: Decimal, grade: int) -> None:
    result = grade_lab(lab.analyte, value, lab.unit, **dict(lab.kwargs))  # type: ignore[arg-type]

    assert result is not None
    assert result.grade == grade
    assert result.criteria == csv_text(result.meddra_code, grade)
    if grade:
        assert result.meddra_code == lab.term
        assert result.direction == ("high" if lab.high else "low")
