"""Questionnaire responses: drafts, submission inside the window, staff entry, corrections,
outcomes and completion. Services own the logic and only ``flush()``; the request commits.

Rules (DESIGN.md, data integrity; DOMAIN.md sections 1 and 5):

- The trial collects the ``eortc-net`` form (QLQ-C30 + QLQ-GINET21) at baseline and every 3 months
  to 24 months; answers are accepted only inside the timepoint's window (anti-backfill). Drafts
  follow the same window: nothing is stored for a closed or not-yet-open timepoint.
- One completed response per timepoint. A completed response is never edited: a correction by
  site staff, with a reason, creates version n+1 that supersedes it; the original stays stored.
- Staff may enter answers a patient gave on paper or in an interview. The window is checked
  against when the patient answered (``completed_at``), not when staff typed them in; answers
  given outside the window are accepted only with ``window_override`` and the (always required)
  reason, both audited.
- The server scores every completed response with the pure EORTC scorer and stores the scores.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Forbidden, Principal, Role
from services.common.errors import FieldProblem, NotFound, Problem, field_error
from services.common.tables import PlatformTables
from services.pro_api.instruments.catalog import Instrument, InstrumentCatalog
from services.pro_api.instruments.schedule import (
    DEFAULT_SCHEDULE,
    Timepoint,
    assessment_schedule,
    is_open,
)
from services.pro_api.instruments.scoring import score_response, validate_answers
from services.pro_api.models import Patient, QuestionnaireResponse
from services.pro_api.questionnaires import repository

# The form NCT04339036 collects at every timepoint.
SCHEDULED_INSTRUMENT = "eortc-net"
# A change of 10 points or more on a 0-100 EORTC scale is clinically meaningful ("moderate" or
# more): Osoba D et al., J Clin Oncol 1998;16:139-144.
MEANINGFUL_CHANGE_POINTS = 10.0


@dataclass(frozen=True)
class Fields:
    """How a problem names the submitted fields (JSON body or FHIR QuestionnaireResponse)."""

    instrument: str = "body.instrument"
    timepoint: str = "body.timepoint"
    answers: str = "body.answers.{item}"


JSON_FIELDS = Fields()
FHIR_FIELDS = Fields(
    instrument="QuestionnaireResponse.questionnaire",
    timepoint="QuestionnaireResponse.extension",
    answers="QuestionnaireResponse.item.where(linkId='{item}')",
)


@dataclass(frozen=True)
class Context:
    """What every operation needs besides its arguments."""

    session: AsyncSession
    tables: PlatformTables
    catalog: InstrumentCatalog
    principal: Principal
    now: dt.datetime


# -- instrument and answers -------------------------------------------------------------------


def scheduled_instrument(
    catalog: InstrumentCatalog, code: str, field: str = "body.instrument"
) -> Instrument:
    if code != SCHEDULED_INSTRUMENT or code not in catalog:
        raise FieldProblem(
            [
                field_error(
                    field,
                    f"{code!r} is not the questionnaire this trial collects.",
                    f"Use {SCHEDULED_INSTRUMENT!r}.",
                )
            ]
        )
    return catalog.get(code)


def _options_text(instrument: Instrument, number: int) -> str:
    item = instrument.item(number)
    if item is None:
        return ""
    return ", ".join(f"{o.code} = {o.label.text_for('en')}" for o in item.options)


def checked_answers(
    instrument: Instrument, answers: Mapping[str, int | None], field: str = JSON_FIELDS.answers
) -> dict[int, int]:
    """Item number -> code, or a 422 naming ``<prefix>.<item>`` and the allowed codes.

    Unanswered items (absent or null) are allowed: EORTC scoring's half rule handles them."""
    errors: list[dict[str, str]] = []
    parsed: dict[int, int] = {}
    numbers = instrument.item_numbers
    for key, code in answers.items():
        if code is None:
            continue
        if not key.isdigit():
            errors.append(
                field_error(
                    field.format(item=key),
                    "is not an item number.",
                    f"Use the item numbers {numbers[0]}-{numbers[-1]} as keys.",
                )
            )
            continue
        parsed[int(key)] = code
    for problem in validate_answers(instrument, parsed):
        fix = (
            f"Answer with one of: {_options_text(instrument, problem.item)}."
            if problem.allowed_codes
            else ""
        )
        errors.append(field_error(field.format(item=problem.item), problem.detail, fix))
    if errors:
        raise FieldProblem(errors, slug="invalid-answers")
    return parsed


