"""Rate limits on sign-in and token endpoints, counted in the database so that every worker process shares them."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cooperation import i18n
from cooperation.auth.models import RateLimitWindow
from cooperation.db import table, utcnow
from cooperation.errors import ServiceError
from cooperation.i18n import N_


class TooManyAttempts(ServiceError):
    status_code = 429
    title = N_("Too many attempts")
    slug = "too-many-requests"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            i18n.ngettext(
                "Too many attempts. Wait %(num)d minute and try again.", "Too many attempts. Wait %(num)d minutes and try again.", minutes
            )
        )
        self.retry_after = retry_after


SIGN_IN = (10, 300)  # failed attempts, seconds: per client address and per account (successes are not counted)
TOKENS = (20, 3600)


def _window_start(now: datetime, window_seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, UTC)


def _refusal(start: datetime, window_seconds: int, now: datetime) -> TooManyAttempts:
    return TooManyAttempts(retry_after=int((start + timedelta(seconds=window_seconds) - now).total_seconds()) + 1)


async def count(session: AsyncSession, key: str, *, window_seconds: int, now: datetime | None = None) -> int:
    """Count one attempt for `key` in the current window and return the window's count. Commits."""
    now = now or utcnow()
    start = _window_start(now, window_seconds)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    t = table(RateLimitWindow)
    statement = (
        insert(t)
        .values(key=key[:200], window_start=start, hits=1)
        .on_conflict_do_update(index_elements=["key", "window_start"], set_={"hits": t.c.hits + 1})
        .returning(t.c.hits)
    )
    hits = int((await session.execute(statement)).scalar_one())
    if hits == 1:  # first hit of a window: forget windows older than a day
        await session.execute(delete(RateLimitWindow).where(col(RateLimitWindow.window_start) < now - timedelta(days=1)))
    await session.commit()
    return hits


async def hit(session: AsyncSession, key: str, *, limit: int, window_seconds: int, now: datetime | None = None) -> None:
    """Count one attempt for `key`; raise TooManyAttempts past `limit` in the current window. Commits."""
    now = now or utcnow()
    if await count(session, key, window_seconds=window_seconds, now=now) > limit:
        raise _refusal(_window_start(now, window_seconds), window_seconds, now)


async def check(session: AsyncSession, keys: list[str], *, limit: int, window_seconds: int, now: datetime | None = None) -> None:
    """Raise TooManyAttempts if any key has already been counted `limit` times in the current window; counts nothing.

    Sign-in checks before trying and counts only failures, so a department behind one address is never locked
    out by its own successful sign-ins.
    """
    now = now or utcnow()
    start = _window_start(now, window_seconds)
    t = table(RateLimitWindow).c
    worst = await session.scalar(select(func.max(t.hits)).where(t.key.in_([k[:200] for k in keys]), t.window_start == start))
    if worst is not None and worst >= limit:
        raise _refusal(start, window_seconds, now)
