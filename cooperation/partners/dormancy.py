"""Dormant partnerships: a partner bound by an agreement in force that has shown no activity — no visit,
expert exchange, progress report, comment, follow-up action or newly signed agreement — in the last N months
(`COOP_DORMANT_MONTHS`, default 12).

The domains register what counts as activity and what binds a partner (app.py wires them), so this module reads no
domain's tables itself; the answer for every partner comes from one SQL statement.
"""

import calendar
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, Select, func, literal, select, true, type_coerce, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import i18n
from cooperation.auth.access import Principal, Role
from cooperation.auth.models import User
from cooperation.db import table
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.reminders import send_digest

I = table(Institution).c  # noqa: E741

# Statements of (institution_id, kind, day) rows (built with `activity`): something a partner did or took part in.
ActivitySource = Callable[[], list[Select[Any]]]
# (institution_id, day) rows: the institutions bound by an agreement in force on the day, and when each agreement was
# signed (its signing counts as activity: a partnership signed last month is not dormant).
BoundSource = Callable[[date], Select[Any]]
_activity: list[ActivitySource] = []
_bound: list[BoundSource] = []

# What each kind of activity is called (kept here: "visit" means other things elsewhere).
KINDS = {
    "visit": N_("visit"),
    "expert_exchange": N_("expert exchange"),
    "progress_report": N_("progress report"),
    "comment": N_("comment"),
    "follow_up": N_("follow-up action"),
    "shipment": N_("shipment of publications"),
    "agreement_signed": N_("agreement signed"),
}


def register_activity(source: ActivitySource) -> None:
    if source not in _activity:
        _activity.append(source)


def register_bound(source: BoundSource) -> None:
    if source not in _bound:
        _bound.append(source)


def activity(institution_id: Any, kind: str, day: Any) -> Select[Any]:
    """One source's rows, typed alike so that they can be put together (a day from a timestamp is its date)."""
    return select(institution_id.label("institution_id"), literal(kind).label("kind"), type_coerce(day, Date).label("day"))


def day_of(instant: Any) -> Any:
    """The calendar day of a stored instant, in SQL (SQLite keeps instants as text; date() reads them)."""
    return func.date(instant)


@dataclass
class Dormant:
    id: uuid.UUID
    code: str
    name: str
    name_native: str | None
    last_day: date | None  # none: nothing recorded at all
    last_kind: str | None

    @property
    def last_kind_said(self) -> str:
        """The last activity's kind in the reader's language."""
        return i18n.gettext(KINDS[self.last_kind]) if self.last_kind in KINDS else (self.last_kind or "")


def months_before(day: date, months: int) -> date:
    """The same day `months` months earlier, or that month's last day (31 March less one month: 28 or 29 February)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


async def dormant_partners(
    session: AsyncSession, principal: Principal, today: date, months: int, *, only: uuid.UUID | None = None
) -> list[Dormant]:
    """Partners bound by an agreement in force today with nothing since `months` months ago, the longest silent first
    (`only`: that one partner, for its page). The department's view: nobody else is told which partnerships have gone
    quiet. One statement."""
    if not principal.reads_everything:
        return []
    return await _dormant(session, today, months, only)


async def _dormant(session: AsyncSession, today: date, months: int, only: uuid.UUID | None = None) -> list[Dormant]:
    if not _activity or not _bound:
        return []
    since = months_before(today, months)
    # The agreements in force are read once (a CTE): they say who is bound, and when each of them signed.
    sources = union_all(*(source(today) for source in _bound)).subquery("bound_by")
    bound = select(sources.c.institution_id, func.max(sources.c.day).label("day")).group_by(sources.c.institution_id).cte("bound")
    signed = select(bound.c.institution_id, literal("agreement_signed").label("kind"), type_coerce(bound.c.day, Date).label("day"))
    events = union_all(signed, *(statement for source in _activity for statement in source())).subquery("activity")
    latest = (
        select(events.c.institution_id, events.c.kind, func.max(events.c.day).label("day"))
        .where(events.c.day <= today)
        .group_by(events.c.institution_id, events.c.kind)
        .subquery("latest")
    )
    rows = await session.execute(
        select(I.id, I.code, I.name, I.name_native, latest.c.kind, latest.c.day)
        .select_from(table(Institution).outerjoin(latest, latest.c.institution_id == I.id))
        .where(I.id.in_(select(bound.c.institution_id)), I.is_home.is_(False), I.archived_at.is_(None))
        .where(true() if only is None else I.id == only)
    )
    found: dict[uuid.UUID, Dormant] = {}
    for row in rows:
        known = found.setdefault(row.id, Dormant(row.id, row.code, row.name, row.name_native, None, None))
        if row.day is not None and (known.last_day is None or row.day > known.last_day):
            known.last_day, known.last_kind = row.day, row.kind
    quiet = [d for d in found.values() if d.last_day is None or d.last_day < since]
    return sorted(quiet, key=lambda d: (d.last_day or date.min, d.code))


async def send_monthly_digest(factory: Any, settings: Any, today: date) -> int:
    """Once a month (the first daily run of it), each coordinator is told which partnerships are dormant, in their
    language; a month with none sends nothing."""
    async with factory() as session:
        quiet = await _dormant(session, today, settings.dormant_months)
        if not quiet:
            return 0
        U = table(User).c
        readers = await session.execute(select(U.email, U.language).where(U.role == Role.COORDINATOR.value, U.active.is_(True)))
        sent = 0
        for email, language in readers.all():
            language = language or settings.default_language
            with i18n.using(language):
                lines = [
                    f"{d.code} · {d.name}: "
                    + (
                        i18n.gettext("last: %(kind)s, %(day)s", kind=d.last_kind_said, day=i18n.format_day(d.last_day))
                        if d.last_day
                        else i18n.gettext("nothing recorded yet")
                    )
                    for d in quiet
                ]
                subject = i18n.ngettext("LibCoop: %(num)d dormant partnership", "LibCoop: %(num)d dormant partnerships", len(quiet))
                why = i18n.ngettext(
                    "You receive this as a coordinator: bound by an agreement in force, these partners have done nothing with "
                    "us for %(num)d month or more. — LibCoop",
                    "You receive this as a coordinator: bound by an agreement in force, these partners have done nothing with "
                    "us for %(num)d months or more. — LibCoop",
                    settings.dormant_months,
                )
            sent += await send_digest(
                session,
                settings,
                address=email,
                kind="dormant",
                day=today.replace(day=1),
                subject=subject,
                lines=lines,
                language=language,
                footer=why,
            )
    return sent
