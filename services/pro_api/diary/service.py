"""The diary over HTTP: the patient's days, saving a day as a new version, what staff set
(held doses, dose changes, delayed cycles), adherence and the site's reminder webhook.

The clinical rules are the pure core's (``calendar.py``, ``adherence.py``, ``regimen.py``); this
module reads the rows, builds the patient's plan, calls the core and writes the outcome. Services
only ``flush()``; the request commits (services.common.session).

Decisions, for reviewers:

- "Now" comes in through ``Context.now`` (the router's ``diary_clock`` dependency), so tests can
  put the service at 23:30 on a DST day; nothing else in the diary reads the clock.
- Every save is version n+1 of the day; earlier versions stay. Only the patient saves their day,
  inside the window (the end of the next local day, ``CAPTEM_DIARY_GRACE_DAYS``).
- Doses outside the plan (an unplanned slot, a held dose reported taken, a dose reported twice)
  are stored as reported and flagged to staff (DOMAIN.md §7: flag more doses than prescribed);
  refusing them would hide an overdose. Names not in the API's vocabulary are refused (422).
- A saved day with symptoms goes to safety_api in the same transaction (``safety_sync``).
- A withdrawn patient's treatment ends on the local date they were withdrawn (or completed).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Forbidden, Principal, Role, ensure_site_access
from services.common.errors import FieldProblem, NotFound, Problem, field_error
from services.common.settings import Settings
from services.common.sites import require_site
from services.common.tables import PlatformTables
from services.pro_api.diary import repository
from services.pro_api.diary.adherence import (
    ADHERENCE_THRESHOLD_PERCENT,
    METHOD,
    AdherenceReport,
    DrugAdherence,
    OverdoseFlag,
    ReportedDose,
    adherence,
)
from services.pro_api.diary.calendar import (
    DoseHold,
    DoseReduction,
    PatientPlan,
    can_enter,
    cycle_day,
    cycle_start,
    day_plan,
    local_today,
)
from services.pro_api.diary.models import (
    CycleDelayRecord,
    DiaryDose,
    DiaryEntry,
    DoseChangeRecord,
    DoseHoldRecord,
    ReminderWebhook,
)
from services.pro_api.diary.regimen import Regimen, load_regimen
from services.pro_api.diary.safety_sync import enqueue_symptom_report
from services.pro_api.diary.schemas import (
    MAX_DAYS_PER_REQUEST,
    CycleDelayIn,
    DiaryDayIn,
    DoseChangeIn,
    DoseHoldIn,
    ReminderWebhookIn,
    max_dose_mg,
)
from services.pro_api.models import Patient
from services.pro_api.patients import repository as patients
from services.pro_api.patients.safety_sync import enqueue_subject_upsert

DEFAULT_DAYS_SHOWN = 7  # GET /v1/me/diary without dates: the last week up to today
# Adherence looks back at most this far from today (a treatment of CapTem runs until progression
# or intolerance, one cohort at most a year): it bounds the work of one request.
MAX_ADHERENCE_DAYS = 3 * 366


@dataclass(frozen=True)
class Context:
    session: AsyncSession
    tables: PlatformTables
    settings: Settings
    principal: Principal
    now: dt.datetime

    @property
    def grace_days(self) -> int:
        return self.settings.diary_grace_days


# ------------------------------------------------------------------------------ the plan


def regimen_of(patient: Patient) -> Regimen:
    return load_regimen(str(patient.regimen.get("code") or "default"))


def end_of_treatment(patient: Patient) -> dt.date | None:
    if patient.status == "active" or patient.status_changed_at is None:
        return None
    ended = patient.status_changed_at.astimezone(ZoneInfo(patient.timezone)).date()
    return max(ended, patient.treatment_start)


def build_plan(
    patient: Patient,
    regimen: Regimen,
    staff: repository.StaffSettings,
    *,
    extra_delay: tuple[int, dt.date] | None = None,
) -> PatientPlan:
    """The patient's calendar inputs; of two dose changes for one cycle and drug (or two delays
    of one cycle) the later recorded wins, the earlier stays stored."""
    changes: dict[tuple[int, str], DoseReduction] = {}
    for change in staff.changes:  # oldest first
        changes[change.from_cycle, change.drug] = DoseReduction(
            change.from_cycle,
            change.drug,  # type: ignore[arg-type]
            change.mg,
        )
    delays = {d.cycle: d.starts_on for d in staff.delays}
    if extra_delay is not None:
        delays[extra_delay[0]] = extra_delay[1]
    return PatientPlan(
        treatment_start=patient.treatment_start,
        timezone=patient.timezone,
        starting_dose_mg={
            s.drug: float(patient.regimen[f"{s.drug}_mg"])
            for s in regimen.drugs
            if patient.regimen.get(f"{s.drug}_mg")
        },
        tare_dates=frozenset(dt.date.fromisoformat(d) for d in patient.tare_dates),
        end_of_treatment=end_of_treatment(patient),
        dose_reductions=tuple(changes.values()),
        held_doses=frozenset(
            DoseHold(h.local_date, h.drug, h.slot)  # type: ignore[arg-type]
            for h in staff.holds
        ),
        delayed_cycle_starts=delays,
    )


async def plan_of(ctx: Context, patient: Patient) -> tuple[PatientPlan, Regimen]:
    regimen = regimen_of(patient)
    staff = await repository.staff_settings(ctx.session, ctx.principal, patient.id)
    return build_plan(patient, regimen, staff), regimen


def first_enterable_day(patient: Patient) -> dt.date:
    return min(patient.enrolled_on, patient.treatment_start)


# ----------------------------------------------------------------------------- the views


FLAG_WORDS = {
    "no_dose_scheduled": "reported taken on a day or in a slot with no {drug} dose planned",
    "dose_held": "reported taken although the site held this dose",
    "more_than_prescribed": "reported taken {n} times where {p} dose is prescribed",
}


def flag_view(flag: OverdoseFlag) -> dict[str, Any]:
    words = FLAG_WORDS[flag.reason].format(drug=flag.drug, n=flag.reported_taken, p=flag.prescribed)
    return {
        "date": flag.day,
        "cycle": flag.cycle,
        "drug": flag.drug,
        "slot": flag.slot,
        "reported_taken": flag.reported_taken,
        "prescribed": flag.prescribed,
        "reason": flag.reason,
        "message": f"More doses than prescribed: {flag.drug} ({flag.slot}) {words}.",
    }


def reported_doses(days: Iterable[repository.SavedDay]) -> list[ReportedDose]:
    return [
        ReportedDose(saved.entry.local_date, d.drug, d.slot, d.taken)  # type: ignore[arg-type]
        for saved in days
        for d in saved.doses
    ]


def all_flags(report: AdherenceReport) -> list[OverdoseFlag]:
    flags = [f for row in report.by_cycle_and_drug for f in row.overdose_flags]
    return sorted([*flags, *report.off_treatment_flags], key=lambda f: (f.day, f.slot, f.drug))


def entry_view(saved: repository.SavedDay) -> dict[str, Any]:
    return {
        "version": saved.entry.version,
        "saved_at": saved.entry.created_at,
        "doses": [
            {
                "drug": d.drug,
                "slot": d.slot,
                "taken": d.taken,
                "taken_at": d.taken_at,
                "reason": d.missed_reason,
                "vomited_after": d.vomited_after,
            }
            for d in saved.doses
        ],
        "symptoms": saved.entry.symptoms,
        "note": saved.entry.note,
    }


def day_view(
    ctx: Context,
    patient: Patient,
    plan: PatientPlan,
    regimen: Regimen,
    local_date: dt.date,
    versions: Sequence[repository.SavedDay],
    flags: Sequence[OverdoseFlag],
    *,
    staff_view: bool,
) -> dict[str, Any]:
    planned = day_plan(plan, regimen, local_date)
    decision = can_enter(local_date, patient.timezone, ctx.now, ctx.grace_days)
    if local_date < first_enterable_day(patient):
        status = "before_enrolment"
    elif decision.refusal == "future_day":
        status = "not_open_yet"
    elif decision.refusal == "window_closed":
        status = "closed"
    else:
        status = "open"
    view: dict[str, Any] = {
        "date": local_date,
        "cycle": planned.cycle,
        "day": planned.day,
        "is_tare_day": planned.is_tare_day,
        "is_delay_gap": planned.is_delay_gap,
        "planned_doses": [
            {"drug": d.drug, "slot": d.slot, "mg": d.mg, "held": d.held} for d in planned.doses
        ],
        "entry": entry_view(versions[-1]) if versions else None,
        "status": status,
        "editable": status == "open",
        "editable_until": decision.deadline,
        "editable_until_local": decision.deadline.astimezone(ZoneInfo(patient.timezone)),
        "flags": [flag_view(f) for f in flags if f.day == local_date],
    }
    if staff_view:
        view["versions"] = [
            {
                "version": v.entry.version,
                "saved_at": v.entry.created_at,
                "entered_by": v.entry.entered_by,
            }
            for v in versions
        ]
    return view


def date_range(
    patient: Patient, now: dt.datetime, first: dt.date | None, last: dt.date | None
) -> tuple[dt.date, dt.date]:
    today = local_today(patient.timezone, now)
    span = dt.timedelta(days=DEFAULT_DAYS_SHOWN - 1)
    try:
        last = last or (first + span if first else today)
        first = first or last - span
    except OverflowError:
        raise FieldProblem(
            [field_error("query.from", "is too far from today.", "Send dates near today.")]
        ) from None
    if last < first:
        raise FieldProblem(
            [field_error("query.to", f"{last} is before from ({first}).", "Swap the two dates.")]
        )
    if (last - first).days + 1 > MAX_DAYS_PER_REQUEST:
        raise FieldProblem(
            [
                field_error(
                    "query.to",
                    f"{first} to {last} is {(last - first).days + 1} days; at most "
                    f"{MAX_DAYS_PER_REQUEST} days are shown at once.",
                    "Ask for a shorter range.",
                )
            ]
        )
    return first, last


async def diary_view(
    ctx: Context,
    patient: Patient,
    first: dt.date | None,
    last: dt.date | None,
    *,
    staff_view: bool,
) -> dict[str, Any]:
    first, last = date_range(patient, ctx.now, first, last)
    plan, regimen = await plan_of(ctx, patient)
    versions = await repository.versions_between(
        ctx.session, ctx.principal, patient.id, first, last
    )
    report = adherence(
        plan,
        regimen,
        reported_doses(v[-1] for v in versions.values()),
        first_day=first,
        last_day=last,
        now_utc=ctx.now,
        grace_days=ctx.grace_days,
    )
    flags = all_flags(report)
    days = []
    day = first
    while day <= last:
        days.append(
            day_view(
                ctx,
                patient,
                plan,
                regimen,
                day,
                versions.get(day, []),
                flags,
                staff_view=staff_view,
            )
        )
        day += dt.timedelta(days=1)
    return {
        "patient_id": patient.id,
        "subject_id": patient.subject_id,
        "timezone": patient.timezone,
        "today": local_today(patient.timezone, ctx.now),
        "first_day": first,
        "last_day": last,
        "days": days,
    }


async def my_diary(ctx: Context, first: dt.date | None, last: dt.date | None) -> dict[str, Any]:
    patient = await own_patient(ctx)
    return await diary_view(ctx, patient, first, last, staff_view=False)


async def patient_diary(
    ctx: Context, patient_id: str, first: dt.date | None, last: dt.date | None
) -> dict[str, Any]:
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id)
    return await diary_view(ctx, patient, first, last, staff_view=True)


async def own_patient(ctx: Context, *, for_update: bool = False) -> Patient:
    patient = await patients.find_patient(
        ctx.session, ctx.principal, ctx.principal.pid or "", for_update=for_update
    )
    if patient is None:
        raise NotFound("Your enrolment")
    return patient


# ------------------------------------------------------------------------- saving a day


def _window_problem(patient: Patient, local_date: dt.date, ctx: Context) -> Problem | None:
    decision = can_enter(local_date, patient.timezone, ctx.now, ctx.grace_days)
    if decision:
        return None
    local_deadline = decision.deadline.astimezone(ZoneInfo(patient.timezone))
    if decision.refusal == "future_day":
        slug, title = "diary-day-not-open", "This diary day has not started yet"
    else:
        slug, title = "diary-day-closed", "This diary day is closed"
    return Problem(
        422,
        decision.detail or title,
        slug=slug,
        title=title,
        date=local_date.isoformat(),
        deadline=decision.deadline.isoformat(),
        deadline_local=local_deadline.isoformat(),
    )


def _check_doses(patient: Patient, local_date: dt.date, body: DiaryDayIn, now: dt.datetime) -> None:
    """Taken times must make sense for the day: only on a taken dose, not in the future, and on
    that local date or the next morning (a bedtime dose after midnight)."""
    zone = ZoneInfo(patient.timezone)
    errors = []
    for i, dose in enumerate(body.doses):
        where = f"body.doses.{i}"
        if not dose.taken and dose.taken_at is not None:
            errors.append(
                field_error(
                    f"{where}.taken_at",
                    "has a time, but the dose is marked as not taken.",
                    "Leave out the time, or mark the dose as taken.",
                )
            )
        if dose.taken and dose.reason:
            errors.append(
                field_error(
                    f"{where}.reason",
                    "gives a reason for missing a dose that is marked as taken.",
                    "Leave out the reason, or mark the dose as not taken.",
                )
            )
        if dose.taken_at is None:
            continue
        if dose.taken_at > now + dt.timedelta(minutes=5):
            errors.append(
                field_error(
                    f"{where}.taken_at",
                    "is in the future.",
                    "Give the time you took the dose.",
                )
            )
            continue
        taken_on = dose.taken_at.astimezone(zone).date()
        if taken_on not in (local_date, local_date + dt.timedelta(days=1)):
            errors.append(
                field_error(
                    f"{where}.taken_at",
                    f"is on {taken_on.isoformat()}, not on {local_date.isoformat()}.",
                    "Give the time you took this day's dose; enter other days on their own page.",
                )
            )
    if errors:
        raise FieldProblem(errors, slug="invalid-diary-day")


def ensure_may_enter(patient: Patient) -> None:
    if patient.status == "withdrawn":
        raise Forbidden(
            "You have withdrawn from the study, so new diary entries cannot be accepted. If this "
            "is a mistake, please contact your study team."
        )


def _summary(saved: repository.SavedDay | None) -> dict[str, Any] | None:
    if saved is None:
        return None
    view = entry_view(saved)
    return {**view, "saved_at": saved.entry.created_at.isoformat()}


async def save_my_day(
    ctx: Context, local_date: dt.date, body: DiaryDayIn
) -> tuple[dict[str, Any], bool]:
    """Store the day as a new version; returns the day's view and whether it is the first."""
    # Locking the patient row serialises two saves of the same patient (PostgreSQL).
    patient = await own_patient(ctx, for_update=True)
    ensure_may_enter(patient)
    problem = _window_problem(patient, local_date, ctx)
    if problem is not None:
        raise problem
    if local_date < first_enterable_day(patient):
        raise Problem(
            422,
            f"{local_date.isoformat()} is before you joined the study "
            f"({first_enterable_day(patient).isoformat()}); the diary starts on that day.",
            slug="diary-day-before-enrolment",
            title="This day is before your diary starts",
        )
    _check_doses(patient, local_date, body, ctx.now)
    previous = await repository.latest_version(ctx.session, ctx.principal, patient.id, local_date)
    entry = DiaryEntry(
        id=str(uuid.uuid4()),
        patient_id=patient.id,
        site_id=patient.site_id,
        local_date=local_date,
        version=(previous.entry.version + 1) if previous else 1,
        symptoms=body.symptoms.reported(),
        note=body.note,
        entered_by=ctx.principal.key,
        created_at=ctx.now,
    )
    doses = [
        DiaryDose(
            entry_id=entry.id,
            position=i,
            drug=d.drug,
            slot=d.slot,
            taken=d.taken,
            taken_at=d.taken_at,
            missed_reason=d.reason,
            vomited_after=d.vomited_after,
        )
        for i, d in enumerate(body.doses)
    ]
    ctx.session.add(entry)
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise Problem(
            409,
            "Another save of this day arrived at the same moment. Reload the day to see what "
            "was saved, then save again if needed.",
            slug="conflict",
        ) from None
    ctx.session.add_all(doses)
    await ctx.session.flush()
    saved = repository.SavedDay(entry, doses)
    if entry.symptoms:
        await enqueue_symptom_report(ctx.session, patient, entry, saved_at=ctx.now)
    await audit.record(
        ctx.session,
        ctx.tables,
        actor=ctx.principal,
        action="diary.day.save",
        entity_type="diary_day",
        entity_id=f"{patient.id}:{local_date.isoformat()}",
        site_id=patient.site_id,
        before=_summary(previous),
        after=_summary(saved),
    )
    plan, regimen = await plan_of(ctx, patient)
    report = adherence(
        plan,
        regimen,
        reported_doses([saved]),
        first_day=local_date,
        last_day=local_date,
        now_utc=ctx.now,
        grace_days=ctx.grace_days,
    )
    view = day_view(
        ctx, patient, plan, regimen, local_date, [saved], all_flags(report), staff_view=False
    )
    return view, previous is None


