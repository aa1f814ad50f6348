"""the audience of a visit's outcomes, of its agenda notes and of a project's progress notes

- Each outcome of a visit ("what was agreed") gains an audience. Existing outcomes keep what they had: shared with the
  visit's partners (and, with a published summary, on the portal).
- Each agenda item's notes gain an audience; existing notes keep what they had: shared with the visit's partners.
- A progress report's correction note gains an audience and the institution of whoever wrote it (none for the
  department's staff); existing notes keep what they had: shared with the project's participants, written for the
  institution whose figures they explain.

Revision ID: c41f0a9e7d23
Revises: 7b3d2e91a6c5
Create Date: 2026-12-08 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = 'c41f0a9e7d23'
down_revision: str | None = '7b3d2e91a6c5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('visit_outcome', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.String(length=20), nullable=False, server_default='department'))
    op.execute("UPDATE visit_outcome SET audience = 'partners'")
    with op.batch_alter_table('visit_agenda_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes_audience', sa.String(length=20), nullable=False, server_default='department'))
    op.execute("UPDATE visit_agenda_item SET notes_audience = 'partners'")
    with op.batch_alter_table('progress_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note_audience', sa.String(length=20), nullable=False, server_default='department'))
        batch_op.add_column(sa.Column('note_institution_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key('fk_progress_report_note_institution', 'institution', ['note_institution_id'], ['id'])
    op.execute("UPDATE progress_report SET note_audience = 'partners', note_institution_id = institution_id")


def downgrade() -> None:
    with op.batch_alter_table('progress_report', schema=None) as batch_op:
        batch_op.drop_constraint('fk_progress_report_note_institution', type_='foreignkey')
        batch_op.drop_column('note_institution_id')
        batch_op.drop_column('note_audience')
    with op.batch_alter_table('visit_agenda_item', schema=None) as batch_op:
        batch_op.drop_column('notes_audience')
    with op.batch_alter_table('visit_outcome', schema=None) as batch_op:
        batch_op.drop_column('audience')
