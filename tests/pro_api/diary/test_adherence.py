"""Adherence per cycle and drug (DOMAIN.md §7): taken / scheduled, held doses and rest days
15-28 excluded, 80 % threshold, overdose flags."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.pro_api.diary.adherence import (
    METHOD,
    DrugAdherence,
    ReportedDose,
    adherence,
    adherence_for_cycle,
)
from services.pro_api.diary.calendar import DoseHold, PatientPlan, planned_doses
from services.pro_api.diary.regimen import load_regimen

from .factories import C1D1, cycle_date, make_plan

DEFAULT = load_regimen("default")
CYCLE_1 = (C1D1, cycle_date(1, 28))
LONG_AFTER_CYCLE_1 = datetime(2026, 2, 10, 15, 0, tzinfo=UTC)


def _row(rows: tuple[DrugAdherence, ...], cycle: int, drug: str) -> DrugAdherence:
    return next(r for r in rows if (r.cycle, r.drug) == (cycle, drug))


def _all_taken(plan: PatientPlan, first: date, last: date) -> list[ReportedDose]:
    """What a patient who took every non-held dose would report."""
    reports = []
    day = first
    while day <= last:
        for dose in planned_doses(plan, DEFAULT, day):
            if not dose.held:
                reports.append(ReportedDose(day, dose.drug, dose.slot, taken=True))
        day += timedelta(days=1)
    return reports


def test_scripted_cycle_with_2_missed_and_3_held_capecitabine_doses() -> None:
    plan = make_plan(
        held_doses=frozenset(
            {
                DoseHold(cycle_date(1, 5), "capecitabine"),  # whole day: 2 doses
                DoseHold(cycle_date(1, 6), "capecitabine", "evening"),  # 1 dose
            }
        )
    )
    never_reported = (cycle_date(1, 12), "capecitabine", "morning")
    reported_not_taken = (cycle_date(1, 3), "capecitabine", "evening")
    reports = [
        ReportedDose(r.day, r.drug, r.slot, taken=(r.day, r.drug, r.slot) != reported_not_taken)
        for r in _all_taken(plan, *CYCLE_1)
        if (r.day, r.drug, r.slot) != never_reported
    ]
    report = adherence_for_cycle(plan, DEFAULT, 1, reports, now_utc=LONG_AFTER_CYCLE_1)

    # 14 dosing days x 2 = 28 planned; 3 held -> 25 scheduled.
    # Missed: day 3 evening reported not taken (1) + day 12 morning never reported (1) = 2.
    # Taken: 25 - 2 = 23. Percent: 23 / 25 x 100 = 92.0, above the 80 % threshold.
    capecitabine = _row(report.by_cycle_and_drug, 1, "capecitabine")
    assert (
        capecitabine.scheduled,
        capecitabine.taken,
        capecitabine.missed,
        capecitabine.held,
        capecitabine.percent,
        capecitabine.below_threshold,
    ) == (25, 23, 2, 3, 92.0, False)
    assert (capecitabine.missed_reported, capecitabine.unreported, capecitabine.pending) == (
        1,
        1,
        0,
    )
    assert capecitabine.overdose_flags == ()

    temozolomide = _row(report.by_cycle_and_drug, 1, "temozolomide")
    assert (temozolomide.scheduled, temozolomide.taken, temozolomide.percent) == (5, 5, 100.0)
    assert report.method == METHOD


def test_unreported_dose_is_pending_while_its_day_is_open_then_missed() -> None:
    plan = make_plan()
    reports = [
        ReportedDose(cycle_date(1, 1), "capecitabine", "morning", taken=True),
        ReportedDose(cycle_date(1, 1), "capecitabine", "evening", taken=True),
        ReportedDose(cycle_date(1, 2), "capecitabine", "morning", taken=True),
        # day 2 evening: nothing yet
        ReportedDose(cycle_date(1, 3), "capecitabine", "morning", taken=True),
    ]
    # C1D3 (2026-01-07) 10:00 EST: day 2 can still be filled in, day 3 evening is later today.
    during_day_3 = datetime(2026, 1, 7, 15, 0, tzinfo=UTC)
    row = _row(
        adherence_for_cycle(plan, DEFAULT, 1, reports, now_utc=during_day_3).by_cycle_and_drug,
        1,
        "capecitabine",
    )
    assert (row.scheduled, row.taken, row.missed, row.pending, row.percent) == (4, 4, 0, 2, 100.0)

    # C1D4 00:10 EST: day 2's window has closed, so its evening dose is now missed.
    day_4_just_after_midnight = datetime(2026, 1, 8, 5, 10, tzinfo=UTC)
    row = _row(
        adherence_for_cycle(
            plan, DEFAULT, 1, reports, now_utc=day_4_just_after_midnight
        ).by_cycle_and_drug,
        1,
        "capecitabine",
    )
    assert (row.scheduled, row.taken, row.unreported, row.pending) == (5, 4, 1, 3)
    assert row.percent == 80.0 and not row.below_threshold  # 4 / 5: exactly 80 % is adherent


def test_drug_with_nothing_scheduled_yet_has_no_percent() -> None:
    day_5 = datetime(2026, 1, 9, 23, 0, tzinfo=UTC)  # C1D5 18:00 EST, before temozolomide
    report = adherence_for_cycle(make_plan(), DEFAULT, 1, [], now_utc=day_5)
    temozolomide = _row(report.by_cycle_and_drug, 1, "temozolomide")
    assert (temozolomide.scheduled, temozolomide.percent, temozolomide.below_threshold) == (
        0,
        None,
        False,
    )


def test_adherence_below_80_percent_is_flagged() -> None:
    plan = make_plan()
    reports = _all_taken(plan, *CYCLE_1)[6:]  # days 1-3 capecitabine never reported
    row = _row(
        adherence_for_cycle(
            plan, DEFAULT, 1, reports, now_utc=LONG_AFTER_CYCLE_1
        ).by_cycle_and_drug,
        1,
        "capecitabine",
    )
    # 28 scheduled, 6 unreported -> 22 / 28 = 78.6 %
    assert (row.taken, row.missed, row.percent, row.below_threshold) == (22, 6, 78.6, True)


def test_delay_gap_days_add_nothing_to_scheduled() -> None:
    plan = make_plan(delayed_cycle_starts={2: date(2026, 2, 16)})  # two weeks of gap
    reports = _all_taken(plan, C1D1, date(2026, 2, 15))
    report = adherence_for_cycle(
        plan, DEFAULT, 1, reports, now_utc=datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert [(r.drug, r.scheduled, r.taken) for r in report.by_cycle_and_drug] == [
        ("capecitabine", 28, 28),
        ("temozolomide", 5, 5),
    ]


def test_overdose_flags_doses_taken_beyond_the_prescription() -> None:
    plan = make_plan(held_doses=frozenset({DoseHold(cycle_date(1, 6), "capecitabine", "evening")}))
    day_2, day_6, day_10, day_15 = (cycle_date(1, d) for d in (2, 6, 10, 15))
    reports = [
        *_all_taken(plan, *CYCLE_1),
        ReportedDose(day_2, "capecitabine", "morning", taken=True),  # a second morning dose
        ReportedDose(day_6, "capecitabine", "evening", taken=True),  # the site held it
        ReportedDose(day_10, "temozolomide", "morning", taken=True),  # extra, besides bedtime
        ReportedDose(day_15, "capecitabine", "morning", taken=True),  # rest day
        ReportedDose(C1D1 - timedelta(days=1), "capecitabine", "evening", taken=True),
    ]
    report = adherence(
        plan,
        DEFAULT,
        reports,
        first_day=C1D1 - timedelta(days=7),
        last_day=cycle_date(1, 28),
        now_utc=LONG_AFTER_CYCLE_1,
    )

    capecitabine = _row(report.by_cycle_and_drug, 1, "capecitabine")
    assert [
        (f.day, f.slot, f.reported_taken, f.prescribed, f.reason)
        for f in capecitabine.overdose_flags
    ] == [
        (day_2, "morning", 2, 1, "more_than_prescribed"),
        (day_6, "evening", 1, 0, "dose_held"),
        (day_15, "morning", 1, 0, "no_dose_scheduled"),
    ]
    temozolomide = _row(report.by_cycle_and_drug, 1, "temozolomide")
    assert [(f.day, f.slot, f.reason) for f in temozolomide.overdose_flags] == [
        (day_10, "morning", "more_than_prescribed"),
    ]
    assert [(f.cycle, f.reason) for f in report.off_treatment_flags] == [
        (None, "no_dose_scheduled"),
    ]
    # Extra doses never raise adherence: taken counts each scheduled slot once.
    assert (capecitabine.scheduled, capecitabine.taken) == (27, 27)
    assert (temozolomide.scheduled, temozolomide.taken) == (5, 5)


def test_dose_reported_both_taken_and_not_taken_counts_as_taken() -> None:
    day_1 = cycle_date(1, 1)
    reports = [
        ReportedDose(day_1, "capecitabine", "morning", taken=False),
        ReportedDose(day_1, "capecitabine", "morning", taken=True),
    ]
    report = adherence(
        make_plan(), DEFAULT, reports, first_day=day_1, last_day=day_1, now_utc=LONG_AFTER_CYCLE_1
    )
    row = _row(report.by_cycle_and_drug, 1, "capecitabine")
    assert (row.taken, row.missed_reported, row.unreported) == (1, 0, 1)
    assert row.overdose_flags == ()


@settings(max_examples=60, deadline=None)
@given(
    kept=st.lists(st.booleans(), min_size=33, max_size=33),
    taken=st.lists(st.booleans(), min_size=33, max_size=33),
    now_offset_hours=st.integers(min_value=0, max_value=40 * 24),
)
def test_figures_always_add_up(kept: list[bool], taken: list[bool], now_offset_hours: int) -> None:
    plan = make_plan(held_doses=frozenset({DoseHold(cycle_date(1, 11), "temozolomide")}))
    every_dose = _all_taken(make_plan(), *CYCLE_1)  # 28 capecitabine + 5 temozolomide
    reports = [
        ReportedDose(r.day, r.drug, r.slot, taken=t)
        for r, k, t in zip(every_dose, kept, taken, strict=True)
        if k
    ]
    now = datetime(2026, 1, 5, 5, 0, tzinfo=UTC) + timedelta(hours=now_offset_hours)
    report = adherence_for_cycle(plan, DEFAULT, 1, reports, now_utc=now)
    planned_so_far = [
        dose
        for offset in range(28)
        if (day := C1D1 + timedelta(days=offset)) <= report.as_of
        for dose in planned_doses(plan, DEFAULT, day)
    ]
    for row in report.by_cycle_and_drug:
        planned = sum(1 for dose in planned_so_far if dose.drug == row.drug)
        assert planned == row.scheduled + row.held + row.pending
        assert row.scheduled == row.taken + row.missed
        assert row.missed == row.missed_reported + row.unreported
        if row.percent is None:
            assert row.scheduled == 0 and not row.below_threshold
        else:
            assert 0 <= row.percent <= 100
            assert row.below_threshold == (row.taken / row.scheduled < 0.8)
