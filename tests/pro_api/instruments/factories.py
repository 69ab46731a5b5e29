"""Builders for instrument definition files and answer sets used by the tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from services.pro_api.instruments.loader import PACKAGE_DATA_DIR

FOUR_POINT = [
    {"code": 1, "label": {"en": "Not at all"}},
    {"code": 2, "label": {"en": "A little"}},
    {"code": 3, "label": {"en": "Quite a bit"}},
    {"code": 4, "label": {"en": "Very much"}},
]

ALL_PARTS_VERIFIED = {
    "items_text": True,
    "response_options": True,
    "recall_periods": True,
    "scales": True,
    "copyright_notice": True,
}


def shipped_file(name: str) -> dict[str, Any]:
    """A deep copy of a shipped definition, to be modified by a test."""
    data: dict[str, Any] = json.loads((PACKAGE_DATA_DIR / name).read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def write_json(directory: Path, name: str, data: Any) -> Path:
    path = directory / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def questionnaire(
    code: str = "test-q",
    *,
    items: list[dict[str, Any]] | None = None,
    scales: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A small valid, fully verified questionnaire: items 1-3 on a 4-point scale."""
    return {
        "type": "questionnaire",
        "code": code,
        "name": {"en": "Test questionnaire"},
        "version": "1",
        "option_sets": {"four_point": FOUR_POINT},
        "items": items
        if items is not None
        else [
            {
                "number": n,
                "text": {"en": f"Question {n}?"},
                "options": "four_point",
                "verified": True,
            }
            for n in (1, 2, 3)
        ],
        "scales": scales
        if scales is not None
        else [
            {
                "code": "AB",
                "name": {"en": "A and B"},
                "items": [1, 2],
                "kind": "symptom",
                "range": 3,
                "verified": True,
            }
        ],
        "copyright": {"notice": "© test", "licence": "test only"},
        "provenance": {"source": "test", "verified": dict(ALL_PARTS_VERIFIED)},
    }


def licensed_ginet21_replacement() -> dict[str, Any]:
    """Stand-in for a site's licensed QLQ-GINET21 file: same shape, every part verified."""
    data = shipped_file("qlq-ginet21.json")
    data["name"] = {"en": "EORTC QLQ-GINET21 (site licensed copy)"}
    data["version"] = "licensed-test"
    for item in data["items"]:
        item["text"] = {"en": f"Licensed wording of item {item['number']}?"}
        item["verified"] = True
    for scale in data["scales"]:
        scale["verified"] = True
    data["provenance"] = {"source": "EORTC licensed file (test)", "verified": ALL_PARTS_VERIFIED}
    del data["verification"]
    return data


def all_answers(code: int, numbers: range = range(1, 29)) -> dict[int, int]:
    return {number: code for number in numbers}
