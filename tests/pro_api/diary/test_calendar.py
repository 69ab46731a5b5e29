"""Cycle days and planned doses (DOMAIN.md §1: 28-day cycles from C1D1; capecitabine twice daily
days 1-14; temozolomide at bedtime days 10-14; TARE on C2D7)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pro_api.diary.calendar import (
    CycleDay,
    DoseHold,
    DoseReduction,
    PlannedDose,
    cycle_dates,
    cycle_day,
    cycle_start,
    day_plan,
    planned_doses,
)
from services.pro_api.diary.regimen import load_regimen

from .factories import C1D1, cycle_date, make_plan

DEFAULT = load_regimen("default")
G2_PILOT = load_regimen("g2_pilot")


def _due(local_date: date, **plan_overrides: object) -> list[tuple[str, str]]:
    doses = planned_doses(make_plan(**plan_overrides), DEFAULT, local_date)
    return [(d.drug, d.slot) for d in doses if not d.held]


CAPECITABINE_BID = [("capecitabine", "morning"), ("capecitabine", "evening")]
CAPTEM = [*CAPECITABINE_BID, ("temozolomide", "bedtime")]


# ------------------------------------------------------------------------------- cycle days


@pytest.mark.parametrize(
    ("day", "due"),
    [
        (1, CAPECITABINE_BID),
        (9, CAPECITABINE_BID),
        (10, CAPTEM),
        (14, CAPTEM),
        (15, []),
        (28, []),
    ],
    ids=lambda v: f"day-{v}" if isinstance(v, int) else None,
)
def test_doses_due_on_cycle_day(day: int, due: list[tuple[str, str]]) -> None:
    local_date = cycle_date(1, day)
    assert cycle_day(make_plan(), local_date) == CycleDay(1, day)
    assert _due(local_date) == due


def test_day_29_is_next_cycle_day_1_with_capecitabine_again() -> None:
    day_29 = C1D1 + timedelta(days=28)
    assert cycle_day(make_plan(), day_29) == CycleDay(2, 1)
    assert _due(day_29) == CAPECITABINE_BID


def test_no_cycle_and_no_doses_before_c1d1() -> None:
    day_before = C1D1 - timedelta(days=1)
    assert cycle_day(make_plan(), day_before) is None
    assert planned_doses(make_plan(), DEFAULT, day_before) == []
    assert not day_plan(make_plan(), DEFAULT, day_before).is_on_treatment


def test_planned_dose_carries_the_patients_mg() -> None:
    assert planned_doses(make_plan(), DEFAULT, cycle_date(1, 10)) == [
        PlannedDose("capecitabine", "morning", 1500, held=False),
        PlannedDose("capecitabine", "evening", 1500, held=False),
        PlannedDose("temozolomide", "bedtime", 300, held=False),
    ]


@given(offset=st.integers(min_value=0, max_value=20 * 365))
def test_without_delays_every_day_from_c1d1_is_day_1_to_28_of_its_cycle(offset: int) -> None:
    position = cycle_day(make_plan(), C1D1 + timedelta(days=offset))
    assert position is not None
    assert 1 <= position.day <= 28
    assert position == CycleDay(offset // 28 + 1, offset % 28 + 1)


@given(cycle=st.integers(min_value=1, max_value=60))
def test_every_cycle_plans_28_capecitabine_and_5_temozolomide_doses(cycle: int) -> None:
    plan = make_plan()
    first, last = cycle_dates(plan, cycle)
    doses = [
        d.drug
        for offset in range((last - first).days + 1)
        for d in planned_doses(plan, DEFAULT, first + timedelta(days=offset))
    ]
    assert (doses.count("capecitabine"), doses.count("temozolomide")) == (28, 5)


# ------------------------------------------------------------------------------- delays


def test_delayed_cycle_2_leaves_gap_days_as_cycle_1_day_29_on_without_doses() -> None:
    # C2 was due 2026-02-02 and the site delays it one week to 2026-02-09.
    plan = make_plan(delayed_cycle_starts={2: date(2026, 2, 9)})
    scheduled_c2d1 = date(2026, 2, 2)

    gap = day_plan(plan, DEFAULT, scheduled_c2d1)
    assert (gap.cycle, gap.day, gap.is_delay_gap, gap.doses) == (1, 29, True, ())
    assert cycle_day(plan, date(2026, 2, 8)) == CycleDay(1, 35)

    c2d1 = day_plan(plan, DEFAULT, date(2026, 2, 9))
    assert (c2d1.cycle, c2d1.day, c2d1.is_delay_gap) == (2, 1, False)
    assert [(d.drug, d.slot) for d in c2d1.doses] == CAPECITABINE_BID


def test_cycles_after_a_delay_follow_from_the_delayed_start() -> None:
    plan = make_plan(delayed_cycle_starts={2: date(2026, 2, 9)})
    assert cycle_start(plan, 3) == date(2026, 3, 9)
    assert cycle_day(plan, date(2026, 3, 9)) == CycleDay(3, 1)
    assert cycle_dates(plan, 1) == (C1D1, date(2026, 2, 8))


def test_two_delays_each_move_their_cycle_and_what_follows() -> None:
    plan = make_plan(delayed_cycle_starts={2: date(2026, 2, 9), 4: date(2026, 4, 13)})
    # C3 follows C2: 2026-03-09; C4 was due 2026-04-06 and starts 2026-04-13.
    assert cycle_day(plan, date(2026, 4, 6)) == CycleDay(3, 29)
    assert cycle_day(plan, date(2026, 4, 13)) == CycleDay(4, 1)
    assert cycle_start(plan, 5) == date(2026, 5, 11)


def test_a_delay_cannot_move_a_cycle_earlier() -> None:
    plan = make_plan(delayed_cycle_starts={2: date(2026, 1, 30)})
    with pytest.raises(ValueError, match="can only move a cycle start later"):
        cycle_day(plan, date(2026, 2, 1))


@given(
    delays=st.dictionaries(
        st.integers(min_value=2, max_value=12), st.integers(min_value=0, max_value=21)
    ),
    offset=st.integers(min_value=0, max_value=500),
)
def test_with_any_delays_each_day_continues_the_cycle_or_starts_the_next(
    delays: dict[int, int], offset: int
) -> None:
    starts: dict[int, date] = {}
    start = C1D1
    for cycle in range(2, 13):
        start += timedelta(days=28 + delays.get(cycle, 0))
        if cycle in delays:
            starts[cycle] = start
    plan = make_plan(delayed_cycle_starts=starts)
    today = cycle_day(plan, C1D1 + timedelta(days=offset))
    tomorrow = cycle_day(plan, C1D1 + timedelta(days=offset + 1))
    assert today is not None and tomorrow is not None
    assert tomorrow in (CycleDay(today.cycle, today.day + 1), CycleDay(today.cycle + 1, 1))
    if today.day > 28:  # gap days only ever precede a delayed start
        assert not planned_doses(plan, DEFAULT, C1D1 + timedelta(days=offset))


# ------------------------------------------------------------------------------- holds


def test_whole_day_hold_marks_every_dose_of_that_drug_held() -> None:
    day_10 = cycle_date(1, 10)
    plan = make_plan(held_doses=frozenset({DoseHold(day_10, "capecitabine")}))
    doses = planned_doses(plan, DEFAULT, day_10)
    assert [(d.drug, d.slot, d.held) for d in doses] == [
        ("capecitabine", "morning", True),
        ("capecitabine", "evening", True),
        ("temozolomide", "bedtime", False),
    ]


def test_single_slot_hold_marks_only_that_dose_held() -> None:
    day_3 = cycle_date(1, 3)
    plan = make_plan(held_doses=frozenset({DoseHold(day_3, "capecitabine", "evening")}))
    assert [(d.slot, d.held) for d in planned_doses(plan, DEFAULT, day_3)] == [
        ("morning", False),
        ("evening", True),
    ]
    assert all(not d.held for d in planned_doses(plan, DEFAULT, cycle_date(1, 4)))


# ------------------------------------------------------------------------------- dose changes


def test_dose_reduction_from_cycle_3_applies_from_c3d1_on() -> None:
    plan = make_plan(dose_reductions=(DoseReduction(3, "capecitabine", 1150),))

    def capecitabine_mg(local_date: date) -> float:
        return planned_doses(plan, DEFAULT, local_date)[0].mg

    assert capecitabine_mg(cycle_date(2, 14)) == 1500
    assert capecitabine_mg(cycle_date(3, 1)) == 1150
    assert capecitabine_mg(cycle_date(5, 1)) == 1150
    assert planned_doses(plan, DEFAULT, cycle_date(3, 10))[2].mg == 300  # temozolomide unchanged


def test_later_reduction_replaces_an_earlier_one() -> None:
    plan = make_plan(
        dose_reductions=(
            DoseReduction(5, "capecitabine", 1000),
            DoseReduction(3, "capecitabine", 1150),
        )
    )
    assert planned_doses(plan, DEFAULT, cycle_date(4, 1))[0].mg == 1150
    assert planned_doses(plan, DEFAULT, cycle_date(5, 1))[0].mg == 1000


# ------------------------------------------------------------------------------- TARE, end


def test_tare_on_c2d7_flags_the_day_and_keeps_its_capecitabine() -> None:
    c2d7 = cycle_date(2, 7)
    assert c2d7 == date(2026, 2, 8)
    today = day_plan(make_plan(tare_dates=frozenset({c2d7})), DEFAULT, c2d7)
    assert (today.cycle, today.day, today.is_tare_day) == (2, 7, True)
    assert [(d.drug, d.slot) for d in today.doses] == CAPECITABINE_BID
    next_day = day_plan(make_plan(tare_dates=frozenset({c2d7})), DEFAULT, c2d7 + timedelta(1))
    assert not next_day.is_tare_day


def test_end_of_treatment_day_still_has_doses_and_the_day_after_has_none() -> None:
    end = cycle_date(4, 5)
    plan = make_plan(end_of_treatment=end)
    assert cycle_day(plan, end) == CycleDay(4, 5)
    assert _due(end, end_of_treatment=end) == CAPECITABINE_BID
    after = day_plan(plan, DEFAULT, end + timedelta(days=1))
    assert (after.cycle, after.day, after.doses, after.is_on_treatment) == (None, None, (), False)


# ------------------------------------------------------------------------------- G2 pilot


def test_g2_pilot_day_10_has_divided_temozolomide_morning_and_evening() -> None:
    doses = planned_doses(make_plan(), G2_PILOT, cycle_date(1, 10))
    assert [(d.drug, d.slot, d.mg) for d in doses] == [
        ("capecitabine", "morning", 1500),
        ("temozolomide", "morning", 150),
        ("capecitabine", "evening", 1500),
        ("temozolomide", "evening", 150),
    ]
    day_9 = planned_doses(make_plan(), G2_PILOT, cycle_date(1, 9))
    assert [(d.drug, d.slot) for d in day_9] == CAPECITABINE_BID


# ------------------------------------------------------------------------------- plan checks


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "IANA time zone"),
        ({"starting_dose_mg": {"capecitabine": 0}}, "more than 0"),
        ({"end_of_treatment": date(2025, 12, 31)}, "before C1D1"),
        ({"delayed_cycle_starts": {1: date(2026, 1, 12)}}, "cycles 2 and later"),
        (
            {"dose_reductions": (DoseReduction(3, "capecitabine", 1150),) * 2},
            "two dose changes",
        ),
    ],
    ids=["bad-zone", "zero-mg", "end-before-start", "delay-c1", "duplicate-change"],
)
def test_inconsistent_patient_plan_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_plan(**overrides)


def test_missing_dose_for_a_regimen_drug_is_an_error_not_a_silent_zero() -> None:
    plan = make_plan(starting_dose_mg={"capecitabine": 1500})
    with pytest.raises(ValueError, match="no temozolomide dose"):
        planned_doses(plan, DEFAULT, cycle_date(1, 10))
