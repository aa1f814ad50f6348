"""the one-time setup code: the /setup page needs the code `coop serve` prints while no administrator exists

Revision ID: 7b3d2e91a6c5
Revises: 5e1a7c2d9b04
Create Date: 2026-12-07 23:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

import cooperation.db
from alembic import op

revision: str = '7b3d2e91a6c5'
down_revision: str | None = '5e1a7c2d9b04'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'setup_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', cooperation.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('setup_code')