def stored_answers(answers: Mapping[int, int]) -> dict[str, int]:
    return {str(number): answers[number] for number in sorted(answers)}


def answers_of(row: QuestionnaireResponse) -> dict[int, int]:
    return {int(k): int(v) for k, v in row.answers.items()}


# -- schedule and window ----------------------------------------------------------------------


def schedule_of(
    patient: Patient, now: dt.datetime, completed: frozenset[str] = frozenset()
) -> list[Timepoint]:
    try:
        return assessment_schedule(
            enrolment_date=patient.enrolled_on,
            treatment_start=patient.treatment_start,
            timezone=patient.timezone,
            now=now,
            completed=completed,
        )
    except ValueError as error:
        raise Problem(
            409,
            f"The questionnaire calendar of subject {patient.subject_id} cannot be computed "
            f"({error}). Site staff need to correct the enrolment or treatment start date.",
            slug="schedule-unavailable",
        ) from None


def timepoint_of(patient: Patient, code: str, now: dt.datetime, field: str) -> Timepoint:
    timepoints = {tp.code: tp for tp in schedule_of(patient, now)}
    if code not in timepoints:
        raise FieldProblem(
            [
                field_error(
                    field,
                    f"{code!r} is not a questionnaire timepoint of this trial.",
                    f"Use one of: {', '.join(timepoints)}.",
                )
            ]
        )
    return timepoints[code]