# ----------------------------------------------------------------------- what staff record


def _ensure_active(patient: Patient, action: str) -> None:
    if patient.status != "active":
        raise Problem(
            409,
            f"Patient {patient.subject_id} is {patient.status}, so you cannot {action}: they are "
            "no longer on study.",
            slug="patient-not-active",
        )


async def hold_dose(ctx: Context, patient_id: str, body: DoseHoldIn) -> dict[str, Any]:
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id, for_update=True)
    _ensure_active(patient, "hold a dose")
    plan, regimen = await plan_of(ctx, patient)
    planned = day_plan(plan, regimen, body.date)
    matching = [d for d in planned.doses if d.drug == body.drug and body.slot in (None, d.slot)]
    what = f"{body.drug}" + (f" ({body.slot})" if body.slot else "")
    if not matching:
        due = ", ".join(f"{d.drug} ({d.slot})" for d in planned.doses) or "no doses"
        raise FieldProblem(
            [
                field_error(
                    "body.date",
                    f"no {what} dose is planned on {body.date.isoformat()}; planned that day: "
                    f"{due}.",
                    "Check the date, drug and slot against the patient's diary.",
                )
            ]
        )
    if all(d.held for d in matching):
        raise Problem(
            409,
            f"The {what} dose on {body.date.isoformat()} is already held; nothing was changed.",
            slug="already-held",
        )
    now = ctx.now
    hold = DoseHoldRecord(
        id=str(uuid.uuid4()),
        patient_id=patient.id,
        site_id=patient.site_id,
        local_date=body.date,
        drug=body.drug,
        slot=body.slot,
        reason=body.reason,
        created_by=ctx.principal.key,
        created_at=now,
    )
    ctx.session.add(hold)
    await ctx.session.flush()
    after = {"date": body.date.isoformat(), "drug": body.drug, "slot": body.slot}
    await _audit_staff(ctx, patient, "diary.dose_hold.create", hold.id, after, body.reason)
    return {
        "id": hold.id,
        "patient_id": patient.id,
        "date": hold.local_date,
        "drug": hold.drug,
        "slot": hold.slot,
        "reason": hold.reason,
        "created_by": hold.created_by,
        "created_at": hold.created_at,
        "held_doses": [
            {"drug": d.drug, "slot": d.slot, "mg": d.mg, "held": True} for d in matching
        ],
    }


