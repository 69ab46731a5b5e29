"""CapTem adherence per cycle and drug, and overdose flags, from the patient's diary.

DOMAIN.md §7: adherence = doses taken / doses scheduled, per drug and cycle, excluding doses the
site held and the rest days 15-28; state the method; ≥ 80 % is the usual threshold; flag more
doses reported than prescribed (capecitabine overdose risk). Pure: "now" is an argument.

Unreported doses: a dose nobody reported is not known to be missed while its diary day can
still be entered (anti-backfill window, DESIGN.md), so it is ``pending`` and left out of the
figures. Once the window has closed it can never be reported, so it counts as missed — the
conservative reading, since a patient who did not record a dose cannot be shown to have taken
it. ``missed`` is the sum; ``missed_reported`` and ``unreported`` give the two parts so a
reviewer can tell "said no" from "said nothing".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from .calendar import (
    DEFAULT_GRACE_DAYS,
    PatientPlan,
    can_enter,
    cycle_dates,
    day_plan,
    local_today,
)
from .regimen import Drug, Regimen, Slot

ADHERENCE_THRESHOLD_PERCENT = 80.0  # DOMAIN.md §7: "≥ 80% is the usual threshold".

METHOD = (
    "Adherence is doses taken divided by doses scheduled, times 100, for each drug and each "
    "cycle, counted on the patient's local dates. Scheduled doses are the regimen's doses on "
    "dosing days up to today (rest days 15-28 and days while a cycle is delayed have none), "
    "leaving out doses the site held and doses of a diary day that is still open and not yet "
    "filled in. A dose counts as taken only when the patient reported it taken in its slot. "
    "Missed = doses reported as not taken plus doses not reported by the time their diary day "
    "closed (the end of the next local day); both parts are also given. Below threshold means "
    "under 80%. Overdose flags: a drug reported taken more times than prescribed in a slot, in "
    "a slot with no scheduled dose, in place of a dose the site held, or on a day with no "
    "scheduled dose of that drug."
)

OverdoseReason = Literal["no_dose_scheduled", "dose_held", "more_than_prescribed"]


@dataclass(frozen=True)
class ReportedDose:
    """One dose line of a diary day as the patient reported it."""

    day: date
    drug: Drug
    slot: Slot
    taken: bool


@dataclass(frozen=True)
class OverdoseFlag:
    """A slot where the patient reported taking a drug more often than prescribed."""

    day: date
    cycle: int | None  # None when reported before C1D1 or after end of treatment
    drug: Drug
    slot: Slot
    reported_taken: int
    prescribed: int  # 0 or 1 doses in that slot
    reason: OverdoseReason


@dataclass(frozen=True)
class DrugAdherence:
    cycle: int
    drug: Drug
    scheduled: int  # = taken + missed
    taken: int
    missed: int  # = missed_reported + unreported
    missed_reported: int
    unreported: int
    pending: int  # not reported yet, diary day still open: not in the figures
    held: int
    percent: float | None  # None when nothing is scheduled
    below_threshold: bool  # False when percent is None
    overdose_flags: tuple[OverdoseFlag, ...]


@dataclass(frozen=True)
class AdherenceReport:
    method: str
    as_of: date  # the patient's local date at now_utc
    by_cycle_and_drug: tuple[DrugAdherence, ...]
    off_treatment_flags: tuple[OverdoseFlag, ...]  # doses taken with no cycle running


@dataclass
class _Tally:
    taken: int = 0
    missed_reported: int = 0
    unreported: int = 0
    pending: int = 0
    held: int = 0
    flags: list[OverdoseFlag] = field(default_factory=list)

    def result(self, cycle: int, drug: Drug) -> DrugAdherence:
        missed = self.missed_reported + self.unreported
        scheduled = self.taken + missed
        percent = round(100 * self.taken / scheduled, 1) if scheduled else None
        return DrugAdherence(
            cycle=cycle,
            drug=drug,
            scheduled=scheduled,
            taken=self.taken,
            missed=missed,
            missed_reported=self.missed_reported,
            unreported=self.unreported,
            pending=self.pending,
            held=self.held,
            percent=percent,
            # Compared unrounded, so 79.96 % is below threshold even though it shows as 80.0.
            below_threshold=bool(scheduled)
            and self.taken * 100 < ADHERENCE_THRESHOLD_PERCENT * scheduled,
            overdose_flags=tuple(self.flags),
        )


def adherence(
    plan: PatientPlan,
    regimen: Regimen,
    reported: Iterable[ReportedDose],
    *,
    first_day: date,
    last_day: date,
    now_utc: datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> AdherenceReport:
    """Adherence for every cycle and drug with a day in ``first_day``..``last_day`` (local dates,
    inclusive). Days after the patient's local today are not due yet and are left out, as are
    reports for days outside the range.
    """
    as_of = local_today(plan.timezone, now_utc)
    taken_by_day: defaultdict[date, Counter[tuple[Drug, Slot]]] = defaultdict(Counter)
    reported_slots: set[tuple[date, Drug, Slot]] = set()
    for dose in reported:
        reported_slots.add((dose.day, dose.drug, dose.slot))
        if dose.taken:
            taken_by_day[dose.day][dose.drug, dose.slot] += 1

    tallies: dict[tuple[int, Drug], _Tally] = {}
    off_treatment: list[OverdoseFlag] = []
    day = first_day
    while day <= min(last_day, as_of):
        plan_of_day = day_plan(plan, regimen, day)
        cycle = plan_of_day.cycle
        if cycle is not None:
            for schedule in regimen.drugs:
                tallies.setdefault((cycle, schedule.drug), _Tally())
            window_open = can_enter(day, plan.timezone, now_utc, grace_days).allowed
            for planned in plan_of_day.doses:
                tally = tallies[cycle, planned.drug]
                if planned.held:
                    tally.held += 1
                elif taken_by_day[day][planned.drug, planned.slot]:
                    tally.taken += 1
                elif (day, planned.drug, planned.slot) in reported_slots:
                    tally.missed_reported += 1
                elif window_open:
                    tally.pending += 1
                else:
                    tally.unreported += 1

        prescribed = {(d.drug, d.slot): 0 if d.held else 1 for d in plan_of_day.doses}
        drugs_due = {d.drug for d in plan_of_day.doses}
        for (drug, slot), n_taken in sorted(taken_by_day[day].items()):
            allowed = prescribed.get((drug, slot), 0)
            if n_taken <= allowed:
                continue
            reason: OverdoseReason
            if drug not in drugs_due:
                reason = "no_dose_scheduled"
            elif (drug, slot) in prescribed and allowed == 0:
                reason = "dose_held"
            else:
                reason = "more_than_prescribed"
            flag = OverdoseFlag(day, cycle, drug, slot, n_taken, allowed, reason)
            if cycle is None:
                off_treatment.append(flag)
            else:
                tallies.setdefault((cycle, drug), _Tally()).flags.append(flag)
        day += timedelta(days=1)

    drug_order = {s.drug: i for i, s in enumerate(regimen.drugs)}
    rows = tuple(
        tally.result(cycle, drug)
        for (cycle, drug), tally in sorted(
            tallies.items(), key=lambda item: (item[0][0], drug_order.get(item[0][1], 99))
        )
    )
    return AdherenceReport(
        method=METHOD,
        as_of=as_of,
        by_cycle_and_drug=rows,
        off_treatment_flags=tuple(off_treatment),
    )


def adherence_for_cycle(
    plan: PatientPlan,
    regimen: Regimen,
    cycle: int,
    reported: Iterable[ReportedDose],
    *,
    now_utc: datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> AdherenceReport:
    """Adherence over one cycle's dates (its delay gap included)."""
    first_day, last_day = cycle_dates(plan, cycle, cycle_length_days=regimen.cycle_length_days)
    return adherence(
        plan,
        regimen,
        reported,
        first_day=first_day,
        last_day=last_day,
        now_utc=now_utc,
        grace_days=grace_days,
    )
