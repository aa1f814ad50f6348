"""Browser tests: the real app served by uvicorn on loopback, driven by Debian's headless Chromium."""

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Page, expect
from sqlalchemy import select, update

from cooperation import demo, migrate
from cooperation.app import create_app, demo_loaders
from cooperation.db import create_engine, session_factory
from cooperation.partners.models import Institution
from cooperation.settings import Settings

CHROMIUM = os.environ.get("COOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/test installs the Debian package", pytrace=False)
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo world on a fresh SQLite file, served on a free loopback port for the whole session."""
    settings = demo_settings(tmp_path_factory.mktemp("e2e"), "e2e", portal=True)  # the public portal's pages are crawled too
    with serving(settings) as base:
        yield base


def demo_settings(data_dir: Path, name: str, **extra: object) -> Settings:
    """Settings for an app of its own holding the demo world (a fresh SQLite file in `data_dir`)."""
    settings = migrated_settings(data_dir, name, **extra)

    async def seed() -> None:
        engine = create_engine(settings.database_url)
        await demo.load(session_factory(engine), demo_loaders())
        await engine.dispose()

    asyncio.run(seed())
    return settings


def migrated_settings(data_dir: Path, name: str, **extra: object) -> Settings:
    """Settings for an app of its own: a fresh SQLite file in `data_dir`, migrated to the latest schema."""
    settings = Settings(
        environment="test",
        secret_key=f"{name}-" + "s" * 40,
        database_url=f"sqlite+aiosqlite:///{data_dir / f'{name}.db'}",
        data_dir=data_dir,
        log_level="WARNING",
        **({"outbound_allowed": ("127.0.0.0/8", "::1/128")} | extra),  # type: ignore[arg-type]
    )
    migrate.upgrade(settings.database_url)
    return settings


@contextlib.contextmanager
def serving(settings: Settings, log_level: str = "warning") -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread with its own event loop: its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level=log_level, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def recipient_of(base_url: str) -> str:
    """The key id an instance publishes: what a signed request addressed to it names."""
    async with httpx.AsyncClient() as anyone:
        return str((await anyone.get(base_url + "/.well-known/libcoop")).json()["keys"][0]["id"])


def print_setup_code(settings: Settings) -> str:
    """The one-time setup code, as the operator reads it: `coop setup --print-code` run on the server."""
    import re
    import subprocess
    import sys

    env = os.environ | {"COOP_DATABASE_URL": settings.database_url, "COOP_DATA_DIR": str(settings.data_dir), "COOP_ENV": "test"}
    done = subprocess.run(
        [sys.executable, "-m", "cooperation.cli", "setup", "--print-code"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}", done.stdout)
    assert found, done.stdout
    return found.group(0)


async def sign_in(page: Page, base: str, who: str) -> None:
    """Sign in on the sign-in page as the demo account `who` (coordinator, director, partner.nlc…), as a person does."""
    await page.goto(f"{base}/login")
    await page.fill("#email", f"{who}@demo.libcoop.test")
    await page.fill("#password", demo.DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("header")).to_contain_text("Sign out")


def library_instance(data_dir: Path, name: str, home: str) -> tuple[Settings, dict[str, uuid.UUID]]:
    """The demo world in a database of its own, with `home` as the library that runs it (another library's instance,
    for the tests of two paired instances); the institutions' ids in that database, by code."""
    settings = migrated_settings(data_dir, name)

    async def seed() -> dict[str, uuid.UUID]:
        engine = create_engine(settings.database_url)
        await demo.load(session_factory(engine), demo_loaders())
        async with engine.begin() as connection:
            await connection.execute(update(Institution).values(is_home=False))
            await connection.execute(update(Institution).where(Institution.code == home).values(is_home=True))
            ids = {code: i for i, code in (await connection.execute(select(Institution.id, Institution.code))).all()}
        await engine.dispose()
        return ids

    return settings, asyncio.run(seed())