def _day(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def window_view(timepoint: Timepoint) -> dict[str, Any]:
    return {
        "opens_on": timepoint.window_opens.isoformat(),
        "closes_on": timepoint.window_closes.isoformat(),
        "opens_at": timepoint.opens_at.isoformat(),
        "closes_at": timepoint.closes_at.isoformat(),
    }


def ensure_in_window(
    timepoint: Timepoint, at: dt.datetime, timezone: str, *, by_staff: bool = False
) -> None:
    if is_open(timepoint, at):
        return
    span = (
        f"from {_day(timepoint.window_opens)} to {_day(timepoint.window_closes)} "
        f"(local time, {timezone})"
    )
    if at < timepoint.opens_at:
        state = "It is not open yet, so nothing was saved; please come back when it opens."
    else:
        state = "That window has closed, so answers for this timepoint can no longer be accepted."
    detail = f"The {timepoint.code} questionnaire can be answered {span}. {state}"
    if by_staff:
        detail += (
            " The answers' completed_at is outside it; if they really were given then, send "
            "window_override: true with a reason saying why."
        )
    raise Problem(
        422,
        detail,
        slug="outside-window",
        title="Outside the questionnaire window",
        timepoint=timepoint.code,
        window=window_view(timepoint),
    )


def ensure_may_submit(patient: Patient) -> None:
    if patient.status == "withdrawn":
        raise Forbidden(
            "You have withdrawn from the study, so new questionnaire answers cannot be "
            "accepted. If this is a mistake, please contact your study team."
        )


def _already_completed(row: QuestionnaireResponse, timezone: str, *, by_staff: bool) -> Problem:
    when = ""
    if row.completed_at is not None:
        local = row.completed_at.astimezone(ZoneInfo(timezone)).date()
        when = f" on {_day(local)}"
    if by_staff:
        fix = (
            f"To change it, record a correction with a reason: POST "
            f"/v1/patients/{row.patient_id}/questionnaire-responses/{row.id}/corrections."
        )
    else:
        fix = (
            "A completed questionnaire cannot be changed or sent again. If an answer was "
            "wrong, tell your study team: they can record a correction, and your original "
            "answers stay on record."
        )
    return Problem(
        409,
        f"The {row.timepoint} questionnaire was already completed{when}. {fix}",
        slug="already-completed",
        response_id=row.id,
    )


# -- writing ----------------------------------------------------------------------------------


def _new_row(
    patient: Patient,
    *,
    instrument: str,
    timepoint: str,
    status: str,
    answers: Mapping[int, int],
    scores: dict[str, float | None] | None,
    now: dt.datetime,
    version: int = 1,
    mode: str = "electronic",
    entered_by: str | None = None,
    reason: str | None = None,
    supersedes_id: str | None = None,
    completed_at: dt.datetime | None = None,
) -> QuestionnaireResponse:
    return QuestionnaireResponse(
        id=str(uuid.uuid4()),
        patient_id=patient.id,
        site_id=patient.site_id,
        instrument=instrument,
        timepoint=timepoint,
        version=version,
        status=status,
        answers=stored_answers(answers),
        scores=scores,
        mode=mode,
        entered_by=entered_by,
        reason=reason,
        supersedes_id=supersedes_id,
        created_at=now,
        updated_at=now,
        completed_at=completed_at,
    )


async def _insert(session: AsyncSession, row: QuestionnaireResponse) -> None:
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Problem(
            409,
            f"Another answer for the {row.timepoint} questionnaire arrived at the same moment. "
            "Reload to see what was saved, then try again if needed.",
            slug="conflict",
        ) from None


async def _complete(
    ctx: Context,
    patient: Patient,
    instrument: Instrument,
    timepoint: Timepoint,
    answers: Mapping[int, int],
    *,
    completed_at: dt.datetime,
    mode: str,
    reason: str | None = None,
    by_staff: bool = False,
) -> tuple[QuestionnaireResponse, dict[str, Any] | None]:
    """Store a completed response (completing the draft if there is one); returns the row and
    the discarded draft's answers, if any."""
    latest = await repository.latest_version(
        ctx.session,
        ctx.principal,
        patient_id=patient.id,
        instrument=instrument.code,
        timepoint=timepoint.code,
    )
    scores = score_response(instrument, answers)
    entered_by = ctx.principal.key if by_staff else None
    if latest is not None and latest.status != "draft":
        raise _already_completed(latest, patient.timezone, by_staff=by_staff)
    if latest is None:
        row = _new_row(
            patient,
            instrument=instrument.code,
            timepoint=timepoint.code,
            status="completed",
            answers=answers,
            scores=scores,
            now=ctx.now,
            mode=mode,
            entered_by=entered_by,
            reason=reason,
            completed_at=completed_at,
        )
        await _insert(ctx.session, row)
        return row, None
    draft_answers = dict(latest.answers)
    values = {
        "status": "completed",
        "answers": stored_answers(answers),
        "scores": scores,
        "mode": mode,
        "entered_by": entered_by,
        "reason": reason,
        "completed_at": completed_at,
        "updated_at": ctx.now,
    }
    if not await repository.mark_status(ctx.session, latest.id, expected="draft", values=values):
        raise Problem(
            409,
            f"The {timepoint.code} questionnaire was completed by another request a moment ago.",
            slug="conflict",
        )
    await ctx.session.refresh(latest)
    return latest, draft_answers


async def _audit(
    ctx: Context,
    action: str,
    row: QuestionnaireResponse,
    *,
    before: Any = None,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    await audit.record(
        ctx.session,
        ctx.tables,
        actor=ctx.principal,
        action=action,
        entity_type="questionnaire_response",
        entity_id=row.id,
        site_id=row.site_id,
        before=before,
        after={
            "patient_id": row.patient_id,
            "timepoint": row.timepoint,
            "version": row.version,
            "status": row.status,
            "mode": row.mode,
            "answers": row.answers,
            "scores": row.scores,
            "completed_at": row.completed_at,
            "supersedes_id": row.supersedes_id,
            **(extra or {}),
        },
        reason=reason,
    )


async def submit_as_patient(
    ctx: Context,
    *,
    instrument_code: str,
    timepoint_code: str,
    answers: Mapping[str, int | None],
    status: Literal["completed", "draft"],
    fields: Fields = JSON_FIELDS,
    subject_id: str | None = None,
) -> tuple[QuestionnaireResponse, bool]:
    """A patient's own submission or draft save; returns the row and whether it was created."""
    patient = await repository.get_own_patient(ctx.session, ctx.principal)
    if subject_id is not None and subject_id != patient.subject_id:
        raise NotFound(f"Subject {subject_id}")
    ensure_may_submit(patient)
    instrument = scheduled_instrument(ctx.catalog, instrument_code, fields.instrument)
    timepoint = timepoint_of(patient, timepoint_code, ctx.now, fields.timepoint)
    parsed = checked_answers(instrument, answers, fields.answers)
    ensure_in_window(timepoint, ctx.now, patient.timezone)
    if status == "draft":
        return await _save_draft(ctx, patient, instrument, timepoint, parsed)
    row, _ = await _complete(
        ctx, patient, instrument, timepoint, parsed, completed_at=ctx.now, mode="electronic"
    )
    await _audit(ctx, "questionnaire_response.complete", row)
    return row, True


async def _save_draft(
    ctx: Context,
    patient: Patient,
    instrument: Instrument,
    timepoint: Timepoint,
    answers: Mapping[int, int],
) -> tuple[QuestionnaireResponse, bool]:
    latest = await repository.latest_version(
        ctx.session,
        ctx.principal,
        patient_id=patient.id,
        instrument=instrument.code,
        timepoint=timepoint.code,
    )
    if latest is not None and latest.status != "draft":
        raise _already_completed(latest, patient.timezone, by_staff=False)
    if latest is None:
        row = _new_row(
            patient,
            instrument=instrument.code,
            timepoint=timepoint.code,
            status="draft",
            answers=answers,
            scores=None,
            now=ctx.now,
        )
        await _insert(ctx.session, row)
        return row, True
    values = {"answers": stored_answers(answers), "updated_at": ctx.now}
    if not await repository.mark_status(ctx.session, latest.id, expected="draft", values=values):
        raise _already_completed(latest, patient.timezone, by_staff=False)
    await ctx.session.refresh(latest)
    return latest, False


async def save_draft(
    ctx: Context, *, instrument_code: str, timepoint_code: str, answers: Mapping[str, int | None]
) -> tuple[QuestionnaireResponse, bool]:
    return await submit_as_patient(
        ctx,
        instrument_code=instrument_code,
        timepoint_code=timepoint_code,
        answers=answers,
        status="draft",
    )


async def get_draft(
    ctx: Context, *, instrument_code: str, timepoint_code: str
) -> QuestionnaireResponse:
    patient = await repository.get_own_patient(ctx.session, ctx.principal)
    latest = await repository.latest_version(
        ctx.session,
        ctx.principal,
        patient_id=patient.id,
        instrument=instrument_code,
        timepoint=timepoint_code,
    )
    if latest is None or latest.status != "draft":
        raise NotFound(f"A saved draft of the {timepoint_code} questionnaire")
    return latest


async def enter_for_patient(
    ctx: Context,
    patient_id: str,
    *,
    instrument_code: str,
    timepoint_code: str,
    answers: Mapping[str, int | None],
    mode: str,
    reason: str,
    completed_at: dt.datetime | None,
    window_override: bool,
) -> QuestionnaireResponse:
    """Staff enter answers the patient gave on paper or in an interview."""
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id)
    answered_at = (completed_at or ctx.now).astimezone(dt.UTC)
    if answered_at > ctx.now:
        raise FieldProblem(
            [
                field_error(
                    "body.completed_at",
                    "is in the future.",
                    "Give when the patient answered (the date on the form), or leave it out.",
                )
            ]
        )
    if (
        patient.status == "withdrawn"
        and patient.status_changed_at is not None
        and answered_at >= patient.status_changed_at
    ):
        raise Forbidden(
            f"Subject {patient.subject_id} withdrew on {patient.status_changed_at:%Y-%m-%d}; "
            "only answers given before withdrawal can be entered."
        )
    instrument = scheduled_instrument(ctx.catalog, instrument_code)
    timepoint = timepoint_of(patient, timepoint_code, ctx.now, "body.timepoint")
    parsed = checked_answers(instrument, answers)
    overridden = not is_open(timepoint, answered_at)
    if not window_override:
        ensure_in_window(timepoint, answered_at, patient.timezone, by_staff=True)
    row, draft = await _complete(
        ctx,
        patient,
        instrument,
        timepoint,
        parsed,
        completed_at=answered_at,
        mode=mode,
        reason=reason,
        by_staff=True,
    )
    await _audit(
        ctx,
        "questionnaire_response.staff_entry",
        row,
        before={"discarded_draft_answers": draft} if draft is not None else None,
        reason=reason,
        extra={"window_override": overridden, "window": window_view(timepoint)},
    )
    return row


async def correct_response(
    ctx: Context,
    patient_id: str,
    response_id: str,
    *,
    answers: Mapping[str, int | None],
    reason: str,
) -> QuestionnaireResponse:
    """A staff correction: version n+1 supersedes the completed response, which stays stored."""
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id)
    original = await repository.get_response(
        ctx.session, ctx.principal, patient_id=patient.id, response_id=response_id
    )
    if original.status == "draft":
        raise Problem(
            409,
            "This is a draft the patient has not submitted; only completed responses are "
            "corrected. The patient can keep editing the draft.",
            slug="not-completed",
        )
    if original.status == "superseded":
        current = await repository.latest_version(
            ctx.session,
            ctx.principal,
            patient_id=patient.id,
            instrument=original.instrument,
            timepoint=original.timepoint,
        )
        raise Problem(
            409,
            f"Version {original.version} was already corrected; correct the current version "
            f"({current.id if current else 'unknown'}) instead.",
            slug="superseded",
            current_id=current.id if current else None,
        )
    instrument = scheduled_instrument(ctx.catalog, original.instrument)
    parsed = checked_answers(instrument, answers)
    correction = _new_row(
        patient,
        instrument=original.instrument,
        timepoint=original.timepoint,
        status="completed",
        answers=parsed,
        scores=score_response(instrument, parsed),
        now=ctx.now,
        version=original.version + 1,
        mode=original.mode,
        entered_by=ctx.principal.key,
        reason=reason,
        supersedes_id=original.id,
        # The assessment still happened when the patient answered; created_at says when the
        # correction was made.
        completed_at=original.completed_at,
    )
    superseded = await repository.mark_status(
        ctx.session,
        original.id,
        expected="completed",
        values={"status": "superseded", "updated_at": ctx.now},
    )
    if not superseded:
        raise Problem(409, "This response was corrected by another request a moment ago.")
    await _insert(ctx.session, correction)
    await _audit(
        ctx,
        "questionnaire_response.correct",
        correction,
        before={
            "id": original.id,
            "version": original.version,
            "answers": original.answers,
            "scores": original.scores,
        },
        reason=reason,
    )
    return correction


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentView:
    patient: Patient
    timepoints: list[Timepoint]
    response_ids: dict[str, str]
    drafts: set[str]


