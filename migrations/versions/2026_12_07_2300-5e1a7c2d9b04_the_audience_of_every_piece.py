"""the audience of every piece, and nothing public without a coordinator publishing it

- Comments gain an audience; every existing comment becomes *department only* (it was shown to partners without
  anyone having chosen so: from now on a coordinator shares it, audited).
- Documents and photos (attachments) and follow-up actions gain an audience; the existing ones keep the sharing they
  had: *shared with the partners of their record*.
- Photos gain a publication state: those the portal already showed with a caption (public, completed visits) stay
  published, and their audience becomes public; uncaptioned ones wait in "Waiting for publication".
- A visit's summary and a project's progress gain a publication state: public ones already on the portal stay
  published; the rest wait for a coordinator.
- Visits, expert exchanges, programmes and projects gain `shared`: a new one is the department's own until a
  coordinator shares it with the partners taking part; every existing one keeps the sharing it had (shared).

Revision ID: 5e1a7c2d9b04
Revises: 9084570a66a1
Create Date: 2026-12-07 23:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

import cooperation.db  # noqa: F401
from alembic import op

revision: str = '5e1a7c2d9b04'
down_revision: str | None = '9084570a66a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.String(length=20), nullable=False, server_default='department'))
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.String(length=20), nullable=False, server_default='department'))
    op.execute("UPDATE attachment SET audience = 'partners'")
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.String(length=20), nullable=False, server_default='department'))
    op.execute("UPDATE follow_up SET audience = 'partners'")
    with op.batch_alter_table('visit_photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publication', sa.String(length=12), nullable=False, server_default='waiting'))
        batch_op.add_column(sa.Column('published_at', cooperation.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('published_by_name', sa.String(length=200), nullable=True))
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('summary_publication', sa.String(length=12), nullable=False, server_default='waiting'))
    with op.batch_alter_table('digitization_project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress_publication', sa.String(length=12), nullable=False, server_default='waiting'))
    on_portal = "public = true AND status = 'completed' AND archived_at IS NULL"
    op.execute(f"UPDATE visit SET summary_publication = 'published' WHERE {on_portal}")
    shown = f"caption <> '' AND visit_id IN (SELECT id FROM visit WHERE {on_portal})"
    op.execute(f"UPDATE attachment SET audience = 'public' WHERE id IN (SELECT attachment_id FROM visit_photo WHERE {shown})")
    op.execute(f"UPDATE visit_photo SET publication = 'published', published_by_name = 'migration' WHERE {shown}")
    op.execute("UPDATE digitization_project SET progress_publication = 'published' WHERE public = true AND archived_at IS NULL")
    for name in SHARED:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('shared', sa.Boolean(), nullable=False, server_default=sa.false()))
        op.execute(f"UPDATE {name} SET shared = true")


SHARED = ('visit', 'expert_exchange', 'programme', 'digitization_project')


def downgrade() -> None:
    for name in SHARED:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column('shared')
    with op.batch_alter_table('digitization_project', schema=None) as batch_op:
        batch_op.drop_column('progress_publication')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_column('summary_publication')
    with op.batch_alter_table('visit_photo', schema=None) as batch_op:
        batch_op.drop_column('published_by_name')
        batch_op.drop_column('published_at')
        batch_op.drop_column('publication')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_column('audience')
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.drop_column('audience')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_column('audience')
