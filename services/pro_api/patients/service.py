"""Enrolment and the patient record: site staff enrol, hand out activation codes, change the
calendar, and end participation. Every change is audited (activation codes never are: only
their hashes are stored) and every calendar change is queued for safety_api in the same
transaction. Services flush; the request commits."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import FieldProblem, Problem, field_error
from services.common.paging import cut_page, page_size_to_fetch
from services.common.settings import Settings
from services.common.sites import site_exists
from services.pro_api.auth import repository as credentials
from services.pro_api.models import Patient, tables
from services.pro_api.patients import repository
from services.pro_api.patients.safety_sync import enqueue_subject_upsert
from services.pro_api.patients.schemas import (
    ActivationCodeIssued,
    CalendarChange,
    PatientCreate,
    PatientEnrolled,
    PatientList,
    PatientPublic,
    PatientStatus,
    StatusChange,
    tare_dates_on_or_after,
)

ACTIVATION_PAGE = "/app/#activate="


def activation_link(code: str) -> str:
    return ACTIVATION_PAGE + code


class SubjectAlreadyEnrolled(Problem):
    def __init__(self, subject_id: str, existing: Patient | None, principal: Principal) -> None:
        same_site = existing is not None and existing.site_id == principal.site
        detail = (
            f"Subject {subject_id} is already enrolled. Each subject is enrolled once; check the "
            "subject ID against the screening log."
        )
        extensions: dict[str, Any] = {}
        if same_site and existing is not None:
            detail += (
                " If the patient needs a new activation code, issue one with "
                f"POST /v1/patients/{existing.id}/activation-code."
            )
            extensions["patient_id"] = existing.id
        super().__init__(409, detail, slug="subject-already-enrolled", **extensions)


def _audit_view(patient: Patient) -> dict[str, object]:
    return {
        "subject_id": patient.subject_id,
        "site_id": patient.site_id,
        "timezone": patient.timezone,
        "language": patient.language,
        "treatment_start": patient.treatment_start.isoformat(),
        "regimen": patient.regimen,
        "tare_dates": list(patient.tare_dates),
        "status": patient.status,
    }


async def enrol(
    session: AsyncSession, principal: Principal, body: PatientCreate, settings: Settings
) -> PatientEnrolled:
    site_id = principal.site
    if site_id is None or not await site_exists(session, tables, site_id):
        raise Problem(
            422,
            f"Site {site_id} is not registered in pro_api, so patients cannot be enrolled there "
            "yet. Ask the trial administrator to register it (PUT /v1/sites/{site_id}).",
            slug="unknown-site",
        )
    existing = await repository.find_by_subject_id(session, body.subject_id)
    if existing is not None:
        raise SubjectAlreadyEnrolled(body.subject_id, existing, principal)
    now = utcnow()
    patient = Patient(
        id=str(uuid.uuid4()),
        subject_id=body.subject_id,
        site_id=site_id,
        timezone=body.timezone,
        language=body.language,
        treatment_start=body.treatment_start,
        enrolled_on=now.astimezone(ZoneInfo(body.timezone)).date(),
        regimen=body.regimen.model_dump(),
        tare_dates=[d.isoformat() for d in body.tare_dates],
        status=PatientStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    try:
        await session.flush()
    except IntegrityError:  # enrolled by a concurrent request a moment ago
        raise SubjectAlreadyEnrolled(body.subject_id, None, principal) from None
    code, expires_at = await credentials.issue_activation_code(
        session, patient.id, now=now, ttl_s=settings.activation_code_ttl_s
    )
    await enqueue_subject_upsert(session, patient)
    await audit.record(
        session,
        tables,
        actor=principal,
        action="patient.enrol",
        entity_type="patient",
        entity_id=patient.id,
        site_id=site_id,
        after=_audit_view(patient),
    )
    return PatientEnrolled(
        id=patient.id,
        subject_id=patient.subject_id,
        site_id=site_id,
        activation_code=code,
        activation_expires_at=expires_at,
        activation_link=activation_link(code),
    )


async def issue_activation_code(
    session: AsyncSession, principal: Principal, patient_id: str, settings: Settings
) -> ActivationCodeIssued:
    patient = await repository.get_patient(session, principal, patient_id, for_update=True)
    _ensure_active(patient, "issue them an activation code")
    now = utcnow()
    code, expires_at = await credentials.issue_activation_code(
        session, patient.id, now=now, ttl_s=settings.activation_code_ttl_s
    )
    await audit.record(
        session,
        tables,
        actor=principal,
        action="patient.activation_code.issue",
        entity_type="patient",
        entity_id=patient.id,
        site_id=patient.site_id,
        after={"expires_at": expires_at.isoformat(), "earlier_unused_codes": "revoked"},
    )
    return ActivationCodeIssued(
        patient_id=patient.id,
        activation_code=code,
        activation_expires_at=expires_at,
        activation_link=activation_link(code),
    )


async def end_participation(
    session: AsyncSession,
    principal: Principal,
    patient_id: str,
    status: PatientStatus,
    change: StatusChange,
) -> PatientPublic:
    """Withdraw or complete: the patient's phone is signed out and unused codes stop working."""
    patient = await repository.get_patient(session, principal, patient_id, for_update=True)
    if patient.status == status:  # a retry of the same request changes nothing
        return await to_public(session, patient)
    _ensure_active(patient, f"mark them {status}")
    now = utcnow()
    before = patient.status
    patient.status = status
    patient.status_changed_at = now
    patient.updated_at = now
    await session.flush()
    revoked = await credentials.revoke_patient_refresh_tokens(session, patient.id, now=now)
    await credentials.revoke_unused_activation_codes(session, patient.id, now=now)
    await audit.record(
        session,
        tables,
        actor=principal,
        action="patient.withdraw" if status is PatientStatus.WITHDRAWN else "patient.complete",
        entity_type="patient",
        entity_id=patient.id,
        site_id=patient.site_id,
        before={"status": before},
        after={"status": str(status), "refresh_tokens_revoked": revoked},
        reason=change.reason,
    )
    return await to_public(session, patient)


