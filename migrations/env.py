"""Alembic environment: async engines, batch mode (so SQLite can alter tables), every model imported."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from cooperation.app import import_all_models
from cooperation.db import create_engine, include_object
from cooperation.settings import Settings

import_all_models()
target_metadata = SQLModel.metadata
config = context.config


def database_url() -> str:
    return config.attributes.get("database_url") or Settings.from_env().database_url


def configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=False,
        include_object=include_object,
    )


def run_offline() -> None:
    configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


MIGRATION_LOCK = 0x4C6962436F6F71  # two `coop db upgrade` at once (two servers starting): one migrates, the other waits


async def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_url())
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Session-level, so it outlasts the migration's transaction; the other process waits here, then finds the
            # version table at head and has nothing to do.
            await conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            await conn.commit()
        else:
            # SQLite alters a table by copying it: with foreign keys enforced, dropping the old copy of a table others
            # point at fails. Off for the migration (it must be set outside a transaction), checked after.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        try:
            await conn.run_sync(_run)
            await conn.commit()
            if conn.dialect.name == "sqlite":
                broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
        finally:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                await conn.commit()
            else:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
