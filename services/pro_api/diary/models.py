"""Diary tables: each saved diary day (every version kept) with its dose lines, what site staff
set per patient (held doses, dose changes, delayed cycle starts), each site's reminder webhook
and the reminders already sent. Imported by ``services.pro_api.models``.

A diary day is never edited in place: every save is version n+1 of that patient's local date and
the highest version is the current one (DESIGN.md, Data integrity: immutability and versions).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field

from services.pro_api.models import ProModel, utc_column


class DiaryEntry(ProModel, table=True):
    """One version of one patient's diary day (a local date in the patient's time zone)."""

    __tablename__ = "diary_entries"
    __table_args__ = (
        UniqueConstraint("patient_id", "local_date", "version"),
        Index(None, "site_id", "local_date"),
    )

    id: str = Field(primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patients.id", max_length=36)
    site_id: str = Field(max_length=32)
    local_date: dt.date
    version: int
    # The symptom report fields (DESIGN.md); {} when none were reported that day.
    symptoms: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    entered_by: str = Field(max_length=300)  # the principal's key
    created_at: dt.datetime = utc_column()


class DiaryDose(ProModel, table=True):
    """One dose line of one diary version, as the patient reported it."""

    __tablename__ = "diary_doses"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(foreign_key="diary_entries.id", index=True, max_length=36)
    position: int  # order in the request, so a problem can name body.doses[i]
    drug: str = Field(max_length=16)
    slot: str = Field(max_length=16)
    taken: bool
    taken_at: dt.datetime | None = utc_column(nullable=True)
    missed_reason: str | None = Field(default=None, max_length=500)
    vomited_after: bool | None = None


class DoseHoldRecord(ProModel, table=True):
    """A dose the site held: one drug on one local date, one slot or (slot null) the whole day."""

    __tablename__ = "dose_holds"
    __table_args__ = (Index(None, "patient_id", "local_date"),)

    id: str = Field(primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patients.id", max_length=36)
    site_id: str = Field(max_length=32)
    local_date: dt.date
    drug: str = Field(max_length=16)
    slot: str | None = Field(default=None, max_length=16)
    reason: str = Field(max_length=1000)
    created_by: str = Field(max_length=300)
    created_at: dt.datetime = utc_column()


class DoseChangeRecord(ProModel, table=True):
    """From ``from_cycle`` on, each administration of ``drug`` is ``mg``. A later record for the
    same cycle and drug replaces an earlier one (both stay stored)."""

    __tablename__ = "dose_changes"

    id: str = Field(primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=36)
    site_id: str = Field(max_length=32)
    from_cycle: int
    drug: str = Field(max_length=16)
    mg: float
    reason: str = Field(max_length=1000)
    created_by: str = Field(max_length=300)
    created_at: dt.datetime = utc_column()


class CycleDelayRecord(ProModel, table=True):
    """Cycle ``cycle`` starts on ``starts_on`` instead of when it was due. A later record for
    the same cycle replaces an earlier one (both stay stored)."""

    __tablename__ = "cycle_delays"

    id: str = Field(primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=36)
    site_id: str = Field(max_length=32)
    cycle: int
    starts_on: dt.date
    reason: str = Field(max_length=1000)
    created_by: str = Field(max_length=300)
    created_at: dt.datetime = utc_column()


class ReminderWebhook(ProModel, table=True):
    """Where a site's SMS/push gateway receives reminder events (Standard Webhooks). The secret
    signs; the API never returns it."""

    __tablename__ = "reminder_webhooks"

    site_id: str = Field(primary_key=True, foreign_key="sites.id", max_length=32)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    disabled_at: dt.datetime | None = utc_column(nullable=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


class ReminderSent(ProModel, table=True):
    """One reminder event per patient, kind and local date or timepoint: the unique key is what
    makes each reminder go out once, whichever replica evaluates the policy."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("patient_id", "kind", "reminder_key"),)

    id: str = Field(primary_key=True, max_length=36)  # the outbox message id (the webhook-id)
    patient_id: str = Field(foreign_key="patients.id", max_length=36)
    site_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    reminder_key: str = Field(max_length=32)  # the local date (YYYY-MM-DD) or the timepoint code
    created_at: dt.datetime = utc_column()
