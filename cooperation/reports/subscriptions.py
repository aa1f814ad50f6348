"""Report subscriptions: a report, its scope and period, a timetable in a time zone, a language, recipients.

Everyone manages their own (the report shows what its owner may see); administrators manage all. A change
tells the scheduler at once in this process; other processes notice it at their next poll.
"""

import re
import uuid
from datetime import date, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n
from cooperation.auth.access import Principal
from cooperation.auth.models import User
from cooperation.auth.services import principal_of
from cooperation.db import table
from cooperation.errors import ConflictError, NotFoundError, ValidationFailed
from cooperation.partners.services import get_institution
from cooperation.records import changes_between, update_versioned
from cooperation.reports import builders, periods
from cooperation.reports.models import ReportSubscription
from cooperation.settings import Settings

RS = table(ReportSubscription).c
U = table(User).c
FREQUENCIES = ("monthly", "quarterly", "weekly")
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    frequency: str
    period_kind: str | None = None  # defaults to the frequency's own: monthly → month, quarterly → quarter, weekly → week
    scope_id: uuid.UUID | None = None
    day: int = 1
    at_time: time = time(7, 0)
    time_zone: str = "Asia/Ho_Chi_Minh"
    language: str = "en"
    recipient_user_ids: list[uuid.UUID] = []
    recipient_emails: list[Annotated[str, msgspec.Meta(max_length=320)]] = []
    active: bool = True


class SubscriptionUpdate(SubscriptionIn, forbid_unknown_fields=True):
    version: int = 0


class SubscriptionOut(msgspec.Struct):
    id: uuid.UUID
    owner_id: uuid.UUID
    owner_name: str
    kind: str
    scope_id: uuid.UUID | None
    period_kind: str
    frequency: str
    day: int
    at_time: time
    time_zone: str
    language: str
    recipient_user_ids: list[str]
    recipient_emails: list[str]
    active: bool
    version: int
    archived_at: Any = None


