"""The toxicity report's covering index also carries occurred_at, for the data cut-off.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOXICITY_COUNTED = sa.text("cycle >= 1 AND coalesce(clinician_grade, grade) >= 1")
COLUMNS = ["category", "site_id", "subject_id", "meddra_code"]
INCLUDED = ["term", "grade", "clinician_grade", "patient_reported"]


def _recreate(included: list[str]) -> None:
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index("ix_adverse_events_toxicity")
        batch_op.create_index(
            "ix_adverse_events_toxicity",
            COLUMNS,
            unique=False,
            postgresql_include=included,
            postgresql_where=TOXICITY_COUNTED,
            sqlite_where=TOXICITY_COUNTED,
        )


def upgrade() -> None:
    _recreate([*INCLUDED, "occurred_at"])


def downgrade() -> None:
    _recreate(INCLUDED)
