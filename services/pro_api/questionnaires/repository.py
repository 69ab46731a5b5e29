"""Reading patients and questionnaire responses within the caller's scope.

Every query takes the principal: staff see their own site, a patient sees only themself, monitors
and trial admins see every site. Out-of-scope rows are simply not found (404), never forbidden.
Patients are scoped by the patients capability's own ``patient_scope`` (one way to do it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, Role, site_filter
from services.common.errors import NotFound
from services.pro_api.models import Patient, QuestionnaireResponse
from services.pro_api.patients import repository as patients

QR = QuestionnaireResponse


def _own_rows_only(principal: Principal, patient_id_column: Any) -> ColumnElement[bool]:
    if principal.role is Role.PATIENT:
        return patient_id_column == principal.pid
    return true()


def _responses_in_scope(principal: Principal) -> ColumnElement[bool]:
    return and_(
        site_filter(principal, col(QR.site_id)),
        _own_rows_only(principal, col(QR.patient_id)),
    )


async def get_patient(session: AsyncSession, principal: Principal, patient_id: str) -> Patient:
    return await patients.get_patient(session, principal, patient_id)


async def get_own_patient(session: AsyncSession, principal: Principal) -> Patient:
    """The patient behind a patient token (``pid``)."""
    patient = await patients.find_patient(session, principal, principal.pid or "")
    if patient is None:
        raise NotFound("Your enrolment")
    return patient


async def find_own_patient(session: AsyncSession, principal: Principal) -> Patient | None:
    if principal.role is not Role.PATIENT:
        return None
    return await patients.find_patient(session, principal, principal.pid or "")


async def get_patient_by_subject(
    session: AsyncSession, principal: Principal, subject_id: str
) -> Patient:
    query = select(Patient).where(
        col(Patient.subject_id) == subject_id,
        patients.patient_scope(principal),
    )
    patient = (await session.execute(query)).scalar_one_or_none()
    if patient is None:
        raise NotFound(f"Subject {subject_id}")
    return patient


async def patients_in_scope(
    session: AsyncSession, principal: Principal, site_id: str | None = None
) -> Sequence[Patient]:
    query = select(Patient).where(patients.patient_scope(principal))
    if site_id is not None:
        query = query.where(col(Patient.site_id) == site_id)
    return (await session.execute(query.order_by(col(Patient.subject_id)))).scalars().all()


async def latest_version(
    session: AsyncSession,
    principal: Principal,
    *,
    patient_id: str,
    instrument: str,
    timepoint: str,
) -> QR | None:
    """The newest version (draft, completed or superseded) of one patient's timepoint."""
    query = (
        select(QR)
        .where(
            col(QR.patient_id) == patient_id,
            col(QR.instrument) == instrument,
            col(QR.timepoint) == timepoint,
            _responses_in_scope(principal),
        )
        .order_by(col(QR.version).desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def get_response(
    session: AsyncSession, principal: Principal, *, patient_id: str, response_id: str
) -> QR:
    query = select(QR).where(
        col(QR.id) == response_id,
        col(QR.patient_id) == patient_id,
        _responses_in_scope(principal),
    )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Questionnaire response {response_id}")
    return row


async def responses_of(
    session: AsyncSession, principal: Principal, *, patient_id: str, instrument: str
) -> Sequence[QR]:
    """Every version of every timepoint of one patient, oldest first."""
    query = (
        select(QR)
        .where(
            col(QR.patient_id) == patient_id,
            col(QR.instrument) == instrument,
            _responses_in_scope(principal),
        )
        .order_by(col(QR.created_at), col(QR.version))
    )
    return (await session.execute(query)).scalars().all()


async def completed_responses(
    session: AsyncSession, principal: Principal, *, instrument: str, site_id: str | None = None
) -> Sequence[tuple[QR, Patient]]:
    """Current completed responses (not drafts, not superseded versions) with their patient."""
    query = (
        select(QR, Patient)
        .join(Patient, col(Patient.id) == col(QR.patient_id))
        .where(
            col(QR.instrument) == instrument,
            col(QR.status) == "completed",
            _responses_in_scope(principal),
        )
        .order_by(col(Patient.subject_id), col(QR.completed_at))
    )
    if site_id is not None:
        query = query.where(col(QR.site_id) == site_id)
    return [(qr, patient) for qr, patient in (await session.execute(query)).all()]


async def completed_timepoints_by_patient(
    session: AsyncSession,
    principal: Principal,
    *,
    instrument: str,
    patient_ids: Sequence[str],
) -> dict[str, set[str]]:
    if not patient_ids:
        return {}
    query = select(col(QR.patient_id), col(QR.timepoint)).where(
        col(QR.patient_id).in_(patient_ids),
        col(QR.instrument) == instrument,
        col(QR.status) == "completed",
        _responses_in_scope(principal),
    )
    done: dict[str, set[str]] = {}
    for patient_id, timepoint in (await session.execute(query)).all():
        done.setdefault(patient_id, set()).add(timepoint)
    return done


async def mark_status(
    session: AsyncSession, response_id: str, *, expected: str, values: dict[str, Any]
) -> bool:
    """Conditional update: only if the row still has status ``expected`` (guards races)."""
    result = await session.execute(
        update(QR)
        .where(col(QR.id) == response_id, col(QR.status) == expected)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount == 1