async def change_dose(ctx: Context, patient_id: str, body: DoseChangeIn) -> dict[str, Any]:
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id, for_update=True)
    _ensure_active(patient, "change a dose")
    regimen = regimen_of(patient)
    errors = []
    if body.drug not in {s.drug for s in regimen.drugs}:
        errors.append(
            field_error("body.drug", f"{body.drug} is not part of this patient's regimen.")
        )
    if body.mg > max_dose_mg(body.drug):
        errors.append(
            field_error(
                "body.mg",
                f"{body.mg:g} mg is more than {max_dose_mg(body.drug):g} mg, the most this "
                f"service accepts for {body.drug}.",
                "Check for a slipped digit.",
            )
        )
    plan, _ = await plan_of(ctx, patient)
    position = cycle_day(
        plan, local_today(patient.timezone, ctx.now), cycle_length_days=regimen.cycle_length_days
    )
    if position is not None and body.from_cycle < position.cycle:
        errors.append(
            field_error(
                "body.from_cycle",
                f"cycle {body.from_cycle} has ended; the patient is in cycle {position.cycle}.",
                f"A dose change applies from the current cycle ({position.cycle}) or a later one.",
            )
        )
    if errors:
        raise FieldProblem(errors)
    change = DoseChangeRecord(
        id=str(uuid.uuid4()),
        patient_id=patient.id,
        site_id=patient.site_id,
        from_cycle=body.from_cycle,
        drug=body.drug,
        mg=body.mg,
        reason=body.reason,
        created_by=ctx.principal.key,
        created_at=ctx.now,
    )
    ctx.session.add(change)
    await ctx.session.flush()
    after = {"from_cycle": body.from_cycle, "drug": body.drug, "mg": body.mg}
    await _audit_staff(ctx, patient, "diary.dose_change.create", change.id, after, body.reason)
    return {
        "id": change.id,
        "patient_id": patient.id,
        "from_cycle": change.from_cycle,
        "drug": change.drug,
        "mg": change.mg,
        "reason": change.reason,
        "created_by": change.created_by,
        "created_at": change.created_at,
    }


