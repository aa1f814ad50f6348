"""Scheduled reports, exactly once: claim the (subscription, period) row, render, then send each recipient's
e-mail once, retrying failures with back-off.

The claim is an INSERT that a second one cannot repeat (unique subscription + period): a duplicate fire, a
second scheduler, a restart or a catch-up all find the row taken and stop. While rendering, the run carries a
lease; a process killed mid-render leaves the lease to expire, and the next pass takes the run over (an UPDATE
that only one process can win) and completes it once. Each recipient is a delivery row, claimed the same way
before its send and marked sent after it, so a retry never re-sends what was accepted.
"""

import asyncio
import hashlib
import os
import socket
import uuid
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from markupsafe import escape
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cooperation import audit, files, mail
from cooperation import i18n as cooperation_i18n
from cooperation.auth.access import Principal
from cooperation.auth.models import User
from cooperation.auth.services import principal_of
from cooperation.db import claiming_insert, new_id, table, unavailable, utcnow
from cooperation.errors import NotFoundError
from cooperation.i18n import N_
from cooperation.reports import builders, periods, subscriptions
from cooperation.reports.models import ReportDelivery, ReportRun, ReportSubscription
from cooperation.reports.pdf import PdfRenderer, pdf_filename
from cooperation.settings import Settings

RR = table(ReportRun).c
RD = table(ReportDelivery).c
RS = table(ReportSubscription).c
U = table(User).c
log = structlog.get_logger("reports")
MAX_RETRY = timedelta(days=1)
MAX_ATTEMPTS = 5  # renders of one run before a failure that should pass is recorded as failed
RETRY_AFTER = timedelta(seconds=30)  # times the attempt number
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Outcome:
    run_id: uuid.UUID | None
    status: str  # claimed elsewhere / rendered / failed


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.report_timeout_seconds * 2)


def period_for(subscription: Any, fire_time: datetime) -> periods.Period:
    """The complete period before the fire time, in the subscription's time zone."""
    local_day = fire_time.astimezone(ZoneInfo(subscription["time_zone"])).date()
    return periods.previous(subscription["period_kind"], local_day)


async def claim(
    session: AsyncSession, subscription: Any, period: periods.Period, fire_time: datetime, settings: Settings
) -> uuid.UUID | None:
    """The run of this subscription's period for this process, or None when another has it (or had it)."""
    now = utcnow()
    run_id = new_id()
    claimed = await session.execute(
        claiming_insert(session, ReportRun)
        .values(
            id=run_id,
            kind=subscription["kind"],
            scope_id=subscription["scope_id"],
            period_key=period.key,
            language=subscription["language"],
            title=f"{subscription['kind']} {period.key}",
            requested_by_id=subscription["owner_id"],
            requested_by_name="schedule",
            status="claimed",
            subscription_id=subscription["id"],
            scheduled_for=fire_time,
            lease_owner=HOLDER,
            lease_until=now + _lease(settings),
            attempts=1,
            created_at=now,
            summary=[],
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "period_key"])
    )
    await session.commit()
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return run_id
    # Taken. Only a run whose holder stopped (lease run out before it finished rendering) may be taken over.
    result = await session.execute(
        update(ReportRun)
        .where(
            RR.subscription_id == subscription["id"],
            RR.period_key == period.key,
            RR.status.in_(("claimed", "rendering")),
            RR.lease_until < now,
        )
        .values(lease_owner=HOLDER, lease_until=now + _lease(settings), attempts=RR.attempts + 1, status="claimed")
        .returning(RR.id)
    )
    taken = result.scalar_one_or_none()
    await session.commit()
    if taken is not None:
        log.warning("took over an interrupted report run", run_id=str(taken), period=period.key)
    return taken


async def recipients(session: AsyncSession, subscription: Any) -> list[str]:
    user_ids = [uuid.UUID(u) for u in subscription["recipient_user_ids"] or []]
    addresses = list(await session.scalars(select(U.email).where(U.id.in_(user_ids), U.active.is_(True)))) if user_ids else []
    for address in subscription["recipient_emails"] or []:
        if address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    return addresses


