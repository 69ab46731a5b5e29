"""Scale: a partial covering index for the toxicity report.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOXICITY_COUNTED = sa.text("cycle >= 1 AND coalesce(clinician_grade, grade) >= 1")


def upgrade() -> None:
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_adverse_events_toxicity",
            ["category", "site_id", "subject_id", "meddra_code"],
            unique=False,
            postgresql_include=["term", "grade", "clinician_grade", "patient_reported"],
            postgresql_where=TOXICITY_COUNTED,
            sqlite_where=TOXICITY_COUNTED,
        )


def downgrade() -> None:
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index("ix_adverse_events_toxicity")
