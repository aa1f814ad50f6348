"""The `coop` command on a fresh SQLite database: migrate, load the demo world (once), create an admin."""

import asyncio

import pytest
from sqlalchemy import func, select

from agreements.models import Agreement, Commitment
from cooperation import cli
from cooperation.auth.models import User
from cooperation.db import create_engine, session_factory
from cooperation.partners.models import Institution, Person
from exchanges.models import Visit


def _count(url: str, model) -> int:
    async def run() -> int:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            value = await session.scalar(select(func.count()).select_from(model))
        await engine.dispose()
        return int(value or 0)

    return asyncio.run(run())


def test_demo_load_is_idempotent_and_tells_the_seed_story(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COOP_DATABASE_URL", url)
    monkeypatch.setenv("COOP_DATA_DIR", str(tmp_path))
    cli.main(["demo", "load"])
    cli.main(["demo", "load"])
    out = capsys.readouterr().out
    assert "demo world loaded" in out and "already present: nothing changed" in out
    async_url = url.replace("sqlite:///", "sqlite+aiosqlite:///")
    assert _count(async_url, Institution) == 7
    assert _count(async_url, Agreement) == 7
    assert _count(async_url, Visit) == 1

    async def seed_story() -> tuple:
        engine = create_engine(async_url)
        async with session_factory(engine)() as session:
            agreement = await session.scalar(select(Agreement).where(Agreement.reference == "NLV-NLC-2025"))
            people = set(await session.scalars(select(Person.name_native)))
            commitments = await session.scalar(select(func.count()).select_from(Commitment).where(Commitment.agreement_id == agreement.id))
        await engine.dispose()
        return agreement, people, commitments

    agreement, people, commitments = asyncio.run(seed_story())
    assert agreement.status == "in_force" and agreement.signed_on.isoformat().startswith("2025-04")
    assert {"Nguyễn Xuân Dũng", "Nguyễn Ngọc Anh"} <= people
    assert commitments == 5


def test_create_admin(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    monkeypatch.setenv("COOP_DATABASE_URL", url)
    cli.main(["db", "upgrade"])
    monkeypatch.setenv("COOP_ADMIN_PASSWORD", "a strong passphrase")
    cli.main(["users", "create-admin", "--email", "Admin@NLV.example", "--name", "Quản trị viên"])
    assert "administrator admin@nlv.example created" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="already in use"):
        cli.main(["users", "create-admin", "--email", "admin@nlv.example"])
    monkeypatch.setenv("COOP_ADMIN_PASSWORD", "short")
    with pytest.raises(SystemExit, match="at least 12 characters"):
        cli.main(["users", "create-admin", "--email", "other@nlv.example"])
    assert _count(url.replace("sqlite:///", "sqlite+aiosqlite:///"), User) == 1


def test_demo_mode_refuses_a_public_bind(monkeypatch):
    with pytest.raises(SystemExit, match="loopback"):
        cli.main(["serve", "--demo", "--host", "0.0.0.0"])
