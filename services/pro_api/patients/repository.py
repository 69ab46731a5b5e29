"""Reading patients within the caller's scope: a patient sees only themself, staff only their
site; anything else is simply not found."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, Role, site_filter
from services.common.errors import NotFound
from services.pro_api.models import Patient


def patient_scope(principal: Principal) -> ColumnElement[bool]:
    """The WHERE clause limiting patients to what the principal may see."""
    site_clause = site_filter(principal, col(Patient.site_id))
    if principal.role is Role.PATIENT:
        return site_clause & (col(Patient.id) == principal.pid)
    return site_clause


async def find_patient(
    session: AsyncSession, principal: Principal, patient_id: str, *, for_update: bool = False
) -> Patient | None:
    query = select(Patient).where(col(Patient.id) == patient_id, patient_scope(principal))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_patient(
    session: AsyncSession, principal: Principal, patient_id: str, *, for_update: bool = False
) -> Patient:
    """The patient, if the principal may see them; otherwise 404 (never 403: nothing leaks)."""
    patient = await find_patient(session, principal, patient_id, for_update=for_update)
    if patient is None:
        raise NotFound(f"Patient {patient_id}")
    return patient


async def list_patients(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    site_id: str | None,
    limit: int,
    offset: int,
) -> list[Patient]:
    query = select(Patient).where(patient_scope(principal))
    if status is not None:
        query = query.where(col(Patient.status) == status)
    if site_id is not None:
        query = query.where(col(Patient.site_id) == site_id)
    query = query.order_by(col(Patient.subject_id)).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars())


async def find_by_subject_id(session: AsyncSession, subject_id: str) -> Patient | None:
    """Unscoped: subject IDs are unique across the trial, so enrolment must see every site."""
    query = select(Patient).where(col(Patient.subject_id) == subject_id)
    return (await session.execute(query)).scalar_one_or_none()
