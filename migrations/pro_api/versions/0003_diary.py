"""The diary: diary day versions and their dose lines, held doses, dose changes, cycle delays,
site reminder webhooks and reminders sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 02:05:25.240777
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import services.common.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_webhooks",
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("disabled_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_reminder_webhooks_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_reminder_webhooks")),
    )
    op.create_table(
        "cycle_delays",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_cycle_delays_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_delays")),
    )
    with op.batch_alter_table("cycle_delays", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cycle_delays_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "diary_entries",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("entered_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_diary_entries_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diary_entries")),
        sa.UniqueConstraint(
            "patient_id",
            "local_date",
            "version",
            name=op.f("uq_diary_entries_patient_id_local_date_version"),
        ),
    )
    with op.batch_alter_table("diary_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_diary_entries_site_id_local_date"),
            ["site_id", "local_date"],
            unique=False,
        )

    op.create_table(
        "dose_changes",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("from_cycle", sa.Integer(), nullable=False),
        sa.Column("drug", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("mg", sa.Float(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_dose_changes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_changes")),
    )
    with op.batch_alter_table("dose_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dose_changes_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "dose_holds",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("drug", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("slot", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_dose_holds_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_holds")),
    )
    with op.batch_alter_table("dose_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dose_holds_patient_id_local_date"),
            ["patient_id", "local_date"],
            unique=False,
        )

    op.create_table(
        "reminders_sent",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reminder_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", services.common.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_reminders_sent_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders_sent")),
        sa.UniqueConstraint(
            "patient_id",
            "kind",
            "reminder_key",
            name=op.f("uq_reminders_sent_patient_id_kind_reminder_key"),
        ),
    )
    op.create_table(
        "diary_doses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("drug", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("slot", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("taken", sa.Boolean(), nullable=False),
        sa.Column("taken_at", services.common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("missed_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("vomited_after", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["diary_entries.id"], name=op.f("fk_diary_doses_entry_id_diary_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diary_doses")),
    )
    with op.batch_alter_table("diary_doses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diary_doses_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("diary_doses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diary_doses_entry_id"))

    op.drop_table("diary_doses")
    op.drop_table("reminders_sent")
    with op.batch_alter_table("dose_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dose_holds_patient_id_local_date"))

    op.drop_table("dose_holds")
    with op.batch_alter_table("dose_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dose_changes_patient_id"))

    op.drop_table("dose_changes")
    with op.batch_alter_table("diary_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diary_entries_site_id_local_date"))

    op.drop_table("diary_entries")
    with op.batch_alter_table("cycle_delays", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cycle_delays_patient_id"))

    op.drop_table("cycle_delays")
    op.drop_table("reminder_webhooks")