async def my_assessments(ctx: Context) -> AssessmentView:
    patient = await repository.get_own_patient(ctx.session, ctx.principal)
    rows = await repository.responses_of(
        ctx.session, ctx.principal, patient_id=patient.id, instrument=SCHEDULED_INSTRUMENT
    )
    completed = {r.timepoint: r.id for r in rows if r.status == "completed"}
    drafts = {r.timepoint for r in rows if r.status == "draft"}
    timepoints = schedule_of(patient, ctx.now, frozenset(completed))
    return AssessmentView(patient, timepoints, completed, drafts)


def change_from_baseline(
    instrument: Instrument,
    scores: Mapping[str, float | None],
    baseline: Mapping[str, float | None],
) -> dict[str, dict[str, Any]]:
    """Per scale: change in points, whether it is >= 10 points, and whether that is better.

    Higher is better on functional, global and summary scales, worse on symptom scales
    (EORTC scoring manual)."""
    symptom = {scale.code for scale in instrument.scales if scale.kind == "symptom"}
    changes: dict[str, dict[str, Any]] = {}
    for code, score in scores.items():
        base = baseline.get(code)
        if score is None or base is None:
            changes[code] = {"change": None, "meaningful": False, "direction": None}
            continue
        change = round(score - base, 2)
        better = -change if code in symptom else change
        direction = "improved" if better > 0 else "worsened" if better < 0 else "unchanged"
        changes[code] = {
            "change": change,
            "meaningful": abs(change) >= MEANINGFUL_CHANGE_POINTS,
            "direction": direction,
        }
    return changes


