"""Rate limits on sign-in and token endpoints, counted in the database so that every worker process shares them."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cooperation.auth.models import RateLimitWindow
from cooperation.db import table, utcnow
from cooperation.errors import ServiceError


class TooManyAttempts(ServiceError):
    status_code = 429
    title = "Too many attempts"
    slug = "too-many-requests"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"Too many attempts. Wait {minutes} minute{'s' if minutes > 1 else ''} and try again.")
        self.retry_after = retry_after


SIGN_IN = (10, 300)  # attempts, seconds: per client address and per account
TOKENS = (20, 3600)


async def hit(session: AsyncSession, key: str, *, limit: int, window_seconds: int, now: datetime | None = None) -> None:
    """Count one attempt for `key`; raise TooManyAttempts past `limit` in the current window. Commits."""
    now = now or utcnow()
    epoch = int(now.timestamp())
    start = datetime.fromtimestamp(epoch - epoch % window_seconds, UTC)
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
    if hits > limit:
        raise TooManyAttempts(retry_after=int((start + timedelta(seconds=window_seconds) - now).total_seconds()) + 1)