async def _clean(session: AsyncSession, principal: Principal, settings: Settings, data: SubscriptionIn) -> dict[str, Any]:
    errors: dict[str, str] = {}
    period_kind = data.period_kind or {"monthly": "month", "quarterly": "quarter", "weekly": "week"}.get(data.frequency, "month")
    try:
        builders.check_request(data.kind, data.scope_id, periods.containing(period_kind, date.today()).key, data.language)
    except ValidationFailed as exc:
        errors |= {k: v for k, v in exc.errors.items() if k != "period"}
        if "period" in exc.errors:
            errors["period_kind"] = exc.errors["period"]
    if data.frequency not in FREQUENCIES:
        errors["frequency"] = i18n.gettext("choose %(choices)s", choices=", ".join(FREQUENCIES))
    elif data.frequency == "weekly" and not 0 <= data.day <= 6:
        errors["day"] = i18n.gettext("a weekly report goes out on a weekday: 0 = Monday … 6 = Sunday")
    elif data.frequency != "weekly" and not 1 <= data.day <= 28:
        errors["day"] = i18n.gettext("a day of the month from 1 to 28 (every month has it)")
    try:
        ZoneInfo(data.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = i18n.gettext(
            "%(value)s is not a time zone such as Asia/Ho_Chi_Minh or Europe/Paris", value=repr(data.time_zone)
        )
    bad = [e for e in data.recipient_emails if not EMAIL.match(e.strip())]
    if bad:
        errors["recipient_emails"] = i18n.gettext("not an e-mail address: %(values)s", values=", ".join(bad[:5]))
    users = set(await session.scalars(select(U.id).where(U.id.in_(data.recipient_user_ids), U.active.is_(True))))
    if missing := [str(u) for u in data.recipient_user_ids if u not in users]:
        errors["recipient_user_ids"] = i18n.gettext("no such active user: %(values)s", values=", ".join(missing[:5]))
    if not data.recipient_user_ids and not data.recipient_emails:
        errors["recipient_emails"] = i18n.gettext("name at least one recipient")
    if errors:
        raise ValidationFailed(errors)
    if builders.over_a_period(data.kind):
        if data.kind != "portfolio":  # a register the owner may not read is a report they may not subscribe to
            await builders.check_period_report(session, principal, settings, data.kind)
    elif data.scope_id is not None:  # the owner must see what the report is about (404 otherwise, as everywhere)
        if data.kind == "partner":
            await get_institution(session, principal, data.scope_id)
        else:
            await builders.check_record(session, principal, settings, data.kind, data.scope_id)
    return {
        "kind": data.kind,
        "scope_id": None if builders.over_a_period(data.kind) else data.scope_id,
        "period_kind": period_kind,
        "frequency": data.frequency,
        "day": data.day,
        "at_time": data.at_time.replace(second=0, microsecond=0),
        "time_zone": data.time_zone,
        "language": data.language,
        "recipient_user_ids": [str(u) for u in dict.fromkeys(data.recipient_user_ids)],
        "recipient_emails": list(dict.fromkeys(e.strip().lower() for e in data.recipient_emails)),
        "active": data.active,
    }


def visible(principal: Principal, *, stopped_too: bool = False) -> Any:
    """SQL: the subscriptions this person manages (their own; an administrator's: everyone's)."""
    mine = true() if principal.is_admin else RS.owner_id == principal.user_id
    return mine if stopped_too else mine & RS.archived_at.is_(None)


async def create(session: AsyncSession, principal: Principal, settings: Settings, data: SubscriptionIn) -> uuid.UUID:
    values = await _clean(session, principal, settings, data)
    subscription = ReportSubscription(owner_id=principal.user_id, **values)
    session.add(subscription)
    await session.flush()
    audit.record(
        session, principal, "create", "report_subscription", subscription.id, summary=f"Report subscription: {data.kind}, {data.frequency}"
    )
    await session.commit()
    return subscription.id


async def _row(session: AsyncSession, principal: Principal, subscription_id: uuid.UUID) -> Any:
    where = (RS.id == subscription_id, visible(principal, stopped_too=True))
    row = (await session.execute(select(table(ReportSubscription)).where(*where))).mappings().first()
    if row is None:
        raise NotFoundError("report subscription")
    return row


async def update(
    session: AsyncSession, principal: Principal, settings: Settings, subscription_id: uuid.UUID, data: SubscriptionUpdate
) -> int:
    before = await _row(session, principal, subscription_id)
    if before["archived_at"] is not None:
        raise ConflictError("This subscription is stopped; subscribe again instead.")
    owner = await session.get(User, before["owner_id"])
    # The scope is checked against the owner's view, whoever edits (an administrator may edit anyone's).
    owner_principal = principal if owner is None or owner.id == principal.user_id else principal_of(owner)
    values = await _clean(session, owner_principal, settings, data)
    version = await update_versioned(session, ReportSubscription, subscription_id, data.version, values, what="report subscription")
    audit.record(
        session,
        principal,
        "update",
        "report_subscription",
        subscription_id,
        summary="Report subscription changed",
        changes=changes_between(dict(before), values),
    )
    await session.commit()
    return version


async def stop(session: AsyncSession, principal: Principal, subscription_id: uuid.UUID, version: int) -> None:
    row = await _row(session, principal, subscription_id)
    await audit.archive_or_restore(
        session,
        principal,
        ReportSubscription,
        "report_subscription",
        subscription_id,
        archived=True,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label="report subscription",
    )


async def get(session: AsyncSession, principal: Principal, subscription_id: uuid.UUID) -> SubscriptionOut:
    await _row(session, principal, subscription_id)
    return (await list_subscriptions(session, principal, only=subscription_id))[0]


async def list_subscriptions(session: AsyncSession, principal: Principal, *, only: uuid.UUID | None = None) -> list[SubscriptionOut]:
    """Live subscriptions (a stopped one only when asked for by id)."""
    statement = (
        select(table(ReportSubscription), U.name.label("owner_name"))
        .join(table(User), U.id == RS.owner_id)
        .where(visible(principal, stopped_too=only is not None))
        .order_by(RS.created_at.desc())
    )
    if only is not None:
        statement = statement.where(RS.id == only)
    rows = (await session.execute(statement)).mappings()
    return [SubscriptionOut(**{f: r[f] for f in SubscriptionOut.__struct_fields__}) for r in rows]
