"""Scheduled work for agreements. The scheduler that calls these on a timetable is wired in app.py."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.models import Agreement, AgreementReminder
from agreements.schemas import AgreementStatus, Reminder
from cooperation import i18n
from cooperation.auth.models import User
from cooperation.db import claiming_insert, new_id, table, utcnow
from cooperation.reminders import send_digest

A = table(Agreement).c

# How far ahead each reminder is produced.
NOTICE_LEAD_DAYS = 30
EXPIRY_LEAD_DAYS = 90


async def produce_expiry_reminders(
    session: AsyncSession,
    today: date,
    *,
    notice_lead_days: int = NOTICE_LEAD_DAYS,
    expiry_lead_days: int = EXPIRY_LEAD_DAYS,
) -> list[Reminder]:
    """Find in-force agreements whose notice deadline or expiry is near and record one reminder for each.

    Idempotent: a reminder is recorded once per (agreement, kind, date) — the INSERT ... ON CONFLICT
    DO NOTHING is the claim — so calling this again the same day, or twice at once, produces nothing new.
    Returns the reminders created by this call.
    """
    rows = await session.execute(
        select(A.id, A.reference, A.title, A.expires_on, A.notice_period_days).where(
            A.status == AgreementStatus.IN_FORCE.value,
            A.archived_at.is_(None),
            A.expires_on.is_not(None),
            A.expires_on >= today,
        )
    )
    candidates: list[Reminder] = []
    for agreement_id, reference, title, expires_on, notice_days in rows:
        if notice_days:
            notice_by = expires_on - timedelta(days=notice_days)
            if today <= notice_by <= today + timedelta(days=notice_lead_days):
                candidates.append(Reminder(agreement_id, reference, title, "notice", notice_by, (notice_by - today).days))
        if expires_on <= today + timedelta(days=expiry_lead_days):
            candidates.append(Reminder(agreement_id, reference, title, "expiry", expires_on, (expires_on - today).days))
    created: list[Reminder] = []
    for reminder in candidates:
        statement = (
            claiming_insert(session, AgreementReminder)
            .values(id=new_id(), agreement_id=reminder.agreement_id, kind=reminder.kind, due_on=reminder.due_on, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["agreement_id", "kind", "due_on"])
        )
        result = await session.execute(statement)
        if result.rowcount == 1:  # type: ignore[attr-defined]
            created.append(reminder)
    await session.commit()
    created.sort(key=lambda r: (r.due_on, r.reference, r.kind))
    return created


async def send_expiry_reminders(factory: Any, settings: Any, today: date) -> int:
    """Produce today's reminders, then e-mail each coordinator and administrator one digest of those not yet sent."""
    R = table(AgreementReminder).c
    U = table(User).c
    async with factory() as session:
        await produce_expiry_reminders(session, today)
        pending = (
            await session.execute(
                select(R.id, R.kind, R.due_on, A.reference, A.title)
                .join(table(Agreement), A.id == R.agreement_id)
                .where(R.sent_at.is_(None))
                .order_by(R.due_on)
            )
        ).all()
        if not pending:
            return 0
        managers = (
            await session.execute(select(U.email, U.language).where(U.active.is_(True), U.role.in_(("admin", "coordinator"))))
        ).all()
        sent = 0
        for email, language in managers:
            with i18n.using(language):  # each manager reads the digest in their own language
                lines = [_deadline_line(r) for r in pending]
                subject = i18n.ngettext(
                    "LibCoop: %(num)d agreement deadline coming", "LibCoop: %(num)d agreement deadlines coming", len(lines)
                )
            sent += await send_digest(
                session, settings, address=email, kind="agreement-deadlines", day=today, subject=subject, lines=lines, language=language
            )
        if sent or not managers:
            await session.execute(update(AgreementReminder).where(R.id.in_([r.id for r in pending])).values(sent_at=utcnow()))
            await session.commit()
        return sent


def _deadline_line(r: Any) -> str:
    day = i18n.format_day(r.due_on)
    if r.kind == "notice":
        return i18n.gettext("%(reference)s — %(title)s: give notice by %(day)s", reference=r.reference, title=r.title, day=day)
    return i18n.gettext("%(reference)s — %(title)s: expires on %(day)s", reference=r.reference, title=r.title, day=day)


# Run every day by the elected scheduler (cooperation/scheduler.py), wired by app.py.
daily_jobs = [("agreement-deadlines", send_expiry_reminders)]