def actual_cycle_starts(plan: PatientPlan, regimen: Regimen) -> list[dt.date]:
    """Start dates of cycles 1..n through the last delayed cycle (empty without delays): what
    safety_api needs to count adverse events in the right cycle."""
    if not plan.delayed_cycle_starts:
        return []
    last = max(plan.delayed_cycle_starts)
    return [
        cycle_start(plan, n, cycle_length_days=regimen.cycle_length_days)
        for n in range(1, last + 1)
    ]


async def cycle_starts_for_safety(session: AsyncSession, patient: Patient) -> list[dt.date]:
    system = Principal(sub="pro_api", role=Role.SERVICE, issuer="captem")
    staff = await repository.staff_settings(session, system, patient.id)
    regimen = regimen_of(patient)
    return actual_cycle_starts(build_plan(patient, regimen, staff), regimen)


async def delay_cycle(ctx: Context, patient_id: str, body: CycleDelayIn) -> dict[str, Any]:
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id, for_update=True)
    _ensure_active(patient, "delay a cycle")
    regimen = regimen_of(patient)
    staff = await repository.staff_settings(ctx.session, ctx.principal, patient.id)
    plan = build_plan(patient, regimen, staff, extra_delay=(body.cycle, body.starts_on))
    try:  # computing the last delayed cycle's start checks every delay in order
        cycle_start(
            plan,
            max(plan.delayed_cycle_starts) + 1,
            cycle_length_days=regimen.cycle_length_days,
        )
    except ValueError as exc:
        raise FieldProblem(
            [
                field_error(
                    "body.starts_on",
                    f"{exc}.",
                    "Give a date on or after the day the cycle is due; to move an earlier cycle "
                    "first, record that delay first.",
                )
            ]
        ) from None
    delay = CycleDelayRecord(
        id=str(uuid.uuid4()),
        patient_id=patient.id,
        site_id=patient.site_id,
        cycle=body.cycle,
        starts_on=body.starts_on,
        reason=body.reason,
        created_by=ctx.principal.key,
        created_at=ctx.now,
    )
    ctx.session.add(delay)
    await ctx.session.flush()
    after = {"cycle": body.cycle, "starts_on": body.starts_on.isoformat()}
    await _audit_staff(ctx, patient, "diary.cycle_delay.create", delay.id, after, body.reason)
    # safety_api counts adverse events per cycle: tell it where the cycles now start.
    await enqueue_subject_upsert(ctx.session, patient)
    return {
        "id": delay.id,
        "patient_id": patient.id,
        "cycle": delay.cycle,
        "starts_on": delay.starts_on,
        "reason": delay.reason,
        "created_by": delay.created_by,
        "created_at": delay.created_at,
    }


