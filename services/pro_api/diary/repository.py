"""Reading and writing diary rows within the caller's scope.

Every query that serves a request takes the principal: staff see their own site, a patient only
themself, monitors and the trial admin every site; out-of-scope rows are simply not found. The
reminder job is a system task over every site: its queries say so in their names (``all_sites``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, Role, site_filter
from services.pro_api.diary.models import (
    CycleDelayRecord,
    DiaryDose,
    DiaryEntry,
    DoseChangeRecord,
    DoseHoldRecord,
    ReminderSent,
    ReminderWebhook,
)
from services.pro_api.models import Patient, QuestionnaireResponse
from services.pro_api.patients import repository as patients


def _in_scope(principal: Principal, site_column: Any, patient_column: Any) -> ColumnElement[bool]:
    own = patient_column == principal.pid if principal.role is Role.PATIENT else true()
    return and_(site_filter(principal, site_column), own)


@dataclass(frozen=True)
class SavedDay:
    """One version of a diary day with its dose lines."""

    entry: DiaryEntry
    doses: list[DiaryDose]


@dataclass(frozen=True)
class StaffSettings:
    """What site staff set for one patient: the inputs of their calendar besides the record."""

    holds: list[DoseHoldRecord]
    changes: list[DoseChangeRecord]
    delays: list[CycleDelayRecord]


async def get_patient(
    session: AsyncSession, principal: Principal, patient_id: str, *, for_update: bool = False
) -> Patient:
    return await patients.get_patient(session, principal, patient_id, for_update=for_update)


async def staff_settings(
    session: AsyncSession, principal: Principal, patient_id: str
) -> StaffSettings:
    async def rows(model: Any) -> list[Any]:
        query = (
            select(model)
            .where(
                col(model.patient_id) == patient_id,
                _in_scope(principal, col(model.site_id), col(model.patient_id)),
            )
            .order_by(col(model.created_at))
        )
        return list((await session.execute(query)).scalars())

    return StaffSettings(
        holds=await rows(DoseHoldRecord),
        changes=await rows(DoseChangeRecord),
        delays=await rows(CycleDelayRecord),
    )


async def versions_between(
    session: AsyncSession,
    principal: Principal,
    patient_id: str,
    first: dt.date,
    last: dt.date,
) -> dict[dt.date, list[SavedDay]]:
    """Every saved version of each day in ``first``..``last``, oldest version first."""
    query = (
        select(DiaryEntry)
        .where(
            col(DiaryEntry.patient_id) == patient_id,
            col(DiaryEntry.local_date) >= first,
            col(DiaryEntry.local_date) <= last,
            _in_scope(principal, col(DiaryEntry.site_id), col(DiaryEntry.patient_id)),
        )
        .order_by(col(DiaryEntry.local_date), col(DiaryEntry.version))
    )
    entries = list((await session.execute(query)).scalars())
    doses = await _doses_of(session, [e.id for e in entries])
    days: dict[dt.date, list[SavedDay]] = defaultdict(list)
    for entry in entries:
        days[entry.local_date].append(SavedDay(entry, doses.get(entry.id, [])))
    return dict(days)


async def _doses_of(session: AsyncSession, entry_ids: Sequence[str]) -> dict[str, list[DiaryDose]]:
    found: dict[str, list[DiaryDose]] = defaultdict(list)
    for start in range(0, len(entry_ids), 500):  # stay under bind-parameter limits
        chunk = entry_ids[start : start + 500]
        query = (
            select(DiaryDose)
            .where(col(DiaryDose.entry_id).in_(chunk))
            .order_by(col(DiaryDose.entry_id), col(DiaryDose.position))
        )
        for dose in (await session.execute(query)).scalars():
            found[dose.entry_id].append(dose)
    return found


async def latest_version(
    session: AsyncSession, principal: Principal, patient_id: str, local_date: dt.date
) -> SavedDay | None:
    query = (
        select(DiaryEntry)
        .where(
            col(DiaryEntry.patient_id) == patient_id,
            col(DiaryEntry.local_date) == local_date,
            _in_scope(principal, col(DiaryEntry.site_id), col(DiaryEntry.patient_id)),
        )
        .order_by(col(DiaryEntry.version).desc())
        .limit(1)
    )
    entry = (await session.execute(query)).scalar_one_or_none()
    if entry is None:
        return None
    return SavedDay(entry, (await _doses_of(session, [entry.id])).get(entry.id, []))


async def active_patients(
    session: AsyncSession, principal: Principal, site_id: str | None
) -> Sequence[Patient]:
    query = select(Patient).where(
        patients.patient_scope(principal), col(Patient.status) == "active"
    )
    if site_id is not None:
        query = query.where(col(Patient.site_id) == site_id)
    return (await session.execute(query.order_by(col(Patient.subject_id)))).scalars().all()


# ------------------------------------------------------------------ reminders (system job)


async def reminder_webhook(session: AsyncSession, site_id: str) -> ReminderWebhook | None:
    return await session.get(ReminderWebhook, site_id)


async def patients_to_remind_all_sites(session: AsyncSession) -> Sequence[Patient]:
    """Active patients of every site that has an enabled reminder webhook."""
    query = (
        select(Patient)
        .join(ReminderWebhook, col(ReminderWebhook.site_id) == col(Patient.site_id))
        .where(col(Patient.status) == "active", col(ReminderWebhook.disabled_at).is_(None))
        .order_by(col(Patient.site_id), col(Patient.subject_id))
    )
    return (await session.execute(query)).scalars().all()


async def has_entry_all_sites(session: AsyncSession, patient_id: str, local_date: dt.date) -> bool:
    query = select(
        exists().where(
            col(DiaryEntry.patient_id) == patient_id, col(DiaryEntry.local_date) == local_date
        )
    )
    return bool((await session.execute(query)).scalar())


async def completed_timepoints_all_sites(
    session: AsyncSession, patient_id: str, instrument: str
) -> frozenset[str]:
    query = select(col(QuestionnaireResponse.timepoint)).where(
        col(QuestionnaireResponse.patient_id) == patient_id,
        col(QuestionnaireResponse.instrument) == instrument,
        col(QuestionnaireResponse.status).in_(("completed", "superseded")),
    )
    return frozenset((await session.execute(query)).scalars())


async def reminders_sent_all_sites(session: AsyncSession, patient_id: str) -> set[tuple[str, str]]:
    query = select(col(ReminderSent.kind), col(ReminderSent.reminder_key)).where(
        col(ReminderSent.patient_id) == patient_id
    )
    return {(kind, key) for kind, key in (await session.execute(query)).all()}


async def record_reminder_sent(session: AsyncSession, row: ReminderSent) -> bool:
    """Insert unless this reminder was already recorded (by another replica); True if new."""
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        module.insert(ReminderSent)
        .values(
            id=row.id,
            patient_id=row.patient_id,
            site_id=row.site_id,
            kind=row.kind,
            reminder_key=row.reminder_key,
            created_at=row.created_at,
        )
        .on_conflict_do_nothing(index_elements=["patient_id", "kind", "reminder_key"])
    )
    result: Any = await session.execute(stmt)
    return int(result.rowcount) == 1