async def patient_outcomes(ctx: Context, patient_id: str) -> dict[str, Any]:
    patient = await repository.get_patient(ctx.session, ctx.principal, patient_id)
    instrument = ctx.catalog.get(SCHEDULED_INSTRUMENT)
    rows = await repository.responses_of(
        ctx.session, ctx.principal, patient_id=patient.id, instrument=instrument.code
    )
    order = [tp.code for tp in schedule_of(patient, ctx.now)]
    current = {r.timepoint: r for r in rows if r.status == "completed"}
    baseline_row = current.get(DEFAULT_SCHEDULE.baseline_code)
    timepoints = []
    for code in sorted(current, key=lambda c: order.index(c) if c in order else len(order)):
        row = current[code]
        scores = dict(row.scores or {})
        changes = None
        if baseline_row is not None and row is not baseline_row:
            changes = change_from_baseline(instrument, scores, baseline_row.scores or {})
        versions = [r for r in rows if r.timepoint == code and r.status != "draft"]
        timepoints.append(
            {
                "timepoint": code,
                "response_id": row.id,
                "version": row.version,
                "mode": row.mode,
                "completed_at": row.completed_at,
                "scores": scores,
                "change_from_baseline": changes,
                "meaningful_changes": [
                    scale for scale, c in (changes or {}).items() if c["meaningful"]
                ],
                "versions": [
                    {
                        "id": v.id,
                        "version": v.version,
                        "status": v.status,
                        "mode": v.mode,
                        "completed_at": v.completed_at,
                        "created_at": v.created_at,
                        "reason": v.reason,
                    }
                    for v in sorted(versions, key=lambda v: v.version)
                ],
            }
        )
    return {
        "patient_id": patient.id,
        "subject_id": patient.subject_id,
        "site_id": patient.site_id,
        "instrument": instrument.code,
        "meaningful_change_points": MEANINGFUL_CHANGE_POINTS,
        "timepoints": timepoints,
    }


