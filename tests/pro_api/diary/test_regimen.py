import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.pro_api.diary.regimen import Regimen, load_regimen, load_regimen_file

DATA = Path(__file__).parents[3] / "services" / "pro_api" / "diary" / "data"


def test_default_regimen_gives_28_capecitabine_and_5_temozolomide_doses_per_cycle() -> None:
    regimen = load_regimen("default")
    assert regimen.cycle_length_days == 28
    assert regimen.administrations_per_cycle("capecitabine") == 28
    assert regimen.administrations_per_cycle("temozolomide") == 5
    assert regimen.schedule_for("capecitabine").slots == ("morning", "evening")
    assert regimen.schedule_for("temozolomide").slots == ("bedtime",)


def test_g2_pilot_gives_temozolomide_in_two_divided_doses_days_10_to_14() -> None:
    temozolomide = load_regimen("g2_pilot").schedule_for("temozolomide")
    assert temozolomide.slots == ("morning", "evening")
    assert [(r.first, r.last) for r in temozolomide.dosing_days] == [(10, 14)]
    assert temozolomide.dose_basis == "daily_total_divided"
    assert temozolomide.mg_per_administration(300) == 150


@pytest.mark.parametrize("path", sorted(DATA.glob("regimen_*.json")), ids=lambda p: p.name)
def test_every_shipped_regimen_file_validates(path: Path) -> None:
    assert load_regimen_file(path).code == path.stem.removeprefix("regimen_")


def _default_with(**changes: object) -> dict[str, object]:
    data: dict[str, object] = json.loads((DATA / "regimen_default.json").read_text())
    data.update(changes)
    return data


def _capecitabine_only(first: int, last: int, slots: list[str]) -> dict[str, object]:
    drug = {"drug": "capecitabine", "dosing_days": [{"first": first, "last": last}]}
    return {"drugs": [{**drug, "slots": slots}]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cycle_length_days": 12}, "beyond the 12-day cycle"),
        (_capecitabine_only(1, 14, ["morning", "morning"]), "listed twice"),
        (_capecitabine_only(14, 1, ["morning"]), "last is before first"),
        (_capecitabine_only(1, 14, ["lunchtime"]), "slots"),
        ({"drugs": []}, "at least 1"),
    ],
    ids=["days-past-cycle", "duplicate-slot", "reversed-days", "unknown-slot", "no-drugs"],
)
def test_inconsistent_regimen_is_refused_at_load(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Regimen.model_validate(_default_with(**changes))


def test_regimen_code_must_be_a_plain_name() -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        load_regimen("../secrets")
