"""The scheduler: APScheduler 3.11 inside the app, in exactly one process at a time.

Several processes each running a 3.x scheduler on one job store run every job several times, so: the process
that holds a PostgreSQL advisory lock (on a connection kept for its life) schedules; the others retry the lock
and take over if that process dies (the lock goes with its connection). On SQLite there is one process.
Schedules live in the project's tables and are rebuilt into an in-memory job store at start and whenever the
subscriptions change (this process says so; others are noticed by polling). Every run claims its row before
it renders (see reports/delivery.py), so even two schedulers would not send twice.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from cooperation import webhooks
from cooperation.db import table, unavailable, utcnow
from cooperation.reports import delivery
from cooperation.reports.models import ReportSubscription
from cooperation.reports.pdf import PdfRenderer
from cooperation.settings import Settings

RS = table(ReportSubscription).c
LOCK_KEY = 0x4C6962436F6F70  # "LibCoop": the advisory lock that elects the scheduling process
CATCH_UP_RUNS = 12  # at most this many missed periods per subscription are made up at start
LOCK_CHECK_SECONDS = 5
log = structlog.get_logger("scheduler")

DailyJob = Callable[[async_sessionmaker[AsyncSession], Settings, Any], Awaitable[Any]]


def trigger_for(subscription: Any) -> CronTrigger:
    at: time = subscription["at_time"]
    zone = ZoneInfo(subscription["time_zone"])
    common = {"hour": at.hour, "minute": at.minute, "timezone": zone}
    if subscription["frequency"] == "weekly":
        return CronTrigger(day_of_week=subscription["day"], **common)
    if subscription["frequency"] == "quarterly":
        return CronTrigger(month="1,4,7,10", day=subscription["day"], **common)
    return CronTrigger(day=subscription["day"], **common)


def next_fire(subscription: Any, now: datetime | None = None) -> datetime | None:
    """When an active subscription is next sent (its page says so); None for one that is stopped."""
    if not subscription["active"]:
        return None
    return trigger_for(subscription).get_next_fire_time(None, now or utcnow())


def fire_times(subscription: Any, since: datetime, until: datetime) -> list[datetime]:
    """The subscription's fire times in (since, until], latest last."""
    trigger = trigger_for(subscription)
    times: list[datetime] = []
    previous = None
    moment = since
    while True:
        next_time = trigger.get_next_fire_time(previous, moment)
        if next_time is None or next_time > until:
            return times[-CATCH_UP_RUNS:]
        if next_time > since:
            times.append(next_time)
        previous, moment = next_time, next_time + timedelta(seconds=1)


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        factory: async_sessionmaker[AsyncSession],
        renderer: PdfRenderer,
        daily_jobs: Sequence[tuple[str, DailyJob]] = (),
        *,
        election_seconds: float = 10.0,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.factory = factory
        self.renderer = renderer
        self.daily_jobs = list(daily_jobs)
        self.election_seconds = election_seconds
        self.leader = False
        self._scheduler: AsyncIOScheduler | None = None
        self._lock: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._signature: tuple[Any, ...] | None = None
        self._busy: set[asyncio.Task[Any]] = set()
        self._polled_at: datetime | None = None  # the start of the last poll that went through

    # ---- election --------------------------------------------------------------------------------

    async def _elect(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        connection = await self.engine.connect()
        try:
            got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if got:
            self._lock = connection  # held for the life of the process: closing it releases the lock
            return True
        await connection.close()
        return False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                if await self._elect():
                    break
            except Exception as exc:  # the database is away: keep trying, as a standby would
                if not unavailable(exc):
                    log.exception("scheduler election failed; retrying")
                else:
                    log.warning("scheduler election: the database does not answer; retrying", error=type(exc).__name__)
            await asyncio.sleep(self.election_seconds)  # standing by: take over when the scheduling process stops
        self.leader = True
        log.info("this process schedules reports and reminders")
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.start()
        self._scheduler = scheduler
        self._polled_at = utcnow()  # the catch-up below covers everything before; each poll covers what follows
        for step in (self.rebuild, self.catch_up):  # a failure here must not leave the process scheduling nothing
            try:
                await step()
            except Exception:
                log.exception("scheduler start step failed", step=step.__name__)
        scheduler.add_job(
            self.poll, IntervalTrigger(seconds=self.settings.scheduler_poll_seconds), id="poll", coalesce=True, max_instances=1
        )
        zone = ZoneInfo(self.settings.default_time_zone)
        for name, job in self.daily_jobs:
            scheduler.add_job(
                self._daily,
                CronTrigger(hour=7, minute=0, timezone=zone),
                args=[name, job],
                id=f"daily:{name}",
                coalesce=True,
                max_instances=1,
            )
            await self._daily(name, job)  # a day missed while stopped: its reminders go now (once: they are claimed per day)

    async def _holds_lock(self) -> bool:
        """The leader's advisory lock goes with its connection: a database restart ends both. Asked at every poll,
        so a process that lost it stops scheduling before another, elected meanwhile, schedules too."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._lock is None:
            return False
        try:
            await asyncio.wait_for(self._lock.scalar(text("SELECT 1")), LOCK_CHECK_SECONDS)
            await self._lock.commit()
            return True
        except Exception as exc:
            log.warning("the scheduling lock's connection is gone", error=type(exc).__name__)
            return False

    async def _step_down(self) -> None:
        """Stop scheduling and stand by again, as at start (the election loop runs until this process wins again)."""
        log.warning("lost the scheduling lock; standing by")
        self.leader = False
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await self._release()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if self._busy:
            await asyncio.gather(*self._busy, return_exceptions=True)
        await self._release()
        self.leader = False

    async def _release(self) -> None:
        """End the lock's connection for real: returned to the pool, it would keep the session-level lock."""
        lock, self._lock = self._lock, None
        if lock is not None:
            with contextlib.suppress(Exception):
                await lock.invalidate()
            with contextlib.suppress(Exception):
                await lock.close()

    # ---- schedules ---------------------------------------------------------------------------------

    async def _subscriptions(self) -> list[Any]:
        async with self.factory() as session:
            rows = await session.execute(select(table(ReportSubscription)).where(RS.active.is_(True), RS.archived_at.is_(None)))
            return [dict(r) for r in rows.mappings()]

    async def _current_signature(self) -> tuple[Any, ...]:
        async with self.factory() as session:
            return tuple((await session.execute(select(func.count(), func.max(RS.updated_at)))).one())

    async def rebuild(self) -> None:
        """The in-memory job store, from the subscriptions table."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        self._signature = await self._current_signature()
        for job in scheduler.get_jobs():
            if job.id.startswith("subscription:"):
                job.remove()
        subscriptions = await self._subscriptions()
        for subscription in subscriptions:
            scheduler.add_job(
                self._fire,
                trigger_for(subscription),
                args=[subscription["id"]],
                id=f"subscription:{subscription['id']}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        log.info("report schedules rebuilt", subscriptions=len(subscriptions))

    def changed(self) -> None:
        """Called by this process when it changes a subscription: rebuild now rather than at the next poll."""
        if self.leader:
            self._spawn(self.rebuild())

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._busy.add(task)
        task.add_done_callback(self._busy.discard)

    async def _fire(self, subscription_id: uuid.UUID) -> None:
        await delivery.run_subscription(self.factory, self.settings, self.renderer, subscription_id, utcnow())

    async def catch_up(self, since: datetime | None = None) -> int:
        """Periods whose fire time passed while no process scheduled (or while the database was away, `since` the
        last poll that went through): each made up once (claimed runs are skipped)."""
        now = utcnow()
        made = 0
        for subscription in await self._subscriptions():
            since_ = max(subscription["created_at"], since or now - timedelta(days=400))
            for moment in fire_times(subscription, since_, now):
                outcome = await delivery.run_subscription(self.factory, self.settings, self.renderer, subscription["id"], moment)
                made += outcome.run_id is not None
        if made:
            log.info("missed report runs made up", runs=made)
        return made

    async def poll(self) -> None:
        """Check this process still holds the lock; notice subscriptions changed by other processes; make up fires
        missed since the last poll that went through (a fire tries once: the database may have been away); finish
        runs a stopped process or an outage left; retry failed sends."""
        if not await self._holds_lock():
            await self._step_down()
            return
        started = utcnow()
        try:
            if await self._current_signature() != self._signature:
                await self.rebuild()
            if self._polled_at is not None:
                await self.catch_up(since=self._polled_at - timedelta(seconds=self.settings.scheduler_poll_seconds))
            await delivery.resume_interrupted(self.factory, self.settings, self.renderer)
            await delivery.deliver_due(self.factory, self.settings)
            await webhooks.run(self.factory, self.settings)  # events to the systems that listen (cooperation/webhooks.py)
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.warning("scheduler poll: the database does not answer; the next poll makes up what was missed", error=type(exc).__name__)
            return
        self._polled_at = started

    async def _daily(self, name: str, job: DailyJob) -> None:
        today = datetime.now(ZoneInfo(self.settings.default_time_zone)).date()
        try:
            await job(self.factory, self.settings, today)
        except Exception:
            log.exception("daily job failed", job=name)
