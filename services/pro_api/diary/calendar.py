"""The diary calendar: which CapTem doses are due on a patient's local day, and until when a day
may be entered.

Pure functions over plain values: no clock (``now_utc`` is always an argument), no database, no
web framework. The regimen (which cycle days, which slots) comes from ``regimen.py``; everything
set per patient by the site (mg, holds, delays, reductions, TARE dates) is in ``PatientPlan``.

Cycle arithmetic (DOMAIN.md §1): a cycle is 28 days and C1D1 is the first day of CapTem. Without
delays cycle *n* starts on C1D1 + (n-1) * 28. A delay moves the start of cycle *n* later; every
later cycle follows from the delayed start.

Delay gap days: the days between a cycle's scheduled start and its delayed start belong to the
*previous* cycle, numbered past its length (C2D29, C2D30, … when C3 is delayed). They have no
doses, since no regimen has dosing days beyond the cycle length, and ``DayPlan.is_delay_gap``
says so. This keeps the cycle number of a day equal to "the last cycle that started", which is
how a CRF counts a prolonged cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .regimen import DEFAULT_CYCLE_LENGTH_DAYS, SLOT_ORDER, Drug, Regimen, Slot

# DESIGN.md "Anti-backfill": a diary day can be entered until the end of the next local day.
DEFAULT_GRACE_DAYS = 1


@dataclass(frozen=True)
class DoseReduction:
    """From ``from_cycle`` on, each administration of ``drug`` is ``mg`` (until a later change).

    Called a reduction because that is what the protocol allows; the code accepts any new mg, so
    a re-escalation the site decides on is recorded the same way.
    """

    from_cycle: int
    drug: Drug
    mg: float


@dataclass(frozen=True)
class DoseHold:
    """A dose the site held on a local day; ``slot=None`` holds the drug for the whole day."""

    day: date
    drug: Drug
    slot: Slot | None = None

    def covers(self, day: date, drug: Drug, slot: Slot) -> bool:
        return self.day == day and self.drug == drug and self.slot in (None, slot)


@dataclass(frozen=True)
class PatientPlan:
    """Everything the site sets for one patient that decides their diary calendar.

    ``starting_dose_mg`` is the mg the site prescribed per drug, in the regimen's dose basis
    (per dose, or the day's total for a divided dose). ``end_of_treatment`` is the last day of
    treatment, inclusive: doses are still planned that day. ``delayed_cycle_starts`` maps a
    cycle number (≥ 2) to the local date it actually starts.
    """

    treatment_start: date
    timezone: str
    starting_dose_mg: Mapping[Drug, float]
    tare_dates: frozenset[date] = frozenset()
    end_of_treatment: date | None = None
    dose_reductions: tuple[DoseReduction, ...] = ()
    held_doses: frozenset[DoseHold] = frozenset()
    delayed_cycle_starts: Mapping[int, date] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _zone(self.timezone)
        for drug, mg in self.starting_dose_mg.items():
            if mg <= 0:
                raise ValueError(f"starting dose of {drug} must be more than 0 mg, got {mg}")
        seen: set[tuple[int, Drug]] = set()
        for r in self.dose_reductions:
            if r.from_cycle < 1 or r.mg <= 0:
                raise ValueError(f"dose change {r}: cycle must be ≥ 1 and mg more than 0")
            if (r.from_cycle, r.drug) in seen:
                raise ValueError(f"two dose changes of {r.drug} from cycle {r.from_cycle}")
            seen.add((r.from_cycle, r.drug))
        if self.end_of_treatment is not None and self.end_of_treatment < self.treatment_start:
            raise ValueError(
                f"end of treatment {self.end_of_treatment} is before C1D1 {self.treatment_start}"
            )
        if any(cycle < 2 for cycle in self.delayed_cycle_starts):
            raise ValueError("only cycles 2 and later can be delayed; C1D1 is treatment_start")


class CycleDay(NamedTuple):
    cycle: int
    day: int


@dataclass(frozen=True)
class PlannedDose:
    drug: Drug
    slot: Slot
    mg: float
    held: bool


@dataclass(frozen=True)
class DayPlan:
    """What the diary shows for one local day."""

    local_date: date
    cycle: int | None  # None before C1D1 and after end of treatment
    day: int | None
    is_tare_day: bool
    is_delay_gap: bool  # a day past the cycle length while the next cycle is delayed
    doses: tuple[PlannedDose, ...]

    @property
    def is_on_treatment(self) -> bool:
        return self.cycle is not None


# ---------------------------------------------------------------------------- cycles and doses


def _cycle_anchors(plan: PatientPlan, cycle_length_days: int) -> list[tuple[int, date]]:
    """(cycle, start) for C1 and each delayed cycle, checking every delay moves a start later."""
    anchors = [(1, plan.treatment_start)]
    for cycle, start in sorted(plan.delayed_cycle_starts.items()):
        prev_cycle, prev_start = anchors[-1]
        scheduled = prev_start + timedelta(days=(cycle - prev_cycle) * cycle_length_days)
        if start < scheduled:
            raise ValueError(
                f"cycle {cycle} cannot start on {start}: it is due on {scheduled}, "
                "and a delay can only move a cycle start later"
            )
        anchors.append((cycle, start))
    return anchors


def cycle_day(
    plan: PatientPlan,
    local_date: date,
    *,
    cycle_length_days: int = DEFAULT_CYCLE_LENGTH_DAYS,
) -> CycleDay | None:
    """Cycle and day of a local date; None before C1D1 or after end of treatment.

    Days in a delay gap are reported as the previous cycle's day 29, 30, … (see module doc).
    """
    if local_date < plan.treatment_start:
        return None
    if plan.end_of_treatment is not None and local_date > plan.end_of_treatment:
        return None
    anchors = _cycle_anchors(plan, cycle_length_days)
    current = max(i for i, (_, start) in enumerate(anchors) if start <= local_date)
    cycle, start = anchors[current]
    elapsed = (local_date - start).days
    cycles_on = elapsed // cycle_length_days
    if current + 1 < len(anchors):
        # Until the next delayed cycle starts we stay in the cycle just before it (gap days).
        cycles_on = min(cycles_on, anchors[current + 1][0] - 1 - cycle)
    return CycleDay(cycle + cycles_on, elapsed - cycles_on * cycle_length_days + 1)


def cycle_start(
    plan: PatientPlan,
    cycle: int,
    *,
    cycle_length_days: int = DEFAULT_CYCLE_LENGTH_DAYS,
) -> date:
    """Local date of day 1 of ``cycle``, delays included (ignores end of treatment)."""
    if cycle < 1:
        raise ValueError(f"cycles are numbered from 1, got {cycle}")
    anchor_cycle, start = max(a for a in _cycle_anchors(plan, cycle_length_days) if a[0] <= cycle)
    return start + timedelta(days=(cycle - anchor_cycle) * cycle_length_days)


def cycle_dates(
    plan: PatientPlan,
    cycle: int,
    *,
    cycle_length_days: int = DEFAULT_CYCLE_LENGTH_DAYS,
) -> tuple[date, date]:
    """First and last local date of ``cycle``, the last including any delay gap after it."""
    first = cycle_start(plan, cycle, cycle_length_days=cycle_length_days)
    following = cycle_start(plan, cycle + 1, cycle_length_days=cycle_length_days)
    return first, following - timedelta(days=1)


def dose_mg(plan: PatientPlan, drug: Drug, cycle: int) -> float:
    """The mg prescribed for ``drug`` in ``cycle``: the latest dose change from that cycle or
    before, else the starting dose."""
    changes = [r for r in plan.dose_reductions if r.drug == drug and r.from_cycle <= cycle]
    if changes:
        return max(changes, key=lambda r: r.from_cycle).mg
    try:
        return plan.starting_dose_mg[drug]
    except KeyError:
        raise ValueError(f"no {drug} dose is set for this patient") from None


def is_held(plan: PatientPlan, local_date: date, drug: Drug, slot: Slot) -> bool:
    return any(hold.covers(local_date, drug, slot) for hold in plan.held_doses)


def planned_doses(plan: PatientPlan, regimen: Regimen, local_date: date) -> list[PlannedDose]:
    """Doses due on a local day, held ones included and marked, in the order of the day."""
    position = cycle_day(plan, local_date, cycle_length_days=regimen.cycle_length_days)
    if position is None:
        return []
    doses = []
    for schedule in regimen.drugs:
        if not schedule.is_dosing_day(position.day):
            continue
        mg = schedule.mg_per_administration(dose_mg(plan, schedule.drug, position.cycle))
        for slot in schedule.slots:
            held = is_held(plan, local_date, schedule.drug, slot)
            doses.append(PlannedDose(schedule.drug, slot, mg, held))
    # Stable sort: within a slot, drugs keep the regimen's order.
    return sorted(doses, key=lambda d: SLOT_ORDER.index(d.slot))


def day_plan(plan: PatientPlan, regimen: Regimen, local_date: date) -> DayPlan:
    """The diary day: cycle position, TARE flag and planned doses.

    A TARE day only flags the day (DOMAIN.md §1: TARE on C2D7, C3D7 or C4D7); it does not change
    the doses. If CapTem is to be withheld around TARE the site records a hold.
    """
    position = cycle_day(plan, local_date, cycle_length_days=regimen.cycle_length_days)
    return DayPlan(
        local_date=local_date,
        cycle=position.cycle if position else None,
        day=position.day if position else None,
        is_tare_day=local_date in plan.tare_dates,
        is_delay_gap=position is not None and position.day > regimen.cycle_length_days,
        doses=tuple(planned_doses(plan, regimen, local_date)),
    )


# ------------------------------------------------------------------- local time and entry window


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{tz!r} is not an IANA time zone such as 'Europe/Paris'") from None


def _require_aware(now_utc: datetime) -> None:
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise ValueError("now_utc must be timezone-aware; naive datetimes are ambiguous")


def local_today(tz: str | ZoneInfo, now_utc: datetime) -> date:
    """The patient's local date at the instant ``now_utc`` (DESIGN.md: "today" is local)."""
    _require_aware(now_utc)
    return now_utc.astimezone(_zone(tz)).date()


def start_of_local_day(local_date: date, tz: str | ZoneInfo) -> datetime:
    """The first instant (aware, UTC) of a local date.

    fold=0 is right in both DST edge cases: where midnight is skipped (e.g. America/Santiago in
    September) it maps to the instant clocks jump, and where midnight occurs twice it picks the
    first occurrence.
    """
    return datetime.combine(local_date, time(0), tzinfo=_zone(tz)).astimezone(UTC)


def entry_deadline(
    local_date: date, tz: str | ZoneInfo, grace_days: int = DEFAULT_GRACE_DAYS
) -> datetime:
    """The instant (aware, UTC) a diary day closes: the end of local day ``local_date +
    grace_days``, i.e. local midnight starting the day after. Computed on the local calendar,
    so a window spanning a DST change is 47 or 49 hours long, not 48.
    """
    if grace_days < 0:
        raise ValueError(f"grace_days must be 0 or more, got {grace_days}")
    return start_of_local_day(local_date + timedelta(days=grace_days + 1), tz)


EntryRefusal = Literal["future_day", "window_closed"]


@dataclass(frozen=True)
class EntryDecision:
    """Whether a diary day may be entered now; truthy when allowed.

    ``detail`` is a sentence for the problem response when refused.
    """

    allowed: bool
    refusal: EntryRefusal | None
    deadline: datetime
    detail: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


def can_enter(
    local_date: date,
    tz: str | ZoneInfo,
    now_utc: datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> EntryDecision:
    """Anti-backfill (DESIGN.md, Data integrity): a diary day opens on that local day and stays
    open until ``entry_deadline``; a future day is refused, and so is a day whose window closed.
    """
    zone = _zone(tz)
    deadline = entry_deadline(local_date, zone, grace_days)
    today = local_today(zone, now_utc)
    if local_date > today:
        return EntryDecision(
            allowed=False,
            refusal="future_day",
            deadline=deadline,
            detail=(
                f"{local_date.isoformat()} has not started yet in {zone.key} "
                f"(today there is {today.isoformat()}); a diary day can be filled in from that "
                "day on."
            ),
        )
    if now_utc >= deadline:
        local_deadline = deadline.astimezone(zone)
        return EntryDecision(
            allowed=False,
            refusal="window_closed",
            deadline=deadline,
            detail=(
                f"The diary for {local_date.isoformat()} closed at "
                f"{local_deadline:%Y-%m-%d %H:%M} {zone.key} time "
                f"({local_deadline.isoformat()}); late entries are not stored. "
                "Please tell your study team what you took that day."
            ),
        )
    return EntryDecision(allowed=True, refusal=None, deadline=deadline)
