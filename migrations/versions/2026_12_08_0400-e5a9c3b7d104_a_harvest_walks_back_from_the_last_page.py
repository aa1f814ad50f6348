"""a harvest walks an IIIF Change Discovery stream back from its last page, as the specification tells consumers to

- `harvest_source.walk_newest`: the newest activity a walk left unfinished has seen (it becomes the source's newest
  activity when the walk ends).
- A forward walk left unfinished is dropped: everything older than the source's newest activity was read, and the
  next walk reads back from the last page down to it.

Revision ID: e5a9c3b7d104
Revises: d82b6f3e1c47
Create Date: 2026-12-08 04:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = 'e5a9c3b7d104'
down_revision: str | None = 'd82b6f3e1c47'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('harvest_source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('walk_newest', sa.String(length=40), nullable=True))
    op.execute("UPDATE harvest_source SET resume_page = NULL, resume_index = 0")


def downgrade() -> None:
    with op.batch_alter_table('harvest_source', schema=None) as batch_op:
        batch_op.drop_column('walk_newest')
