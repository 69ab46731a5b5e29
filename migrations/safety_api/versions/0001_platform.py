"""Platform tables: sites, audit trail (append-only), idempotency keys, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from migrations import platform_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    platform_v1.upgrade()


def downgrade() -> None:
    platform_v1.downgrade()
