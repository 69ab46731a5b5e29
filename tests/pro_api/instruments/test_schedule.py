"""QoL timepoints: baseline, then every 3 months to 24 months, windows of +/-14 local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pro_api.instruments.schedule import (
    ScheduleConfig,
    Timepoint,
    add_months,
    assessment_schedule,
    is_open,
    local_day_start,
)

NEW_YORK = "America/New_York"
TICK = timedelta(microseconds=1)


def local(day: date, tz: str = NEW_YORK, hour: int = 0) -> datetime:
    """Local wall-clock time on ``day`` as an aware UTC instant."""
    wall = datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(tz))
    return wall.astimezone(UTC)


def schedule_at(
    now: datetime,
    *,
    treatment_start: date,
    enrolment_date: date | None = None,
    completed: frozenset[str] = frozenset(),
    tz: str = NEW_YORK,
    config: ScheduleConfig | None = None,
) -> dict[str, Timepoint]:
    timepoints = assessment_schedule(
        enrolment_date=enrolment_date or treatment_start - timedelta(days=10),
        treatment_start=treatment_start,
        timezone=tz,
        now=now,
        completed=completed,
        **({"config": config} if config else {}),
    )
    return {timepoint.code: timepoint for timepoint in timepoints}


def m3_status(now: datetime, treatment_start: date) -> str:
    return schedule_at(now, treatment_start=treatment_start)["M3"].status


# --- calendar -------------------------------------------------------------------------


def test_timepoints_are_baseline_then_every_three_months_to_24() -> None:
    timepoints = schedule_at(local(date(2025, 1, 1)), treatment_start=date(2025, 1, 15))
    assert list(timepoints) == ["baseline", "M3", "M6", "M9", "M12", "M15", "M18", "M21", "M24"]
    assert timepoints["M3"].due_date == date(2025, 4, 15)
    assert timepoints["M24"].due_date == date(2027, 1, 15)


def test_month_end_clamps_to_the_last_day_of_a_shorter_month() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)  # leap year
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2023, 10, 31), 3) == date(2024, 1, 31)
    assert add_months(date(2024, 12, 15), 3) == date(2025, 3, 15)  # across a year


def test_clamping_does_not_drift_to_later_timepoints() -> None:
    # C1D1 Nov 30: M3 clamps to Feb 29, M6 is May 30 again (computed from C1D1).
    timepoints = schedule_at(local(date(2023, 11, 20)), treatment_start=date(2023, 11, 30))
    assert timepoints["M3"].due_date == date(2024, 2, 29)
    assert timepoints["M6"].due_date == date(2024, 5, 30)


def test_follow_up_window_is_due_date_minus_14_to_plus_14_inclusive() -> None:
    m3 = schedule_at(local(date(2025, 1, 1)), treatment_start=date(2025, 1, 15))["M3"]
    assert (m3.window_opens, m3.window_closes) == (date(2025, 4, 1), date(2025, 4, 29))


# --- window edges in America/New_York across DST ----------------------------------------

# C1D1 2024-11-23 -> M3 due 2025-02-23; window 2025-02-09 .. 2025-03-09, and
# 2025-03-09 is the day US daylight saving time starts (02:00 EST -> 03:00 EDT).
START_CLOSING_ON_DST_START = date(2024, 11, 23)
DUE = date(2025, 2, 23)


def test_day_minus_15_is_upcoming_even_at_its_last_instant() -> None:
    assert m3_status(local(DUE - timedelta(days=15)), START_CLOSING_ON_DST_START) == "upcoming"
    last_instant = local(DUE - timedelta(days=14)) - TICK
    assert m3_status(last_instant, START_CLOSING_ON_DST_START) == "upcoming"


def test_day_minus_14_is_open_from_local_midnight() -> None:
    opens = local(DUE - timedelta(days=14))
    assert opens == datetime(2025, 2, 9, 5, tzinfo=UTC)  # midnight EST = 05:00 UTC
    assert m3_status(opens, START_CLOSING_ON_DST_START) == "open"


def test_day_plus_14_is_open_to_its_last_instant_on_the_day_dst_starts() -> None:
    plus_14 = DUE + timedelta(days=14)
    assert plus_14 == date(2025, 3, 9)
    assert m3_status(local(plus_14), START_CLOSING_ON_DST_START) == "open"
    # 23:59:59.999999 EDT on Mar 9 = 03:59:59.999999 UTC on Mar 10
    last_instant = datetime(2025, 3, 10, 4, tzinfo=UTC) - TICK
    assert m3_status(last_instant, START_CLOSING_ON_DST_START) == "open"


def test_day_plus_15_is_missed_from_local_midnight_edt_not_est() -> None:
    m3 = schedule_at(local(DUE), treatment_start=START_CLOSING_ON_DST_START)["M3"]
    # Local midnight starting Mar 10 is 00:00 EDT = 04:00 UTC (not 05:00 as in EST).
    assert m3.closes_at == datetime(2025, 3, 10, 4, tzinfo=UTC)
    # The window is 29 local days, one of them 23 hours long.
    assert m3.closes_at - m3.opens_at == timedelta(days=29, hours=-1)
    assert m3_status(local(date(2025, 3, 10)), START_CLOSING_ON_DST_START) == "missed"


def test_window_closing_the_day_dst_ends_stays_open_through_the_25_hour_day() -> None:
    # C1D1 2025-07-19 -> M3 due 2025-10-19, window closes 2025-11-02 (EDT -> EST at 02:00).
    start = date(2025, 7, 19)
    m3 = schedule_at(local(date(2025, 10, 19)), treatment_start=start)["M3"]
    assert m3.window_closes == date(2025, 11, 2)
    assert m3.closes_at == datetime(2025, 11, 3, 5, tzinfo=UTC)  # midnight EST
    assert m3_status(datetime(2025, 11, 3, 4, 30, tzinfo=UTC), start) == "open"  # 23:30 EST
    assert m3_status(datetime(2025, 11, 3, 5, tzinfo=UTC), start) == "missed"


def test_window_opening_the_day_dst_starts_opens_at_midnight_est() -> None:
    # C1D1 2024-12-23 -> M3 due 2025-03-23, window opens 2025-03-09.
    start = date(2024, 12, 23)
    m3 = schedule_at(local(date(2025, 3, 1)), treatment_start=start)["M3"]
    assert m3.window_opens == date(2025, 3, 9)
    assert m3.opens_at == datetime(2025, 3, 9, 5, tzinfo=UTC)
    assert m3_status(m3.opens_at - TICK, start) == "upcoming"
    assert m3_status(m3.opens_at, start) == "open"


def test_status_follows_the_patients_local_day_not_utc() -> None:
    # 02:00 UTC on Feb 9 is still Feb 8 (21:00 EST) in New York: not yet open there,
    # though it is already Feb 9 in UTC.
    assert m3_status(datetime(2025, 2, 9, 2, tzinfo=UTC), START_CLOSING_ON_DST_START) == "upcoming"


def test_day_that_skips_midnight_starts_at_the_first_instant_that_exists() -> None:
    # America/Santiago jumped from 24:00 (-04) to 01:00 (-03) on 2024-09-08.
    start = local_day_start(date(2024, 9, 8), "America/Santiago")
    assert start == datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert start.astimezone(ZoneInfo("America/Santiago")).hour == 1


# --- baseline and completion ----------------------------------------------------------


def test_baseline_is_open_from_enrolment_day_to_the_end_of_c1d1_plus_7() -> None:
    enrolled, start = date(2025, 3, 3), date(2025, 3, 10)
    baseline = schedule_at(local(enrolled), treatment_start=start, enrolment_date=enrolled)[
        "baseline"
    ]
    assert (baseline.window_opens, baseline.window_closes) == (enrolled, date(2025, 3, 17))
    assert baseline.due_date == start
    assert baseline.status == "open"
    assert is_open(baseline, local(date(2025, 3, 18)) - TICK)
    assert not is_open(baseline, local(date(2025, 3, 18)))
    after = schedule_at(local(date(2025, 3, 18)), treatment_start=start, enrolment_date=enrolled)
    assert after["baseline"].status == "missed"


def test_baseline_before_enrolment_day_is_upcoming() -> None:
    enrolled = date(2025, 3, 3)
    timepoints = schedule_at(
        local(enrolled) - TICK, treatment_start=date(2025, 3, 10), enrolment_date=enrolled
    )
    assert timepoints["baseline"].status == "upcoming"


def test_enrolment_after_the_baseline_window_is_refused() -> None:
    with pytest.raises(ValueError, match="after the baseline window closes"):
        schedule_at(
            local(date(2025, 4, 1)),
            treatment_start=date(2025, 3, 10),
            enrolment_date=date(2025, 3, 18),
        )


def test_completed_timepoints_are_completed_whatever_the_window() -> None:
    start = date(2025, 1, 15)
    timepoints = schedule_at(
        local(date(2025, 4, 15)), treatment_start=start, completed=frozenset({"baseline", "M3"})
    )
    assert timepoints["baseline"].status == "completed"
    assert timepoints["M3"].status == "completed"
    assert timepoints["M6"].status == "upcoming"
    # Still inside its window, so a correction by the patient is possible.
    assert is_open(timepoints["M3"], local(date(2025, 4, 15)))


def test_passed_windows_not_completed_are_missed() -> None:
    timepoints = schedule_at(local(date(2026, 1, 1)), treatment_start=date(2025, 1, 15))
    statuses = {code: tp.status for code, tp in timepoints.items()}
    assert statuses["M9"] == "missed"
    assert statuses["M12"] == "open"  # due 2026-01-15, opened 2026-01-01
    assert statuses["M15"] == "upcoming"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule_at(datetime(2025, 1, 1), treatment_start=date(2025, 1, 15))


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        schedule_at(local(date(2025, 1, 1)), treatment_start=date(2025, 1, 15), tz="Mars/Olympus")


# --- protocol configuration -----------------------------------------------------------


def test_protocol_config_from_json_changes_timepoints_and_window() -> None:
    config = ScheduleConfig.from_mapping(
        {"follow_up_months": [6, 12], "window_days_before": 7, "window_days_after": 7}
    )
    timepoints = schedule_at(
        local(date(2025, 1, 1)), treatment_start=date(2025, 1, 15), config=config
    )
    assert list(timepoints) == ["baseline", "M6", "M12"]
    assert timepoints["M6"].window_opens == date(2025, 7, 8)
    assert timepoints["M6"].window_closes == date(2025, 7, 22)


def test_protocol_config_with_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="window_days"):
        ScheduleConfig.from_mapping({"window_days": 7})


# --- properties ------------------------------------------------------------------------


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    months=st.integers(min_value=1, max_value=36),
)
def test_add_months_lands_in_the_right_month_never_after_the_start_day(
    start: date, months: int
) -> None:
    due = add_months(start, months)
    assert (due.year * 12 + due.month) - (start.year * 12 + start.month) == months
    assert due.day <= start.day
    assert due.day == start.day or due.month != (due + timedelta(days=1)).month


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    tz=st.sampled_from([NEW_YORK, "Europe/London", "Australia/Sydney", "America/Santiago", "UTC"]),
)
def test_every_follow_up_window_is_29_local_days_give_or_take_a_dst_hour(
    start: date, tz: str
) -> None:
    timepoints = schedule_at(local(start, tz), treatment_start=start, tz=tz)
    for code, timepoint in timepoints.items():
        if code == "baseline":
            continue
        assert timepoint.window_closes - timepoint.window_opens == timedelta(days=28)
        length = timepoint.closes_at - timepoint.opens_at
        assert abs(length - timedelta(days=29)) <= timedelta(hours=1)
        assert timepoint.opens_at.astimezone(ZoneInfo(tz)).date() == timepoint.window_opens
