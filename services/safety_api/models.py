"""The safety_api database: one MetaData holding the platform tables and safety_api's own models.

Table models of safety_api subclass :class:`SafetyModel`, so they land in this service's metadata
only. Every row that belongs to a subject also carries its ``site_id`` so that scope can be
enforced in the same query that reads it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.db import UTCDateTime, new_metadata
from services.common.tables import platform_tables


class SafetyModel(SQLModel, registry=registry(metadata=new_metadata())):
    pass


metadata = SafetyModel.metadata
tables = platform_tables(metadata)

# Lab values and reference limits: exact decimals, never binary floats (CTCAE boundaries).
LabNumber = Numeric(20, 6, asdecimal=True)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Subject(SafetyModel, table=True):
    __tablename__ = "subjects"

    id: str = Field(primary_key=True, max_length=32)  # study subject ID, e.g. 101-0007
    site_id: str = Field(foreign_key="sites.id", index=True, max_length=32)
    treatment_start: dt.date  # C1D1
    tare_dates: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Actual start dates of cycles 1, 2, ... where known (delays move them); ISO dates.
    cycle_starts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Baseline values given at enrolment, by analyte code: {"CREAT": {"value":..,"unit":..}}.
    baseline: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


class LabResult(SafetyModel, table=True):
    """One lab value as received, with its CTCAE grade at the time it was stored."""

    __tablename__ = "lab_results"
    __table_args__ = (
        Index(None, "subject_id", "analyte", "collected_at"),
        Index(None, "site_id", "collected_at"),
        UniqueConstraint("subject_id", "source", "source_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    subject_id: str = Field(foreign_key="subjects.id", max_length=32)
    site_id: str = Field(max_length=32)
    collected_at: dt.datetime = utc_column()
    received_at: dt.datetime = utc_column()
    analyte: str = Field(max_length=16)
    loinc: str | None = Field(default=None, max_length=16)
    value: Decimal = Field(sa_column=Column(LabNumber, nullable=False))
    unit: str = Field(max_length=32)
    ref_low: Decimal | None = Field(default=None, sa_column=Column(LabNumber, nullable=True))
    ref_high: Decimal | None = Field(default=None, sa_column=Column(LabNumber, nullable=True))
    baseline_value: Decimal | None = Field(default=None, sa_column=Column(LabNumber))
    anticoagulated: bool = False
    source: str = Field(max_length=16)  # json | fhir
    source_id: str | None = Field(default=None, max_length=200)  # e.g. FHIR Observation.id
    term: str | None = Field(default=None, max_length=200)  # None: not graded (CgA)
    meddra_code: str | None = Field(default=None, max_length=8)
    grade: int | None = None
    direction: str | None = Field(default=None, max_length=8)
    x_uln: Decimal | None = Field(default=None, sa_column=Column(LabNumber, nullable=True))
    criteria: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    needs_clinical_assessment: bool = False


class SymptomReport(SafetyModel, table=True):
    __tablename__ = "symptom_reports"
    __table_args__ = (Index(None, "subject_id", "reported_at"),)

    id: str = Field(primary_key=True, max_length=36)
    subject_id: str = Field(foreign_key="subjects.id", max_length=32)
    site_id: str = Field(max_length=32)
    reported_at: dt.datetime = utc_column()
    received_at: dt.datetime = utc_column()
    source: str = Field(max_length=16)  # diary | staff
    report: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


# Occurrences a toxicity report counts: from C1D1 on, effective grade 1 or worse.
TOXICITY_COUNTED = text("cycle >= 1 AND coalesce(clinician_grade, grade) >= 1")


class AdverseEvent(SafetyModel, table=True):
    """One graded occurrence of a CTCAE term for a subject (grade 0 included, so a report that
    says "no nausea" is on record). Patient-reported grades stay apart from clinician ones:
    ``patient_reported`` marks the origin, and a clinician's confirmation or override is kept in
    the ``clinician_*`` columns without touching the original grade."""

    __tablename__ = "adverse_events"
    __table_args__ = (
        Index(None, "subject_id", "meddra_code", "occurred_at"),
        Index(None, "site_id", "category", "meddra_code"),
        # The toxicity report's occurrences (treatment-emergent, effective grade >= 1), with
        # everything it reads, the data cut-off's occurred_at included: an index-only scan
        # instead of reading the whole table.
        Index(
            "ix_adverse_events_toxicity",
            "category",
            "site_id",
            "subject_id",
            "meddra_code",
            postgresql_include=[
                "term",
                "grade",
                "clinician_grade",
                "patient_reported",
                "occurred_at",
            ],
            postgresql_where=TOXICITY_COUNTED,
            sqlite_where=TOXICITY_COUNTED,
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    subject_id: str = Field(foreign_key="subjects.id", max_length=32)
    site_id: str = Field(max_length=32)
    term: str = Field(max_length=200)
    meddra_code: str = Field(max_length=8)
    category: str = Field(max_length=16)  # hepatic | systemic
    grade: int
    occurred_at: dt.datetime = utc_column()
    cycle: int  # 0 = before C1D1 (baseline); 1, 2, ... 28-day treatment cycles
    source_kind: str = Field(max_length=16)  # lab | symptom_report
    source_id: str = Field(max_length=36)
    patient_reported: bool
    needs_clinical_assessment: bool = False
    clinician_grade: int | None = None
    clinician_reason: str | None = Field(default=None, max_length=1000)
    clinician_by: str | None = Field(default=None, max_length=300)
    clinician_at: dt.datetime | None = utc_column(nullable=True)


# The alert tables live with the alert capability; importing them here puts them in this
# service's metadata (migrations and autogenerate see every table).
from services.safety_api.alerts import models as alert_models  # noqa: E402

__all__ = [
    "AdverseEvent",
    "LabResult",
    "SafetyModel",
    "Subject",
    "SymptomReport",
    "alert_models",
    "metadata",
    "tables",
]
