"""Audit events: who did what to which record, written in the same transaction as the change."""

import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import JSON, Index, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from cooperation.auth.access import OPERATOR_ID, Principal
from cooperation.db import UTCDateTime, new_id, table, utcnow
from cooperation.errors import ConflictError
from cooperation.records import jsonable, row_to, update_versioned


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_id", "occurred_at"),
        Index("ix_audit_event_occurred_at", "occurred_at"),  # the last hour's events, for webhooks (cooperation/webhooks.py)
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True)
    actor_name: str = Field(default="system", max_length=200)
    action: str = Field(max_length=40)
    entity_type: str = Field(max_length=40)
    entity_id: uuid.UUID | None = Field(default=None, nullable=True)
    summary: str = Field(default="", max_length=500)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class AuditEntry(msgspec.Struct):
    occurred_at: datetime
    actor_name: str
    action: str
    summary: str
    changes: dict[str, Any]


def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    *,
    summary: str = "",
    changes: dict[str, Any] | None = None,
) -> None:
    """Add the event to the session; it commits (or rolls back) with the change it describes."""
    session.add(
        AuditEvent(
            actor_id=actor.user_id if actor and actor.user_id != OPERATOR_ID and not actor.system else None,
            actor_name=actor.name if actor else "system",
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            summary=summary[:500],
            changes=jsonable(changes or {}),
        )
    )


async def history(session: AsyncSession, entity_type: str, entity_id: uuid.UUID, limit: int = 200) -> list[AuditEntry]:
    """A record's audit trail, for the department only: its summaries and changes name other records (the visit that
    fulfils a commitment, the renewal drafted) that a partner may not see. Callers check `reads_everything`."""
    c = table(AuditEvent).c
    rows = await session.execute(
        select(c.occurred_at, c.actor_name, c.action, c.summary, c.changes)
        .where(c.entity_type == entity_type, c.entity_id == entity_id)
        .order_by(c.occurred_at.desc())
        .limit(limit)
    )
    return [row_to(AuditEntry, row) for row in rows]


async def archive_or_restore(
    session: AsyncSession,
    actor: Principal,
    model: Any,
    entity_type: str,
    record_id: uuid.UUID,
    *,
    archived: bool,
    currently_archived: bool,
    version: int,
    label: str,
) -> int:
    """Archive (or restore) a record the caller has already checked the actor may change: nothing is deleted.

    Returns the new version; commits the change with its audit event.
    """
    if currently_archived == archived:
        raise ConflictError(f"This {entity_type} is already {'archived' if archived else 'active'}.")
    new_version = await update_versioned(
        session, model, record_id, version, {"archived_at": utcnow() if archived else None}, what=entity_type
    )
    record(
        session,
        actor,
        "archive" if archived else "restore",
        entity_type,
        record_id,
        summary=f"{'Archived' if archived else 'Restored'} {label}",
    )
    await session.commit()
    return new_version
