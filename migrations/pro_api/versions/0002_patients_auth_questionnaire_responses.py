"""Patients, activation codes, refresh tokens and questionnaire responses.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 01:17:40.702555
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
        "patients",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("treatment_start", sa.Date(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("regimen", sa.JSON(), nullable=False),
        sa.Column("tare_dates", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "status_changed_at", services.common.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_patients_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_patients_subject_id")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_site_id"), ["site_id"], unique=False)

    op.create_table(
        "activation_codes",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_activation_codes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_activation_codes_code_hash")),
    )
    with op.batch_alter_table("activation_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activation_codes_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "activation_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("attempted_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_attempts")),
    )
    with op.batch_alter_table("activation_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activation_attempts_attempted_at"), ["attempted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activation_attempts_client_attempted_at"),
            ["client", "attempted_at"],
            unique=False,
        )

    op.create_table(
        "questionnaire_responses",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("instrument", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("timepoint", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("entered_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("supersedes_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_questionnaire_responses_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_responses")),
        sa.UniqueConstraint(
            "patient_id",
            "instrument",
            "timepoint",
            "version",
            name=op.f("uq_questionnaire_responses_patient_id_instrument_timepoint_version"),
        ),
    )
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaire_responses_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_questionnaire_responses_site_id_timepoint"),
            ["site_id", "timepoint"],
            unique=False,
        )

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("family_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_refresh_tokens_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_patient_id"), ["patient_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_patient_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))

    op.drop_table("refresh_tokens")
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_responses_site_id_timepoint"))
        batch_op.drop_index(batch_op.f("ix_questionnaire_responses_patient_id"))

    op.drop_table("questionnaire_responses")
    with op.batch_alter_table("activation_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_codes_patient_id"))

    op.drop_table("activation_codes")
    with op.batch_alter_table("activation_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_attempts_client_attempted_at"))
        batch_op.drop_index(batch_op.f("ix_activation_attempts_attempted_at"))

    op.drop_table("activation_attempts")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_site_id"))

    op.drop_table("patients")
