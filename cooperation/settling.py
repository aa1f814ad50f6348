"""Stored statuses that follow the calendar (an agreement past its expiry), kept true between two runs of the daily job.

Each domain registers a step `(session, today) -> int`. The daily job runs the steps; so does the first request a
process serves on a new day, before it opens its own session, so no page shows yesterday's status. A step is cheap
when there is nothing to do (one indexed SELECT) and safe to run twice or in two processes at once.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("cooperation.settling")

SettleStep = Callable[[AsyncSession, date], Awaitable[int]]
RETRY_SECONDS = 30.0  # after a failure (the database away), let requests through untouched for this long


class Settlement:
    def __init__(self, factory: async_sessionmaker[AsyncSession], time_zone: str, steps: Sequence[SettleStep]) -> None:
        self.factory = factory
        self.zone = ZoneInfo(time_zone)
        self.steps = list(steps)
        self.settled_on: date | None = None
        self._lock = asyncio.Lock()
        self._retry_at = 0.0

    def today(self) -> date:
        return datetime.now(self.zone).date()

    async def run(self, today: date) -> int:
        changed = 0
        async with self.factory() as session:
            for step in self.steps:
                changed += await step(session, today)
        return changed

    async def ensure(self) -> None:
        """Settle once per day and process; never fail the request that triggers it."""
        today = self.today()
        if self.settled_on == today or time.monotonic() < self._retry_at:
            return
        async with self._lock:
            if self.settled_on == today:
                return
            try:
                await self.run(today)
            except Exception:
                self._retry_at = time.monotonic() + RETRY_SECONDS
                log.warning("could not settle today's statuses; retrying later", exc_info=True)
                return
            self.settled_on = today

    async def daily_job(self, factory: Any, settings: Any, today: date) -> int:
        """The scheduler's daily run (same signature as the other daily jobs)."""
        changed = await self.run(today)
        self.settled_on = today
        return changed


def settle_first(settlement: Settlement) -> Callable[[Any], Any]:
    """ASGI middleware (outermost): settle before the request's own session opens."""

    def factory(app: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            # Health checks answer about the database on their own, within their own time limit.
            if scope["type"] == "http" and not scope["path"].startswith(("/static/", "/health")):
                await settlement.ensure()
            await app(scope, receive, send)

        return middleware

    return factory
