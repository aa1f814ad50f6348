"""Reminder e-mails: at most one per person, per kind, per day, whatever the number of items it lists.

The claim is a row (address, kind, day) inserted with ON CONFLICT DO NOTHING before the send; a failed send
releases it so the next pass (or tomorrow's) tries again.
"""

from datetime import date, datetime

import structlog
from sqlalchemy import UniqueConstraint, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from cooperation import i18n, mail
from cooperation.db import UTCDateTime, claiming_insert, new_id, table, utcnow
from cooperation.settings import Settings

log = structlog.get_logger("reminders")


class ReminderDigest(SQLModel, table=True):
    __tablename__ = "reminder_digest"
    __table_args__ = (UniqueConstraint("address", "kind", "day", name="uq_reminder_digest"),)

    id: str = Field(default_factory=lambda: str(new_id()), primary_key=True, max_length=36)
    address: str = Field(max_length=320)
    kind: str = Field(max_length=30)
    day: date
    items: int = 0
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


async def send_digest(
    session: AsyncSession,
    settings: Settings,
    *,
    address: str,
    kind: str,
    day: date,
    subject: str,
    lines: list[str],
    language: str = "en",
    footer: str | None = None,
) -> bool:
    """Send one e-mail listing `lines` to `address`, unless one of this kind already went to it for `day` (a monthly
    digest passes the month's first day). `footer` says why the person receives it."""
    claimed = await session.execute(
        claiming_insert(session, ReminderDigest)
        .values(id=str(new_id()), address=address.lower(), kind=kind, day=day, items=len(lines), sent_at=utcnow())
        .on_conflict_do_nothing(index_elements=["address", "kind", "day"])
    )
    await session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if footer is None:
        with i18n.using(language):
            footer = i18n.gettext("You receive this because LibCoop names you as responsible. — LibCoop")
    body = "\n".join([subject, "", *(f"- {line}" for line in lines), "", footer])
    try:
        await mail.send(
            settings, mail.message(settings, to=address, subject=subject, text=body, stable_id=f"{kind}-{address.lower()}-{day}")
        )
    except mail.MailError as exc:
        R = table(ReminderDigest).c
        await session.execute(delete(ReminderDigest).where(R.address == address.lower(), R.kind == kind, R.day == day))
        await session.commit()
        if not isinstance(exc, mail.MailNotConfigured):
            log.warning("reminder not sent; will try again", address=address, kind=kind, error=str(exc)[:200])
        return False
    return True
