"""a webhook reads the audit trail from its cursor and records each decision

- `webhook.decided_until`: when the last event the webhook decided happened; the next round reads from there (less a
  look-back for late commits) instead of from "an hour ago", so a paused webhook loses nothing. Existing webhooks start
  from their last delivery's event (or their creation).
- Deliveries that had failed after a day of tries become pending again: a delivery is no longer given up.

Revision ID: d82b6f3e1c47
Revises: c41f0a9e7d23
Create Date: 2026-12-08 03:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

import cooperation.db
from alembic import op

revision: str = 'd82b6f3e1c47'
down_revision: str | None = 'c41f0a9e7d23'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decided_until', cooperation.db.UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE webhook SET decided_until = (SELECT max(audit_event.occurred_at) FROM webhook_delivery "
        "JOIN audit_event ON audit_event.id = webhook_delivery.event_id WHERE webhook_delivery.webhook_id = webhook.id)"
    )
    op.execute("UPDATE webhook_delivery SET status = 'pending' WHERE status = 'failed'")


def downgrade() -> None:
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_column('decided_until')
