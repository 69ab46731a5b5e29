"""The pro_api database: one MetaData holding the platform tables and pro_api's own models.

Table models of pro_api subclass :class:`ProModel`, so they land in this service's metadata only.
Rows that belong to a patient also carry ``site_id`` so that scope is enforced in the same query.
No direct identifiers: a patient is a study subject ID at a site.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.db import UTCDateTime, new_metadata
from services.common.tables import platform_tables


class ProModel(SQLModel, registry=registry(metadata=new_metadata())):
    pass


metadata = ProModel.metadata
tables = platform_tables(metadata)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Patient(ProModel, table=True):
    __tablename__ = "patients"

    id: str = Field(primary_key=True, max_length=36)
    subject_id: str = Field(unique=True, max_length=32)  # study subject ID, e.g. 101-0007
    site_id: str = Field(foreign_key="sites.id", index=True, max_length=32)
    timezone: str = Field(max_length=64)  # IANA; "today" in the diary is this local date
    language: str = Field(max_length=16)
    treatment_start: dt.date  # C1D1
    enrolled_on: dt.date
    # {"capecitabine_mg": 1500, "temozolomide_mg": 300}
    regimen: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    tare_dates: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="active", max_length=16)  # active | withdrawn | completed
    status_changed_at: dt.datetime | None = utc_column(nullable=True)
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


class ActivationCode(ProModel, table=True):
    """A one-time code staff hand to a patient; only its hash is stored."""

    __tablename__ = "activation_codes"

    id: str = Field(primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=36)
    code_hash: str = Field(unique=True, max_length=64)
    expires_at: dt.datetime = utc_column()
    used_at: dt.datetime | None = utc_column(nullable=True)
    # Set when a newer code replaces this one, or the patient leaves the study.
    revoked_at: dt.datetime | None = utc_column(nullable=True)
    created_at: dt.datetime = utc_column()


class ActivationAttempt(ProModel, table=True):
    """One wrong activation code from one client (IP), kept for the guess-limit window.

    Kept in the database so every replica counts the same failures. Codes the study issued leave
    no row, whatever their state; only codes that were never issued count (see ``throttle``).
    """

    __tablename__ = "activation_attempts"
    __table_args__ = (Index(None, "client", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=64)
    attempted_at: dt.datetime = utc_column(index=True)


class RefreshToken(ProModel, table=True):
    """Rotating refresh tokens (hash only). Reuse of a rotated token revokes its whole family."""

    __tablename__ = "refresh_tokens"

    id: str = Field(primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=36)
    family_id: str = Field(index=True, max_length=36)
    token_hash: str = Field(unique=True, max_length=64)
    expires_at: dt.datetime = utc_column()
    rotated_at: dt.datetime | None = utc_column(nullable=True)
    revoked_at: dt.datetime | None = utc_column(nullable=True)
    created_at: dt.datetime = utc_column()


class QuestionnaireResponse(ProModel, table=True):
    """A patient's answers to one instrument at one timepoint. Drafts are editable; a completed
    response is immutable — a correction is a new version that supersedes it, with a reason."""

    __tablename__ = "questionnaire_responses"
    __table_args__ = (
        UniqueConstraint("patient_id", "instrument", "timepoint", "version"),
        Index(None, "site_id", "timepoint"),
    )

    id: str = Field(primary_key=True, max_length=36)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=36)
    site_id: str = Field(max_length=32)
    instrument: str = Field(max_length=64)
    timepoint: str = Field(max_length=16)  # baseline, M3 ... M24
    version: int = 1
    status: str = Field(max_length=16)  # draft | completed | superseded
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    scores: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    mode: str = Field(default="electronic", max_length=16)  # electronic | paper | interview
    entered_by: str | None = Field(default=None, max_length=300)
    reason: str | None = Field(default=None, max_length=1000)
    supersedes_id: str | None = Field(default=None, max_length=36)
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()
    completed_at: dt.datetime | None = utc_column(nullable=True)


# The diary tables live with the diary capability; importing them here puts them in this
# service's metadata (migrations and autogenerate see every table).
from services.pro_api.diary import models as diary_models  # noqa: E402, F401
