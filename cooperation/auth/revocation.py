"""A deactivated account, a changed role or an ended session takes effect on the next request in every process.

Each process remembers who a session token belongs to for a few seconds (`services.principal_cache`: it spares a
query per request). A change to an account clears that memory here at once, and, on PostgreSQL, a `NOTIFY` sent in
the same transaction clears it in every other process when the change commits: each process LISTENs on one
connection of its own. While that connection is down the cache is off, so nothing stale is served meanwhile. SQLite
serves from one process: clearing here is enough.
"""

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cooperation.auth.services import principal_cache

CHANNEL = "coop_accounts_changed"
RETRY_SECONDS = 2.0
log = structlog.get_logger("accounts")


async def announce(session: AsyncSession) -> None:
    """Call inside the transaction that changes accounts or sessions, before its commit."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {CHANNEL}"))


def forget_here() -> None:
    """After the commit: this process forgets every cached principal."""
    principal_cache.clear()


class Listener:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.engine.dialect.name == "postgresql":
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        principal_cache.enabled = True

    async def _run(self) -> None:
        while True:
            lost = asyncio.Event()
            try:
                async with self.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver: Any = raw.driver_connection
                    await driver.add_listener(CHANNEL, lambda *_: principal_cache.clear())
                    driver.add_termination_listener(lambda *_, lost=lost: lost.set())
                    principal_cache.clear()  # whatever happened while not listening
                    principal_cache.enabled = True
                    await lost.wait()
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: no cache until listening again
                log.warning("not listening for account changes; the principal cache is off", error=type(exc).__name__)
            principal_cache.enabled = False
            await asyncio.sleep(RETRY_SECONDS)
