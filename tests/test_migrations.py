"""Alembic owns the schema: an empty database migrates to head, matches the models exactly, and goes back down."""

import asyncio
import uuid

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from cooperation import migrate
from cooperation.db import create_engine
from tests.conftest import PG_ADMIN_DSN


def _diff(url: str) -> list:
    async def run() -> list:
        engine = create_engine(url)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata)
            )
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        await engine.dispose()
        return [diff, tables]

    return asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path, database_urls):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    if "postgresql" not in database_urls:
        pytest.skip("PostgreSQL not reachable")
    name = f"libcoop_migr_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        await conn.execute(sql)
        await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_upgrade_from_empty_has_no_drift_and_downgrades(empty_database):
    migrate.upgrade(empty_database)
    diff, tables = _diff(empty_database)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert {"agreement", "agreement_party", "commitment", "institution", "person", "app_user", "audit_event", "attachment"} <= set(tables)
    migrate.downgrade(empty_database, "base")
    _, tables = _diff(empty_database)
    assert set(tables) <= {"alembic_version"}
    migrate.upgrade(empty_database)