async def _audit_staff(
    ctx: Context,
    patient: Patient,
    action: str,
    entity_id: str,
    after: Mapping[str, Any],
    reason: str,
) -> None:
    await audit.record(
        ctx.session,
        ctx.tables,
        actor=ctx.principal,
        action=action,
        entity_type="patient",
        entity_id=patient.id,
        site_id=patient.site_id,
        after={"id": entity_id, **after},
        reason=reason,
    )


# ------------------------------------------------------------------------------ adherence


def row_view(row: DrugAdherence) -> dict[str, Any]:
    return {
        "cycle": row.cycle,
        "drug": row.drug,
        "scheduled": row.scheduled,
        "taken": row.taken,
        "missed": row.missed,
        "missed_reported": row.missed_reported,
        "unreported": row.unreported,
        "pending": row.pending,
        "held": row.held,
        "percent": row.percent,
        "below_threshold": row.below_threshold,
        "overdose_flags": [flag_view(f) for f in row.overdose_flags],
    }


async def adherence_of(ctx: Context, patient: Patient) -> AdherenceReport:
    """From C1D1 (at most ``MAX_ADHERENCE_DAYS`` back) to the patient's today; days not yet
    due are left out by the core."""
    plan, regimen = await plan_of(ctx, patient)
    last = local_today(patient.timezone, ctx.now)
    first = max(patient.treatment_start, last - dt.timedelta(days=MAX_ADHERENCE_DAYS))
    if last < first:
        versions: dict[dt.date, list[repository.SavedDay]] = {}
    else:
        versions = await repository.versions_between(
            ctx.session, ctx.principal, patient.id, first, last
        )
    return adherence(
        plan,
        regimen,
        reported_doses(v[-1] for v in versions.values()),
        first_day=first,
        last_day=last,
        now_utc=ctx.now,
        grace_days=ctx.grace_days,
    )


