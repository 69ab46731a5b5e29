"""Anti-backfill window and the patient's local today (DESIGN.md, Data integrity: a diary day can
be entered until the end of the next local day; "today" is the local date, DST-safe).

Expected instants are written out in UTC by hand from the US rules (EST = UTC-5, EDT = UTC-4;
2026 DST starts 2026-03-08 02:00 EST and ends 2026-11-01 02:00 EDT), not computed with zoneinfo,
so the tests do not share the code's assumptions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pro_api.diary.calendar import can_enter, entry_deadline, local_today

NEW_YORK = "America/New_York"


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# (diary day D, deadline = local midnight starting D+2, 23:30 local on D+1, 00:10 local on D+2)
DST_WINDOWS = [
    pytest.param(
        # D = Sat 2026-03-07 (EST); clocks spring forward on D+1; D+2 starts at 00:00 EDT.
        date(2026, 3, 7),
        utc(2026, 3, 9, 4, 0),
        utc(2026, 3, 9, 3, 30),
        utc(2026, 3, 9, 4, 10),
        id="spring-forward-on-D+1",
    ),
    pytest.param(
        # D = Sun 2026-03-08, the change day itself; the whole window is 47 h long.
        date(2026, 3, 8),
        utc(2026, 3, 10, 4, 0),
        utc(2026, 3, 10, 3, 30),
        utc(2026, 3, 10, 4, 10),
        id="spring-forward-on-D",
    ),
    pytest.param(
        # D = Sat 2026-10-31 (EDT); clocks fall back on D+1; D+2 starts at 00:00 EST.
        date(2026, 10, 31),
        utc(2026, 11, 2, 5, 0),
        utc(2026, 11, 2, 4, 30),
        utc(2026, 11, 2, 5, 10),
        id="fall-back-on-D+1",
    ),
    pytest.param(
        # D = Sun 2026-11-01, the change day itself; the whole window is 49 h long.
        date(2026, 11, 1),
        utc(2026, 11, 3, 5, 0),
        utc(2026, 11, 3, 4, 30),
        utc(2026, 11, 3, 5, 10),
        id="fall-back-on-D",
    ),
]


@pytest.mark.parametrize(("diary_day", "deadline", "late_evening", "just_after"), DST_WINDOWS)
def test_diary_day_closes_at_end_of_next_local_day_across_dst(
    diary_day: date, deadline: datetime, late_evening: datetime, just_after: datetime
) -> None:
    assert entry_deadline(diary_day, NEW_YORK) == deadline

    accepted = can_enter(diary_day, NEW_YORK, late_evening)
    assert accepted
    assert accepted.refusal is None

    refused = can_enter(diary_day, NEW_YORK, just_after)
    assert not refused
    assert refused.refusal == "window_closed"
    assert refused.deadline == deadline
    assert refused.detail is not None and "00:00 America/New_York" in refused.detail


def test_window_spanning_spring_forward_is_47_hours_and_fall_back_49() -> None:
    def window_hours(diary_day: date) -> float:
        opens = entry_deadline(diary_day - timedelta(days=2), NEW_YORK)  # start of local D
        return (entry_deadline(diary_day, NEW_YORK) - opens).total_seconds() / 3600

    assert window_hours(date(2026, 3, 8)) == 47
    assert window_hours(date(2026, 11, 1)) == 49
    assert window_hours(date(2026, 6, 1)) == 48


def test_entry_is_open_on_the_diary_day_itself() -> None:
    # 2026-03-07 08:00 EST
    assert can_enter(date(2026, 3, 7), NEW_YORK, utc(2026, 3, 7, 13, 0))


def test_future_diary_day_is_refused_even_late_the_evening_before() -> None:
    # 2026-03-07 23:59 EST: 2026-03-08 has not started in New York although it has in UTC.
    decision = can_enter(date(2026, 3, 8), NEW_YORK, utc(2026, 3, 8, 4, 59))
    assert not decision
    assert decision.refusal == "future_day"
    assert decision.detail is not None and "has not started yet" in decision.detail


def test_grace_days_zero_closes_the_day_at_its_own_local_midnight() -> None:
    assert entry_deadline(date(2026, 3, 7), NEW_YORK, grace_days=0) == utc(2026, 3, 8, 5, 0)
    with pytest.raises(ValueError, match="grace_days"):
        entry_deadline(date(2026, 3, 7), NEW_YORK, grace_days=-1)


def test_deadline_where_dst_skips_midnight_is_the_moment_clocks_jump() -> None:
    # America/Santiago springs forward at 24:00 on Sat 2026-09-05 (-04 -> -03): local
    # 2026-09-06 00:00 never happens; the day starts at 04:00 UTC, shown as 01:00 -03.
    assert entry_deadline(date(2026, 9, 4), "America/Santiago") == utc(2026, 9, 6, 4, 0)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Spring forward, 2026-03-08.
        (utc(2026, 3, 8, 4, 59), date(2026, 3, 7)),  # 23:59 EST
        (utc(2026, 3, 8, 5, 1), date(2026, 3, 8)),  # 00:01 EST
        (utc(2026, 3, 9, 3, 59), date(2026, 3, 8)),  # 23:59 EDT
        (utc(2026, 3, 9, 4, 1), date(2026, 3, 9)),  # 00:01 EDT
        # Fall back, 2026-11-01.
        (utc(2026, 11, 1, 3, 59), date(2026, 10, 31)),  # 23:59 EDT
        (utc(2026, 11, 1, 4, 1), date(2026, 11, 1)),  # 00:01 EDT
        (utc(2026, 11, 2, 4, 59), date(2026, 11, 1)),  # 23:59 EST
        (utc(2026, 11, 2, 5, 1), date(2026, 11, 2)),  # 00:01 EST
    ],
)
def test_local_today_turns_at_local_midnight_across_dst(now: datetime, expected: date) -> None:
    assert local_today(NEW_YORK, now) == expected


def test_naive_now_is_refused_because_it_has_no_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_today(NEW_YORK, datetime(2026, 3, 8, 12, 0))


ZONES = ["America/New_York", "Europe/Paris", "Australia/Sydney", "America/Santiago", "UTC"]


@given(
    zone=st.sampled_from(ZONES),
    diary_day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
)
def test_deadline_is_the_instant_local_day_d_plus_2_begins(zone: str, diary_day: date) -> None:
    deadline = entry_deadline(diary_day, zone)
    assert local_today(zone, deadline) == diary_day + timedelta(days=2)
    assert local_today(zone, deadline - timedelta(seconds=1)) == diary_day + timedelta(days=1)
    assert can_enter(diary_day, zone, deadline - timedelta(seconds=1))
    assert not can_enter(diary_day, zone, deadline)
