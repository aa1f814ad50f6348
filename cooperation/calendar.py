"""Each person's iCalendar feed: a secret, revocable URL that calendar programs poll.

The feed holds what that person may see: visits (multi-day, as all-day ranges), follow-up due dates,
agreement expiry dates. Domains contribute events through `register_source` (app.py wires them).
"""

import calendar as stdlib_calendar
import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from cooperation import audit, i18n
from cooperation.auth.access import Principal
from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.auth.models import User
from cooperation.auth.services import principal_of
from cooperation.db import UTCDateTime, new_id, utcnow
from cooperation.errors import ValidationFailed
from cooperation.web import conditional, public_base, render, see_other

WINDOW_PAST = timedelta(days=365)
WINDOW_FUTURE = timedelta(days=3 * 365)


class CalendarFeed(SQLModel, table=True):
    __tablename__ = "calendar_feed"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


@dataclass
class CalendarEvent:
    """One entry: `start`..`end` are dates, inclusive (a four-day visit is 26–29 November)."""

    uid: str
    summary: str
    start: date
    end: date
    description: str = ""
    location: str | None = None
    url: str | None = None
    attendees: list[str] = field(default_factory=list)
    # The record's version and last change: a calendar program replaces its copy when SEQUENCE rises (RFC 5545).
    sequence: int = 0
    modified: datetime | None = None


EventSource = Callable[[AsyncSession, Principal, date, date], Awaitable[list[CalendarEvent]]]
_sources: list[EventSource] = []


def register_source(source: EventSource) -> None:
    if source not in _sources:
        _sources.append(source)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_feed(session: AsyncSession, principal: Principal) -> str:
    """A new secret URL token; any earlier feed of this person stops working."""
    await session.execute(
        update(CalendarFeed)
        .where(col(CalendarFeed.user_id) == principal.user_id, col(CalendarFeed.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    token = secrets.token_urlsafe(32)
    session.add(CalendarFeed(user_id=principal.user_id, token_hash=_digest(token)))
    audit.record(session, principal, "calendar_feed", "user", principal.user_id, summary="New calendar feed address")
    await session.commit()
    return token


async def revoke_feed(session: AsyncSession, principal: Principal) -> None:
    await session.execute(
        update(CalendarFeed)
        .where(col(CalendarFeed.user_id) == principal.user_id, col(CalendarFeed.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    audit.record(session, principal, "calendar_feed_revoked", "user", principal.user_id, summary="Calendar feed revoked")
    await session.commit()


async def has_feed(session: AsyncSession, principal: Principal) -> bool:
    found = await session.scalar(
        select(col(CalendarFeed.id)).where(col(CalendarFeed.user_id) == principal.user_id, col(CalendarFeed.revoked_at).is_(None))
    )
    return found is not None


async def principal_for_feed(session: AsyncSession, token: str) -> Principal | None:
    row = (
        await session.execute(
            select(User)
            .join(CalendarFeed, col(CalendarFeed.user_id) == col(User.id))
            .where(
                col(CalendarFeed.token_hash) == _digest(token),
                col(CalendarFeed.revoked_at).is_(None),
                col(User.active).is_(True),
                col(User.archived_at).is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    return principal_of(row[0])


def render_ics(events: list[CalendarEvent], base_url: str, time_zone: str = "UTC") -> bytes:
    """Every event is a whole-day one (DATE values, no time zone to get wrong); each keeps its UID from one feed to the
    next, and its SEQUENCE follows the record's version, so an edited visit replaces the old copy in the calendar."""
    calendar = Calendar()
    calendar.add("prodid", "-//LibCoop//International cooperation//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", i18n.gettext("LibCoop · international cooperation"))
    calendar.add("x-wr-timezone", time_zone)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")  # the same, as Outlook and Apple read it
    # The same events give the same bytes (so the feed's ETag holds): each stamped with its own last change.
    stamp = max((e.modified for e in events if e.modified is not None), default=None) or utcnow().replace(microsecond=0)
    for item in events:
        event = Event()
        event.add("uid", f"{item.uid}@libcoop")
        event.add("dtstamp", item.modified or stamp)
        event.add("summary", item.summary)
        event.add("dtstart", item.start)
        event.add("dtend", item.end + timedelta(days=1))  # all-day: DTEND is the day after the last day
        event.add("sequence", item.sequence)
        if item.modified is not None:
            event.add("last-modified", item.modified)
        description = item.description
        if item.attendees:
            participants = i18n.gettext("Participants: %(names)s", names="; ".join(item.attendees))
            description = (description + "\n\n" if description else "") + participants
        if description:
            event.add("description", description)
        if item.location:
            event.add("location", item.location)
        if item.url:
            event.add("url", base_url + item.url)
        calendar.add_component(event)
    return calendar.to_ical()


@get("/calendar/{token:str}/libcoop.ics", opt={PUBLIC_OPT: True}, name="calendar_feed", include_in_schema=False)
async def feed(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], token: FromPath[str]) -> Response[bytes]:
    """Public by design: the secret in the URL is the credential (calendar programs cannot sign in)."""
    principal = await principal_for_feed(db, token)
    if principal is None:
        raise NotFoundException()
    today = utcnow().date()
    events: list[CalendarEvent] = []
    base = public_base(request)
    with i18n.using(principal.language):  # a calendar program sends no language: the feed speaks its owner's
        for source in _sources:
            events += await source(db, principal, today - WINDOW_PAST, today + WINDOW_FUTURE)
        ics = render_ics(events, base, principal.time_zone)
    changed = max((e.modified for e in events if e.modified is not None), default=None)
    return conditional(
        request, ics, "text/calendar", {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}, changed
    )


@get("/account/calendar", name="account_calendar")
async def calendar_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    return render(request, "auth/calendar.html", has_feed=await has_feed(db, principal), url=None)


@post("/account/calendar", name="account_calendar_create")
async def calendar_create(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    token = await new_feed(db, principal)
    base = public_base(request)
    url = f"{base}/calendar/{token}/libcoop.ics"
    webcal = "webcal://" + url.split("://", 1)[1]  # calendar programs open this scheme to subscribe in one click
    return render(request, "auth/calendar.html", has_feed=True, url=url, webcal=webcal)


@post("/account/calendar/revoke", name="account_calendar_revoke")
async def calendar_revoke(db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Response[Any]:
    await revoke_feed(db, principal)
    return see_other("/account/calendar")


@get("/calendar", name="calendar_month")
async def month_view(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    """A month grid and, below it, the same month as an agenda."""
    raw = request.query_params.get("month") or utcnow().date().strftime("%Y-%m")
    try:
        first = datetime.strptime(raw + "-01", "%Y-%m-%d").date()
    except ValueError:
        raise ValidationFailed({"month": f"{raw!r} is not a month such as 2025-11"}) from None
    last = first.replace(day=stdlib_calendar.monthrange(first.year, first.month)[1])
    events: list[CalendarEvent] = []
    for source in _sources:
        events += await source(db, principal, first, last)
    events.sort(key=lambda e: (e.start, e.summary))
    weeks = stdlib_calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    by_day = {day: [e for e in events if e.start <= day <= e.end] for week in weeks for day in week}
    previous = (first - timedelta(days=1)).strftime("%Y-%m")
    following = (last + timedelta(days=1)).strftime("%Y-%m")
    return render(request, "calendar.html", first=first, weeks=weeks, by_day=by_day, events=events, previous=previous, following=following)


routes = [feed, calendar_page, calendar_create, calendar_revoke, month_view]
