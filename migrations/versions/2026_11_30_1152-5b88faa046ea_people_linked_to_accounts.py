"""people linked to accounts

Revision ID: 5b88faa046ea
Revises: 3d650100936e
Create Date: 2026-11-30 11:52:15.908451
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel.sql.sqltypes.AutoString

import cooperation.db  # noqa: F401 - autogenerate renders cooperation.db.UTCDateTime
from alembic import op


revision: str = '5b88faa046ea'
down_revision: str | None = '3d650100936e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_person_user_id'), ['user_id'], unique=True)
        batch_op.create_foreign_key('fk_person_user_id', 'app_user', ['user_id'], ['id'])
    # Until now "mine" matched the person's e-mail to the account's: keep those pairs, as explicit links, where the
    # e-mail names exactly one person and the account belongs to that person's institution.
    op.execute(
        """
        UPDATE person SET user_id = (
            SELECT u.id FROM app_user u
            WHERE lower(u.email) = lower(person.email) AND u.institution_id = person.institution_id
        )
        WHERE person.email IS NOT NULL
          AND (SELECT count(*) FROM person other WHERE lower(other.email) = lower(person.email)) = 1
        """
    )


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint('fk_person_user_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_person_user_id'))
        batch_op.drop_column('user_id')
