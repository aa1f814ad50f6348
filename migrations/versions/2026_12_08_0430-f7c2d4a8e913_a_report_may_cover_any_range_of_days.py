"""a report may cover any range of days: its period key (2025-11-01..2025-11-30) needs 30 characters

Revision ID: f7c2d4a8e913
Revises: e5a9c3b7d104
Create Date: 2026-12-08 04:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = 'f7c2d4a8e913'
down_revision: str | None = 'e5a9c3b7d104'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('report_run', schema=None) as batch_op:
        batch_op.alter_column('period_key', existing_type=sa.String(length=10), type_=sa.String(length=30), existing_nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM report_run WHERE length(period_key) > 10")
    with op.batch_alter_table('report_run', schema=None) as batch_op:
        batch_op.alter_column('period_key', existing_type=sa.String(length=30), type_=sa.String(length=10), existing_nullable=True)
