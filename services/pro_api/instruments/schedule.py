"""Questionnaire timepoints of the trial protocol. Pure: the current time is an argument.

NCT04339036: quality of life by the EORTC NET questionnaire at baseline, then every
3 months for 24 months (DOMAIN.md section 1). Defaults, all configurable per protocol:

- ``baseline`` opens on the enrolment date and closes at the end of C1D1 + 7 days.
- ``M3``, ``M6`` ... ``M24`` are due C1D1 + n calendar months and open 14 days before to
  14 days after the due date, both ends inclusive. C1D1 is the treatment start date given
  at enrolment; later cycle delays do not move the QoL calendar.

Calendar months: the due date keeps C1D1's day of month and is clamped to the last day of
a shorter month (Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year; Aug 31 + 6 months =
Feb 28/29). Each timepoint is computed from C1D1 directly, never from the previous one, so
clamping does not drift (Nov 30 + 3 months = Feb 28, + 6 months = May 30).

Windows are whole local days in the patient's IANA time zone: a window opens at local
midnight starting ``window_opens`` and closes at the local midnight ending
``window_closes``. Both instants are converted to UTC with zoneinfo, so a window that
starts or ends on a daylight-saving change day is still exactly its local days long.
``closes_at`` is exclusive: the first instant after the window.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TimepointStatus = Literal["upcoming", "open", "completed", "missed"]


@dataclass(frozen=True)
class ScheduleConfig:
    baseline_code: str = "baseline"
    # Baseline closes at the end of C1D1 + this many days.
    baseline_closes_days_after_start: int = 7
    follow_up_months: tuple[int, ...] = (3, 6, 9, 12, 15, 18, 21, 24)
    follow_up_code_prefix: str = "M"
    window_days_before: int = 14
    window_days_after: int = 14

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ScheduleConfig:
        """Build from a protocol's JSON config; keys left out keep their defaults."""
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown schedule settings {unknown}")
        values = dict(data)
        if "follow_up_months" in values:
            values["follow_up_months"] = tuple(values["follow_up_months"])
        return cls(**values)

    def __post_init__(self) -> None:
        months = self.follow_up_months
        if any(m <= 0 for m in months) or list(months) != sorted(set(months)):
            raise ValueError(f"follow_up_months must be increasing and positive; got {months}")
        if min(self.window_days_before, self.window_days_after) < 0:
            raise ValueError("window days must not be negative")


DEFAULT_SCHEDULE = ScheduleConfig()


@dataclass(frozen=True)
class Timepoint:
    code: str
    due_date: date
    window_opens: date
    window_closes: date  # inclusive, local date
    opens_at: datetime  # aware UTC: local midnight starting window_opens
    closes_at: datetime  # aware UTC, exclusive: local midnight ending window_closes
    status: TimepointStatus = field(default="upcoming")


def add_months(start: date, months: int) -> date:
    """``start`` + calendar months, clamped to the end of a shorter month."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(start.day, last_day))


def local_day_start(day: date, timezone: str) -> datetime:
    """The UTC instant at which local ``day`` begins in ``timezone``.

    Midnight is wall-clock 00:00 with fold=0. Where a zone skips midnight (a DST gap at
    00:00, e.g. America/Santiago) zoneinfo reads 00:00 with the pre-gap offset, which is
    the instant the day really starts (01:00 new time); where midnight repeats, fold=0 is
    the earlier, i.e. the start of the day."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown IANA time zone {timezone!r}") from error
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def assessment_schedule(
    *,
    enrolment_date: date,
    treatment_start: date,
    timezone: str,
    now: datetime,
    completed: Set[str] = frozenset(),
    config: ScheduleConfig = DEFAULT_SCHEDULE,
) -> list[Timepoint]:
    """Every questionnaire timepoint of one patient, with its status at ``now``."""
    _require_aware(now)
    baseline_closes = treatment_start + timedelta(days=config.baseline_closes_days_after_start)
    if enrolment_date > baseline_closes:
        raise ValueError(
            f"enrolment date {enrolment_date} is after the baseline window closes "
            f"({baseline_closes}, C1D1 {treatment_start} + "
            f"{config.baseline_closes_days_after_start} days)"
        )
    windows = [(config.baseline_code, treatment_start, enrolment_date, baseline_closes)]
    for months in config.follow_up_months:
        due = add_months(treatment_start, months)
        windows.append(
            (
                f"{config.follow_up_code_prefix}{months}",
                due,
                due - timedelta(days=config.window_days_before),
                due + timedelta(days=config.window_days_after),
            )
        )
    timepoints = []
    for code, due, opens, closes in windows:
        timepoint = Timepoint(
            code=code,
            due_date=due,
            window_opens=opens,
            window_closes=closes,
            opens_at=local_day_start(opens, timezone),
            closes_at=local_day_start(closes + timedelta(days=1), timezone),
        )
        timepoints.append(replace(timepoint, status=status_at(timepoint, now, completed)))
    return timepoints


def status_at(timepoint: Timepoint, now: datetime, completed: Set[str]) -> TimepointStatus:
    if timepoint.code in completed:
        return "completed"
    if now < timepoint.opens_at:
        return "upcoming"
    if is_open(timepoint, now):
        return "open"
    return "missed"


def is_open(timepoint: Timepoint, now: datetime) -> bool:
    """Whether ``now`` is inside the window; answers are accepted only then.

    Independent of completion: a patient may still correct a completed response inside
    its window (DESIGN.md, data integrity)."""
    _require_aware(now)
    return timepoint.opens_at <= now < timepoint.closes_at


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC)")