async def patient_adherence(ctx: Context, patient_id: str) -> dict[str, Any]:
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id)
    report = await adherence_of(ctx, patient)
    return {
        "patient_id": patient.id,
        "subject_id": patient.subject_id,
        "site_id": patient.site_id,
        "as_of": report.as_of,
        "method": report.method,
        "threshold_percent": ADHERENCE_THRESHOLD_PERCENT,
        "by_cycle_and_drug": [row_view(r) for r in report.by_cycle_and_drug],
        "off_treatment_flags": [flag_view(f) for f in report.off_treatment_flags],
    }


async def adherence_below(ctx: Context, below: float, site_id: str | None) -> dict[str, Any]:
    """Active patients with a cycle and drug whose adherence is under ``below`` percent."""
    if site_id is not None:
        ensure_site_access(ctx.principal, site_id, f"Site {site_id}")
    listed = []
    for patient in await repository.active_patients(ctx.session, ctx.principal, site_id):
        report = await adherence_of(ctx, patient)
        under = [
            r
            for r in report.by_cycle_and_drug
            if r.scheduled and r.taken * 100 < below * r.scheduled
        ]
        if under:
            listed.append(
                {
                    "patient_id": patient.id,
                    "subject_id": patient.subject_id,
                    "site_id": patient.site_id,
                    "lowest_percent": min(r.percent or 0.0 for r in under),
                    "below": [row_view(r) for r in under],
                }
            )
    return {"below_percent": below, "site_id": site_id, "method": METHOD, "patients": listed}