async def change_calendar(
    session: AsyncSession, principal: Principal, patient_id: str, change: CalendarChange
) -> PatientPublic:
    patient = await repository.get_patient(session, principal, patient_id, for_update=True)
    start = change.treatment_start or patient.treatment_start
    tare = (
        change.tare_dates
        if change.tare_dates is not None
        else [dt.date.fromisoformat(d) for d in patient.tare_dates]
    )
    try:
        tare = tare_dates_on_or_after(tare, start)
    except ValueError as exc:
        raise FieldProblem(
            [field_error("body.tare_dates", str(exc), "Send TARE dates on or after C1D1.")]
        ) from None
    new_tare = [d.isoformat() for d in tare]
    if start == patient.treatment_start and new_tare == list(patient.tare_dates):
        return await to_public(session, patient)
    before = _audit_view(patient)
    patient.treatment_start = start
    patient.tare_dates = new_tare
    patient.updated_at = utcnow()
    await session.flush()
    await enqueue_subject_upsert(session, patient)
    await audit.record(
        session,
        tables,
        actor=principal,
        action="patient.calendar.change",
        entity_type="patient",
        entity_id=patient.id,
        site_id=patient.site_id,
        before={k: before[k] for k in ("treatment_start", "tare_dates")},
        after={"treatment_start": start.isoformat(), "tare_dates": new_tare},
        reason=change.reason,
    )
    return await to_public(session, patient)


async def read_patient(
    session: AsyncSession, principal: Principal, patient_id: str
) -> PatientPublic:
    return await to_public(session, await repository.get_patient(session, principal, patient_id))


async def list_patients(
    session: AsyncSession,
    principal: Principal,
    *,
    status: PatientStatus | None,
    site_id: str | None,
    limit: int,
    offset: int,
) -> PatientList:
    patients = await repository.list_patients(
        session,
        principal,
        status=str(status) if status else None,
        site_id=site_id,
        limit=page_size_to_fetch(limit),
        offset=offset,
    )
    patients, next_offset = cut_page(patients, limit, offset)
    activated = await credentials.activated_at(session, [p.id for p in patients])
    return PatientList(
        items=[_public(p, activated.get(p.id)) for p in patients],
        next_offset=next_offset,
    )


async def to_public(session: AsyncSession, patient: Patient) -> PatientPublic:
    activated = await credentials.activated_at(session, [patient.id])
    return _public(patient, activated.get(patient.id))


def _public(patient: Patient, activated_at: dt.datetime | None) -> PatientPublic:
    return PatientPublic(
        id=patient.id,
        subject_id=patient.subject_id,
        site_id=patient.site_id,
        timezone=patient.timezone,
        language=patient.language,
        treatment_start=patient.treatment_start,
        enrolled_on=patient.enrolled_on,
        regimen=patient.regimen,
        tare_dates=[dt.date.fromisoformat(d) for d in patient.tare_dates],
        status=PatientStatus(patient.status),
        status_changed_at=patient.status_changed_at,
        activated_at=activated_at,
        created_at=patient.created_at,
        updated_at=patient.updated_at,
    )


def _ensure_active(patient: Patient, action: str) -> None:
    if patient.status != PatientStatus.ACTIVE:
        raise Problem(
            409,
            f"Patient {patient.subject_id} is {patient.status}, so you cannot {action}: they are "
            "no longer on study.",
            slug="patient-not-active",
        )