async def completion_report(ctx: Context, site_id: str | None) -> list[dict[str, Any]]:
    """Per timepoint: completed / due so far.

    Due = the window has closed, or the patient already answered; a window still open and not
    yet answered is neither due nor missed. A withdrawn patient's timepoints that open after the
    withdrawal are not due."""
    patients = await repository.patients_in_scope(ctx.session, ctx.principal, site_id)
    done = await repository.completed_timepoints_by_patient(
        ctx.session,
        ctx.principal,
        instrument=SCHEDULED_INSTRUMENT,
        patient_ids=[p.id for p in patients],
    )
    counts: dict[str, dict[str, int]] = {}
    order: list[str] = []
    for patient in patients:
        try:
            timepoints = schedule_of(patient, ctx.now, frozenset(done.get(patient.id, set())))
        except Problem:
            continue  # a calendar that cannot be computed is reported on the patient's own page
        for tp in timepoints:
            if tp.code not in counts:
                counts[tp.code] = {"due": 0, "completed": 0, "open": 0}
                order.append(tp.code)
            withdrawn_before = (
                patient.status == "withdrawn"
                and patient.status_changed_at is not None
                and tp.opens_at >= patient.status_changed_at
            )
            if tp.status == "completed":
                counts[tp.code]["due"] += 1
                counts[tp.code]["completed"] += 1
            elif withdrawn_before:
                continue
            elif tp.status == "missed":
                counts[tp.code]["due"] += 1
            elif tp.status == "open":
                counts[tp.code]["open"] += 1
    if not order:
        order = [DEFAULT_SCHEDULE.baseline_code] + [
            f"{DEFAULT_SCHEDULE.follow_up_code_prefix}{m}"
            for m in DEFAULT_SCHEDULE.follow_up_months
        ]
    return [
        {
            "timepoint": code,
            **counts.get(code, {"due": 0, "completed": 0, "open": 0}),
            "rate": (
                round(counts[code]["completed"] / counts[code]["due"], 4)
                if code in counts and counts[code]["due"]
                else None
            ),
        }
        for code in order
    ]


async def export_rows(
    ctx: Context, site_id: str | None
) -> tuple[Instrument, Sequence[tuple[QuestionnaireResponse, Patient]]]:
    instrument = ctx.catalog.get(SCHEDULED_INSTRUMENT)
    rows = await repository.completed_responses(
        ctx.session, ctx.principal, instrument=instrument.code, site_id=site_id
    )
    return instrument, rows


async def search_responses(
    ctx: Context, subject_id: str | None
) -> tuple[list[tuple[QuestionnaireResponse, Patient]], Instrument]:
    """Current completed responses of one subject (a patient's own when not given)."""
    if subject_id is None:
        if ctx.principal.role is not Role.PATIENT:
            raise FieldProblem(
                [
                    field_error(
                        "query.subject",
                        "is required.",
                        "Give the study subject ID, e.g. subject=101-0007.",
                    )
                ],
                status=400,
            )
        patient = await repository.get_own_patient(ctx.session, ctx.principal)
    else:
        patient = await repository.get_patient_by_subject(ctx.session, ctx.principal, subject_id)
    instrument = ctx.catalog.get(SCHEDULED_INSTRUMENT)
    rows = await repository.responses_of(
        ctx.session, ctx.principal, patient_id=patient.id, instrument=instrument.code
    )
    return [(row, patient) for row in rows if row.status == "completed"], instrument
