"""Alembic owns the schema: an empty database migrates to head, matches the models exactly, and goes back down."""

import asyncio
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from cooperation import migrate
from cooperation.db import create_engine, include_object
from tests.conftest import fresh_pg_database


def _diff(url: str) -> list:
    async def run() -> list:
        engine = create_engine(url)
        opts = {"compare_type": True, "include_object": include_object}  # PostgreSQL-only indexes are the migrations' own
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync, opts=opts), SQLModel.metadata))
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
    with fresh_pg_database("libcoop_migr") as url:
        yield url


def test_upgrade_from_empty_has_no_drift_and_downgrades(empty_database):
    migrate.upgrade(empty_database)
    diff, tables = _diff(empty_database)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert {"agreement", "agreement_party", "commitment", "institution", "person", "app_user", "audit_event", "attachment"} <= set(tables)
    migrate.downgrade(empty_database, "base")
    _, tables = _diff(empty_database)
    assert set(tables) <= {"alembic_version"}
    migrate.upgrade(empty_database)


# ---- every migration, down and up again, on a database with rows in every table -------------


def _value(column):
    """A plausible value of a column's type (for rows made only to be migrated)."""
    import datetime as dt
    import decimal

    from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Numeric, String, Text, Time, TypeDecorator, Uuid

    kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, Uuid):
        return uuid.uuid4()
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, Numeric):
        return decimal.Decimal("1")
    if isinstance(kind, DateTime):
        return dt.datetime.now(dt.UTC)
    if isinstance(kind, Date):
        return dt.date(2025, 1, 1)
    if isinstance(kind, Time):
        return dt.time(8, 0)
    if isinstance(kind, JSON):
        return []
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 40
        return uuid.uuid4().hex[: min(length, 32)]
    raise AssertionError(f"no value for {column.table.name}.{column.name} ({kind!r})")


def _fill_every_table(url: str) -> dict[str, int]:
    """The demo world, then one row of plausible values in each table it leaves empty (foreign keys point at rows
    that exist). Returns the row count of every table."""
    from sqlalchemy import func, insert, select

    from cooperation import demo
    from cooperation.app import demo_loaders
    from cooperation.db import session_factory

    async def run() -> dict[str, int]:
        engine = create_engine(url)
        await demo.load(session_factory(engine), demo_loaders())
        counts = {}
        async with engine.begin() as conn:
            for table in SQLModel.metadata.sorted_tables:
                if await conn.scalar(select(func.count()).select_from(table)) == 0:
                    row = {}
                    for column in table.columns:
                        if column.foreign_keys:
                            target = next(iter(column.foreign_keys)).column
                            row[column.name] = await conn.scalar(select(target).limit(1))
                        elif column.nullable and not column.primary_key:
                            row[column.name] = None
                        else:
                            row[column.name] = _value(column)
                    await conn.execute(insert(table).values(**row))
                counts[table.name] = await conn.scalar(select(func.count()).select_from(table))
        await engine.dispose()
        return counts

    return asyncio.run(run())


def test_every_migration_goes_down_and_up_again_on_a_populated_database(empty_database):
    from alembic.script import ScriptDirectory

    migrate.upgrade(empty_database)
    counts = _fill_every_table(empty_database)
    empty = sorted(name for name, n in counts.items() if n == 0)
    assert not empty, f"tables left empty: {empty}"
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_database))
    revisions = list(script.walk_revisions())  # head first
    for revision in revisions:
        below = revision.down_revision or "base"
        migrate.downgrade(empty_database, below)  # down one step with data in every table still there
        migrate.upgrade(empty_database, revision.revision)  # and up again
        migrate.downgrade(empty_database, below)  # then on down, to try the next one with what is left
    migrate.upgrade(empty_database)
    diff, _ = _diff(empty_database)
    assert diff == []


