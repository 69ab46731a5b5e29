"""Subjects, lab results, symptom reports and the adverse-event record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 01:16:01.400936
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import services.common.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subjects",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("treatment_start", sa.Date(), nullable=False),
        sa.Column("tare_dates", sa.JSON(), nullable=False),
        sa.Column("cycle_starts", sa.JSON(), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_subjects_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
    )
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subjects_site_id"), ["site_id"], unique=False)

    op.create_table(
        "adverse_events",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("meddra_code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("occurred_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("source_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_reported", sa.Boolean(), nullable=False),
        sa.Column("needs_clinical_assessment", sa.Boolean(), nullable=False),
        sa.Column("clinician_grade", sa.Integer(), nullable=True),
        sa.Column("clinician_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("clinician_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("clinician_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_adverse_events_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_events")),
    )
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_events_site_id_category_meddra_code"),
            ["site_id", "category", "meddra_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_adverse_events_subject_id_meddra_code_occurred_at"),
            ["subject_id", "meddra_code", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "lab_results",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("collected_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("analyte", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("loinc", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("value", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("ref_low", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("ref_high", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("baseline_value", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("anticoagulated", sa.Boolean(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("meddra_code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("x_uln", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("criteria", sa.String(length=500), nullable=True),
        sa.Column("needs_clinical_assessment", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_lab_results_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_results")),
        sa.UniqueConstraint(
            "subject_id",
            "source",
            "source_id",
            name=op.f("uq_lab_results_subject_id_source_source_id"),
        ),
    )
    with op.batch_alter_table("lab_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lab_results_site_id_collected_at"),
            ["site_id", "collected_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_lab_results_subject_id_analyte_collected_at"),
            ["subject_id", "analyte", "collected_at"],
            unique=False,
        )

    op.create_table(
        "symptom_reports",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reported_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_symptom_reports_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_symptom_reports")),
    )
    with op.batch_alter_table("symptom_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_symptom_reports_subject_id_reported_at"),
            ["subject_id", "reported_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("symptom_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_symptom_reports_subject_id_reported_at"))

    op.drop_table("symptom_reports")
    with op.batch_alter_table("lab_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_results_subject_id_analyte_collected_at"))
        batch_op.drop_index(batch_op.f("ix_lab_results_site_id_collected_at"))

    op.drop_table("lab_results")
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_events_subject_id_meddra_code_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_adverse_events_site_id_category_meddra_code"))

    op.drop_table("adverse_events")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subjects_site_id"))

    op.drop_table("subjects")