# ------------------------------------------------------------------- the reminder webhook


def webhook_view(hook: ReminderWebhook) -> dict[str, Any]:
    return {
        "site_id": hook.site_id,
        "url": hook.url,
        "enabled": hook.disabled_at is None,
        "disabled_reason": hook.disabled_reason,
        "updated_at": hook.updated_at,
    }


async def set_reminder_webhook(
    ctx: Context, site_id: str, body: ReminderWebhookIn
) -> dict[str, Any]:
    """Set (or replace, re-enabling) the site's reminder webhook; the secret is never shown."""
    await require_site(ctx.session, ctx.tables, ctx.principal, site_id)
    hook = await repository.reminder_webhook(ctx.session, site_id)
    before = None if hook is None else {"url": hook.url, "enabled": hook.disabled_at is None}
    url = str(body.url)
    if hook is None:
        hook = ReminderWebhook(
            site_id=site_id, url=url, secret=body.secret, created_at=ctx.now, updated_at=ctx.now
        )
        ctx.session.add(hook)
    else:
        hook.url, hook.secret, hook.updated_at = url, body.secret, ctx.now
        hook.disabled_at, hook.disabled_reason = None, None
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        ctx.tables,
        actor=ctx.principal,
        action="reminder_webhook.set",
        entity_type="reminder_webhook",
        entity_id=site_id,
        site_id=site_id,
        before=before,
        after={"url": url, "enabled": True},
    )
    return webhook_view(hook)


async def get_reminder_webhook(ctx: Context, site_id: str) -> dict[str, Any]:
    await require_site(ctx.session, ctx.tables, ctx.principal, site_id)
    hook = await repository.reminder_webhook(ctx.session, site_id)
    if hook is None:
        raise NotFound(f"A reminder webhook for site {site_id}")
    return webhook_view(hook)