def test_visit_gifts_become_register_entries_without_loss(empty_database):
    """Issue 15: the gifts a visit recorded are entries of the gift register after the upgrade, each with its visit,
    direction, description and order, dated the visit's first day, from and to the right institutions."""
    import datetime as dt

    import sqlalchemy as sa

    migrate.upgrade(empty_database, "70926fb5d292")  # the revision before the register
    ids = {name: uuid.uuid4() for name in ("nlv", "nlc", "visit", "given", "received")}
    visit_gift = sa.table(
        "visit_gift",
        *(sa.column(n, sa.Uuid()) for n in ("id", "visit_id")),
        sa.column("direction"),
        sa.column("description"),
        sa.column("position"),
    )

    def insert(table, existing, **given):
        """An INSERT of the model's columns that the table had at that revision (later migrations add others)."""
        columns = [c for c in table.columns if c.name in existing]
        values = {c.name: given[c.name] if c.name in given else (None if c.nullable else _value(c)) for c in columns}
        return sa.insert(sa.table(table.name, *(sa.column(c.name, c.type) for c in columns))).values(values)

    async def seed() -> None:
        engine = create_engine(empty_database)
        institution, visit = SQLModel.metadata.tables["institution"], SQLModel.metadata.tables["visit"]
        async with engine.begin() as conn:
            existing = {
                name: {c["name"] for c in await conn.run_sync(lambda sync, name=name: sa.inspect(sync).get_columns(name))}
                for name in ("institution", "visit")
            }
            for key, code in (("nlv", "NLV"), ("nlc", "NLC")):
                await conn.execute(insert(institution, existing["institution"], id=ids[key], code=code, is_home=key == "nlv"))
            sides = {"host_institution_id": ids["nlv"], "visiting_institution_id": ids["nlc"]}
            days = {"starts_on": dt.date(2025, 11, 26), "ends_on": dt.date(2025, 11, 29)}
            await conn.execute(insert(visit, existing["visit"], id=ids["visit"], direction="incoming", **sides, **days))
            for position, (key, direction, text) in enumerate(
                (("given", "given", "Sơn mài"), ("received", "received", "《永乐大典》影印本"))
            ):
                await conn.execute(
                    sa.insert(visit_gift).values(
                        id=ids[key], visit_id=ids["visit"], direction=direction, description=text, position=position
                    )
                )
        await engine.dispose()

    async def entries() -> list:
        engine = create_engine(empty_database)
        gift = SQLModel.metadata.tables["gift"]
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(gift).order_by(gift.c.position))).mappings().all()
        await engine.dispose()
        return [dict(r) for r in rows]

    asyncio.run(seed())
    migrate.upgrade(empty_database)
    given, received = asyncio.run(entries())
    assert (given["id"], given["visit_id"], given["direction"], given["description"]) == (ids["given"], ids["visit"], "given", "Sơn mài")
    assert (given["giver_institution_id"], given["recipient_institution_id"]) == (ids["nlv"], ids["nlc"])
    assert (received["description"], received["position"]) == ("《永乐大典》影印本", 1)
    assert (received["giver_institution_id"], received["recipient_institution_id"]) == (ids["nlc"], ids["nlv"])
    assert given["given_on"] == received["given_on"] == dt.date(2025, 11, 26)
    assert given["search_text"] == "son mai" and given["archived_at"] is None and given["version"] == 1
    # and back down: the visit keeps its gifts
    migrate.downgrade(empty_database, "70926fb5d292")

    async def old_rows() -> list:
        engine = create_engine(empty_database)
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(visit_gift.c.description).order_by(visit_gift.c.position))).scalars().all()
        await engine.dispose()
        return list(rows)

    assert asyncio.run(old_rows()) == ["Sơn mài", "《永乐大典》影印本"]
    migrate.upgrade(empty_database)


def _upgrade_when_released(url: str, barrier, errors) -> None:
    from cooperation import migrate as migrate_

    barrier.wait(timeout=120)  # every process has Alembic and the models loaded: they start the same instant
    try:
        migrate_.upgrade(url)
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {str(exc)[:300]}")


def test_upgrades_at_once_on_an_empty_database_all_succeed(empty_database):
    """Servers starting together each run `coop db upgrade`: one migrates, the others wait."""
    import multiprocessing

    if empty_database.startswith("sqlite"):
        pytest.skip("one process writes a SQLite file at a time; the race is PostgreSQL's")
    spawn = multiprocessing.get_context("spawn")
    barrier, errors = spawn.Barrier(3), spawn.Queue()
    processes = [spawn.Process(target=_upgrade_when_released, args=(empty_database, barrier, errors)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not failures and [p.exitcode for p in processes] == [0, 0, 0], failures
    diff, _ = _diff(empty_database)
    assert diff == []
