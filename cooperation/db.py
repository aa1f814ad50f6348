"""Database engine, sessions and the column types every table shares."""

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def claiming_insert(session: AsyncSession, model: Any) -> Any:
    """An INSERT that can take `.on_conflict_do_nothing(...)`: the claim behind every "exactly once" here
    (reminders, report runs, digests). Both dialects spell it the same way."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table(model))


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant (UTC) is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Indexes a migration makes on PostgreSQL alone (pg_trgm GIN on each record's folded search text): they are not in the
# models' metadata, so autogenerate and the schema comparison leave them be.
POSTGRESQL_ONLY_INDEXES = frozenset(
    f"ix_{table}_search_trgm"
    for table in ("agreement", "visit", "expert_exchange", "programme", "digitization_project", "institution", "person")
)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's filter: everything but the PostgreSQL-only indexes."""
    return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES)


# Alphabetical order by the reader's language: PostgreSQL's ICU collations (built in wherever PostgreSQL is built with
# ICU, as Debian's and the official images are); SQLite gets the same names from PyICU on each connection.
COLLATIONS = {"en": "en-x-icu", "fr": "fr-x-icu", "vi": "vi-x-icu", "zh_Hans": "zh-x-icu"}


def _register_collations(dbapi_connection: Any) -> None:
    """SQLite compares with ICU in Python: each comparison is a call back, measured in bench/collation.py."""
    import icu
    from sqlalchemy.util import await_only

    raw = dbapi_connection.driver_connection  # aiosqlite.Connection; sqlite3's connection lives in its thread
    for name in COLLATIONS.values():
        collator = icu.Collator.createInstance(icu.Locale(name.split("-x-")[0]))  # one per connection: not shared

        def compare(left: str, right: str, collator: Any = collator) -> int:
            return int(collator.compare(left, right))

        await_only(raw._execute(raw._conn.create_collation, name, compare))


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            _register_collations(dbapi_connection)

        return engine
    # A fixed pool: overflow connections were opened and closed again under load (a PostgreSQL backend
    # started per request), which cut the list API's throughput by a third at 32 concurrent clients.
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_pre_ping", False)  # a lost connection invalidates the whole pool at its first error instead
    # A database that does not answer is a 503 within seconds, not a request hanging for a minute.
    kwargs.setdefault("pool_timeout", 10)
    kwargs.setdefault("connect_args", {"timeout": 5})
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session for one request; services commit, anything uncommitted is rolled back."""
    async with factory() as session:
        try:
            yield session
        finally:
            if session.in_transaction():
                await session.rollback()


async def lock_rows(session: AsyncSession, table_: Any, *where: Any, order: Any) -> None:
    """Hold these rows until the transaction ends, so that a check and the write it allows are not interleaved with
    another's. PostgreSQL locks the rows (in `order`, so two lockers cannot deadlock); SQLite has one writer, and a
    no-op UPDATE takes its write lock now rather than at the first write after the reads."""
    from sqlalchemy import select, update

    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(table_.c.id).where(*where).order_by(order).with_for_update())
    else:
        await session.execute(update(table_).where(*where).values(id=table_.c.id))


# ---- what a database error means for the person who caused it ----------------------------------------------


@event.listens_for(Session, "after_commit")
def _remember_commit(session: Session) -> None:
    """A request whose write committed must not answer an error afterwards (see `committed`)."""
    session.info["committed"] = True


def committed(session: AsyncSession | None) -> bool:
    return session is not None and bool(session.info.get("committed"))


def unavailable(exc: BaseException) -> bool:
    """The database did not answer (down, restarting, unreachable, out of connections, SQLite busy): a 503 to retry,
    not a defect. asyncpg's own connection errors and OSError arrive unwrapped when a connection is being made."""
    if isinstance(exc, (OperationalError, InterfaceError, SATimeoutError, OSError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    module = type(exc).__module__
    return module.startswith("asyncpg") and type(exc).__name__ in ASYNCPG_CONNECTION_ERRORS


ASYNCPG_CONNECTION_ERRORS = {
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "AdminShutdownError",
    "CrashShutdownError",
    "InterfaceError",
    "TooManyConnectionsError",
}


def conflicting_field(exc: IntegrityError) -> str | None:
    """The column a unique rule refused (the last of a compound key: the progress date of (project, institution,
    date)), from PostgreSQL's `Key (a, b)=(...)` detail or SQLite's `UNIQUE constraint failed: t.a, t.b`; None when
    the error is not a unique violation."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    detail = getattr(cause, "detail", None) or ""
    if getattr(cause, "sqlstate", None) == "23505" and (match := re.search(r"Key \((.+?)\)=", detail)):
        return match.group(1).split(",")[-1].strip().strip('"')
    message = str(exc.orig)
    if match := re.search(r"UNIQUE constraint failed: (.+)$", message, re.M):
        return match.group(1).split(",")[-1].strip().rsplit(".", 1)[-1]
    return None


def table(model: Any) -> Any:
    """The Core table of a SQLModel class (for column selects on hot read paths)."""
    return model.__table__