async def render_run(
    factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    renderer: PdfRenderer,
    run_id: uuid.UUID,
    subscription: Any,
    period: periods.Period,
) -> bool:
    """Build with the owner's view of the records, render off the loop, store; then create one delivery per recipient."""
    async with factory() as session:
        owner = await session.get(User, subscription["owner_id"])
        try:
            if owner is None or not owner.active:
                raise builders.ReportError("the subscription's owner can no longer sign in")
            built = await builders.build(
                session, principal_of(owner), settings, subscription["kind"], subscription["scope_id"], period, subscription["language"]
            )
            await session.execute(
                update(ReportRun).where(RR.id == run_id, RR.lease_owner == HOLDER).values(status="rendering", title=built.title)
            )
            await session.commit()
            started = asyncio.get_running_loop().time()
            pdf, pages, peak = await renderer.render(built.html)
            digest = hashlib.sha256(pdf).hexdigest()
            await files.storage(settings).put(digest, pdf)
            addresses = await recipients(session, subscription)
            done = await session.execute(
                update(ReportRun)
                .where(RR.id == run_id, RR.lease_owner == HOLDER)  # a lease lost meanwhile: the newer holder finishes
                .values(
                    status="rendered" if addresses else "sent",
                    pdf_sha256=digest,
                    pdf_bytes=len(pdf),
                    pages=pages,
                    worker_peak_mib=round(peak, 1),
                    render_ms=int((asyncio.get_running_loop().time() - started) * 1000),
                    summary=built.summary,
                    finished_at=utcnow(),
                    lease_until=None,
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                return False
            for address in addresses:
                session.add(ReportDelivery(run_id=run_id, address=address))
            audit.record(session, None, "rendered", "report", run_id, summary="Report ready")  # heard by webhooks
            await session.commit()
            return True
        except Exception as exc:
            await _after_failure(session, run_id, exc)
            return False


def passes(exc: BaseException) -> bool:
    """A failure that will pass by itself: the database restarting, the PDF workers replaced after a crash."""
    return unavailable(exc) or isinstance(exc, BrokenProcessPool)


async def _after_failure(session: AsyncSession, run_id: uuid.UUID, exc: Exception) -> None:
    """A failure that will pass leaves the run to be taken over after a back-off (the poll retries it, up to
    MAX_ATTEMPTS); any other marks it failed, with its reason, for an administrator to render again."""
    error = f"{type(exc).__name__}: {str(exc)[:900]}"
    try:
        await session.rollback()
        attempts = int(await session.scalar(select(RR.attempts).where(RR.id == run_id)) or 1)
        if passes(exc) and attempts < MAX_ATTEMPTS:
            log.warning("scheduled report interrupted; it will be retried", run_id=str(run_id), error=error[:200], attempts=attempts)
            retry_at = utcnow() + RETRY_AFTER * attempts
            values: dict[str, Any] = {"status": "claimed", "lease_until": retry_at, "lease_owner": None, "error": f"retrying: {error}"}
        else:
            log.error("scheduled report failed", run_id=str(run_id), error=error, exc_info=exc)
            values = {"status": "failed", "error": error, "finished_at": utcnow(), "lease_until": None}
        await session.execute(update(ReportRun).where(RR.id == run_id, RR.status.in_(("claimed", "rendering"))).values(**values))
        await session.commit()
    except Exception as again:  # the database is away: the lease runs out and the next pass takes the run over
        if not passes(again):
            raise
        log.warning("scheduled report interrupted while the database is away; it will be retried", run_id=str(run_id))


async def run_subscription(
    factory: async_sessionmaker[AsyncSession], settings: Settings, renderer: PdfRenderer, subscription_id: uuid.UUID, fire_time: datetime
) -> Outcome:
    async with factory() as session:
        subscription = (await session.execute(select(table(ReportSubscription)).where(RS.id == subscription_id))).mappings().first()
        if subscription is None or not subscription["active"] or subscription["archived_at"] is not None:
            return Outcome(None, "inactive")
        period = period_for(subscription, fire_time)
        run_id = await claim(session, subscription, period, fire_time, settings)
    if run_id is None:
        return Outcome(None, "claimed elsewhere")
    rendered = await render_run(factory, settings, renderer, run_id, subscription, period)
    if rendered:
        await deliver_due(factory, settings, run_id=run_id)
    return Outcome(run_id, "rendered" if rendered else "failed")


@dataclass(frozen=True)
class SendNow:
    """ "Send me one now", begun: the run made for it, and what render_run needs to finish it."""

    run_id: uuid.UUID
    subscription: dict[str, Any]
    period: periods.Period


async def begin_send_now(session: AsyncSession, principal: Principal, settings: Settings, subscription_id: uuid.UUID) -> SendNow:
    """The subscription's report of its latest complete period, for the person who asks, at once and to them alone.
    Beside its timetable, not in it: the run names no subscription, so the period's scheduled sending still happens,
    once. 404 for a subscription that is not theirs (or stopped)."""
    found = (
        (await session.execute(select(table(ReportSubscription)).where(RS.id == subscription_id, subscriptions.visible(principal))))
        .mappings()
        .first()
    )
    if found is None:
        raise NotFoundError("subscription")
    period = period_for(found, utcnow())
    run_id, now = new_id(), utcnow()
    session.add(
        ReportRun(
            id=run_id,
            kind=found["kind"],
            scope_id=found["scope_id"],
            period_key=period.key,
            language=found["language"],
            title=f"{found['kind']} {period.key}",
            requested_by_id=principal.user_id,
            requested_by_name=principal.name,
            status="claimed",
            lease_owner=HOLDER,
            lease_until=now + _lease(settings),
            attempts=1,
            created_at=now,
            summary=[],
        )
    )
    audit.record(session, principal, "send_now", "report", run_id, summary=f"Sent at once: {found['kind']} {period.key}")
    await session.commit()
    # Built with the owner's view of the records (as its scheduled sending is), e-mailed to the one who asked.
    one_off = dict(found) | {"recipient_user_ids": [str(principal.user_id)], "recipient_emails": []}
    return SendNow(run_id, one_off, period)


async def finish_send_now(factory: async_sessionmaker[AsyncSession], settings: Settings, renderer: PdfRenderer, begun: SendNow) -> None:
    if await render_run(factory, settings, renderer, begun.run_id, begun.subscription, begun.period):
        await deliver_due(factory, settings, run_id=begun.run_id)


async def resume_interrupted(factory: async_sessionmaker[AsyncSession], settings: Settings, renderer: PdfRenderer) -> int:
    """Runs whose holder stopped mid-render (lease run out): take each over once and complete it."""
    async with factory() as session:
        stuck = (
            await session.execute(
                select(RR.subscription_id, RR.scheduled_for).where(
                    RR.subscription_id.is_not(None), RR.status.in_(("claimed", "rendering")), RR.lease_until < utcnow()
                )
            )
        ).all()
    for subscription_id, scheduled_for in stuck:
        await run_subscription(factory, settings, renderer, subscription_id, scheduled_for)
    return len(stuck)


def _backoff(settings: Settings, attempts: int) -> timedelta:
    return min(timedelta(seconds=settings.mail_retry_seconds * 2 ** max(attempts - 1, 0)), MAX_RETRY)


async def deliver_due(factory: async_sessionmaker[AsyncSession], settings: Settings, *, run_id: uuid.UUID | None = None) -> int:
    """Send every delivery that is due: new ones, failed ones whose retry time came, and sends left half-done by a
    stopped process. Each is claimed before its send, so two processes never send the same one. Returns sends made."""
    now = utcnow()
    due = or_(
        RD.status == "pending",
        and_(RD.status == "failed", RD.next_attempt_at <= now),
        and_(RD.status == "sending", RD.lease_until < now),
    )
    async with factory() as session:
        statement = select(RD.id).where(due)
        if run_id is not None:
            statement = statement.where(RD.run_id == run_id)
        candidates = list(await session.scalars(statement.order_by(RD.run_id)))
    sent = 0
    for delivery_id in candidates:
        sent += await _deliver_one(factory, settings, delivery_id)
    return sent


async def _deliver_one(factory: async_sessionmaker[AsyncSession], settings: Settings, delivery_id: uuid.UUID) -> int:
    now = utcnow()
    async with factory() as session:
        claimed = await session.execute(
            update(ReportDelivery)
            .where(
                RD.id == delivery_id,
                or_(
                    RD.status == "pending",
                    and_(RD.status == "failed", RD.next_attempt_at <= now),
                    and_(RD.status == "sending", RD.lease_until < now),
                ),
            )
            .values(status="sending", lease_until=now + timedelta(minutes=5), attempts=RD.attempts + 1)
            .returning(RD.run_id, RD.address, RD.attempts)
        )
        row = claimed.first()
        await session.commit()
        if row is None:
            return 0  # another process has it
        run = (await session.execute(select(table(ReportRun)).where(RR.id == row.run_id))).mappings().one()
        try:
            content = await files.storage(settings).get(run["pdf_sha256"])
            message = mail.message(
                settings,
                to=row.address,
                subject=run["title"],
                text=email_text(run),
                html=email_html(run),
                attachment=(pdf_filename(run["title"]), content, "application/pdf"),
                stable_id=f"report-{run['id']}-{row.address.lower()}",
            )
            await mail.send(settings, message)
        except (mail.MailError, OSError) as exc:
            await session.execute(
                update(ReportDelivery)
                .where(RD.id == delivery_id)
                .values(
                    status="failed",
                    last_error=str(exc)[:1000],
                    next_attempt_at=utcnow() + _backoff(settings, row.attempts),
                    lease_until=None,
                )
            )
            await session.execute(update(ReportRun).where(RR.id == row.run_id, RR.status == "rendered").values(status="retrying"))
            await session.commit()
            if not isinstance(exc, mail.MailNotConfigured):
                log.warning("report e-mail not sent; will retry", address=row.address, error=str(exc)[:200])
            return 0
        await session.execute(
            update(ReportDelivery).where(RD.id == delivery_id).values(status="sent", sent_at=utcnow(), last_error=None, lease_until=None)
        )
        await session.flush()
        left = await session.scalar(select(RD.id).where(RD.run_id == row.run_id, RD.status != "sent").limit(1))
        if left is None:
            await session.execute(update(ReportRun).where(RR.id == row.run_id).values(status="sent"))
        await session.commit()
        return 1


def _attached(run: Any) -> str:
    """Said in the report's language, like the report and its highlights."""
    return cooperation_i18n.translations(run.get("language") or "en").gettext(ATTACHED)


ATTACHED = N_("The full report is attached (PDF).")


def _text_of(item: Any) -> str:
    return str(item.get("text", "")) if isinstance(item, dict) else str(item)


def email_text(run: Any) -> str:
    lines = [run["title"], ""]
    for item in run["summary"] or []:
        heading = isinstance(item, dict) and item.get("kind") == "heading"
        lines += ["", _text_of(item)] if heading else [f"- {_text_of(item)}"]
    return "\n".join([*lines, "", _attached(run), "— LibCoop"])


TILE = "border:1px solid #c8d3cf;background:#f6f9f8;padding:8px 10px;vertical-align:top;width:33%"


def _tiles_html(tiles: list[dict[str, Any]]) -> str:
    """The key figures as the report's page 1 shows them, three to a row, in a table (mail clients know no flexbox)."""
    rows = []
    for start in range(0, len(tiles), 3):
        cells = "".join(
            f'<td style="{TILE}"><div style="font-size:12px;color:#52606d">{escape(tile["label"])}</div>'
            f'<div style="font-size:22px;font-weight:700;color:#0b3d2e">{escape(tile["value"])}</div>'
            + "".join(f'<div style="font-size:11px;color:#3e4c59">{escape(change)}</div>' for change in tile["changes"])
            + "</td>"
            for tile in tiles[start : start + 3]
        )
        rows.append(f"<tr>{cells}</tr>")
    return f'<table role="presentation" style="border-collapse:separate;border-spacing:6px;width:100%">{"".join(rows)}</table>'


def email_html(run: Any) -> str:
    summary = run["summary"] or []
    tiles = [item for item in summary if isinstance(item, dict) and item.get("kind") == "tile"]
    body = _tiles_html(tiles) if tiles else ""
    listed = ""
    for item in summary:
        if isinstance(item, dict) and item.get("kind") == "tile":
            continue
        if isinstance(item, dict) and item.get("kind") == "heading":
            body += (f"<ul>{listed}</ul>" if listed else "") + f'<h2 style="font-size:15px;color:#0b3d2e">{escape(item["text"])}</h2>'
            listed = ""
        elif isinstance(item, dict) and item.get("kind") == "decision":
            due = f"<strong>{escape(item['due'])}</strong> · " if item.get("due") else ""
            listed += f'<li>{due}{escape(item["what"])} <span style="color:#52606d">({escape(item["reference"])})</span></li>'
        else:
            listed += f"<li>{escape(_text_of(item))}</li>"
    body += f"<ul>{listed}</ul>" if listed else ""
    return f'<h1 style="font-size:18px">{escape(run["title"])}</h1>{body}<p>{escape(_attached(run))}</p><p>— LibCoop</p>'


async def render_again(factory: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> bool:
    """An administrator asks for a failed scheduled run again: it is left for the scheduler's next pass to take over
    and render (once: the take-over is the claim's UPDATE). False when it is not a failed scheduled run."""
    async with factory() as session:
        result = await session.execute(
            update(ReportRun)
            .where(RR.id == run_id, RR.status == "failed", RR.subscription_id.is_not(None))
            .values(status="claimed", lease_owner=None, lease_until=utcnow() - timedelta(seconds=1), attempts=0, finished_at=None)
        )
        await session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def resend(factory: async_sessionmaker[AsyncSession], settings: Settings, run_id: uuid.UUID) -> int:
    """An administrator sends a run again: every recipient gets it once more (an explicit, audited choice)."""
    async with factory() as session:
        await session.execute(
            update(ReportDelivery)
            .where(RD.run_id == run_id, RD.status.in_(("sent", "failed")))
            .values(status="pending", next_attempt_at=None, last_error=None)
        )
        await session.commit()
    return await deliver_due(factory, settings, run_id=run_id)
