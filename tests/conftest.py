"""Real parts: SQLite and PostgreSQL (every database test runs on both), the real app over ASGI."""

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from cooperation import migrate
from cooperation.app import create_app, import_all_models
from cooperation.auth.access import Principal, Role
from cooperation.auth.services import create_user, principal_cache, principal_of
from cooperation.partners.models import Institution
from cooperation.records import fold_for_search
from cooperation.settings import Settings

import_all_models()

PG_ADMIN_DSN = os.environ.get("COOP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery"


def _pg_available() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 at its production cost takes 0.2 s a hash and as long to verify: with five accounts per test and a
    sign-in per client that was about 7 of the suite's 18 minutes. Tests use the same algorithm at its lowest cost."""
    from argon2 import PasswordHasher

    from cooperation.auth import services as auth_services

    production = auth_services._hasher
    auth_services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth_services._hasher = production


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for the whole session; tests empty the tables they use."""
    urls = {}
    sqlite_path = tmp_path_factory.mktemp("sqlite") / "test.db"
    urls["sqlite"] = f"sqlite+aiosqlite:///{sqlite_path}"
    migrate.upgrade(urls["sqlite"])
    pg_name = None
    if _pg_available():
        pg_name = f"libcoop_test_{uuid.uuid4().hex[:10]}"

        async def create() -> None:
            conn = await asyncpg.connect(PG_ADMIN_DSN)
            await conn.execute(f'CREATE DATABASE "{pg_name}"')
            await conn.close()

        asyncio.run(create())
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        urls["postgresql"] = f"{base}/{pg_name}"
        migrate.upgrade(urls["postgresql"])
    elif os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: CI must test against it", pytrace=False)
    yield urls
    if pg_name:

        async def drop() -> None:
            conn = await asyncpg.connect(PG_ADMIN_DSN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await conn.close()

        asyncio.run(drop())


@contextlib.contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """An empty database of its own on the shared server (dropped after), as a SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        await conn.execute(sql)
        await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class ObjectStore:
    """An S3-compatible server on loopback (moto's standalone server) for the tests of the object-store backend."""

    endpoint: str

    def bucket(self) -> str:
        """A new, empty bucket."""
        import boto3

        name = f"libcoop-{uuid.uuid4().hex[:12]}"
        client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        client.create_bucket(Bucket=name)
        return name

    def settings(self, settings: Settings, prefix: str = "libcoop") -> Settings:
        """`settings` storing files in a new bucket of this server."""
        from dataclasses import replace

        return replace(
            settings,
            storage_url=f"s3://{self.bucket()}/{prefix}",
            s3_endpoint=self.endpoint,
            s3_region="us-east-1",
            s3_access_key="test",
            s3_secret_key="test",
        )


@pytest.fixture(scope="session")
def object_store() -> Iterator[ObjectStore]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield ObjectStore(f"http://{host}:{port}")
    finally:
        server.stop()


LOOPBACK = ("127.0.0.0/8", "::1/128")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, database_urls: dict[str, str]) -> str:
    if request.param not in database_urls:
        pytest.skip("PostgreSQL not reachable (set CI=1 to make this a failure)")
    return request.param


@pytest.fixture
def settings(backend: str, database_urls: dict[str, str], tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        secret_key="test-secret-" + "x" * 40,
        database_url=database_urls[backend],
        data_dir=tmp_path,
        upload_max_bytes=64 * 1024,
        log_level="WARNING",
        outbound_allowed=LOOPBACK,  # the tests' receivers, streams and instances listen on loopback, and only there
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    application = create_app(settings)
    factory = application.state.session_factory
    async with factory() as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name != "alembic_version":
                await session.execute(delete(table))
        await session.commit()
    yield application
    await application.state.reports.drain()
    application.state.reports.close()  # the PDF worker processes, when a test started them
    await application.state.engine.dispose()


@pytest.fixture
async def db(app: Litestar) -> AsyncIterator[AsyncSession]:
    async with app.state.session_factory() as session:
        yield session


@dataclass
class World:
    """Institutions and one user per role: partner_a works at NLC, partner_b at BNF."""

    home: uuid.UUID
    nlc: uuid.UUID
    bnf: uuid.UUID
    ndl: uuid.UUID
    users: dict[str, str]
    principals: dict[str, Principal]


async def add_institution(db: AsyncSession, code: str, name: str, country: str, native: str | None = None, home: bool = False) -> uuid.UUID:
    institution = Institution(
        code=code, name=name, name_native=native, country=country, is_home=home, search_text=fold_for_search(code, name, native)
    )
    db.add(institution)
    await db.flush()
    return institution.id


@pytest.fixture
async def world(db: AsyncSession) -> World:
    home = await add_institution(db, "NLV", "National Library of Vietnam", "VN", "Thư viện Quốc gia Việt Nam", home=True)
    nlc = await add_institution(db, "NLC", "National Library of China", "CN", "中国国家图书馆")
    bnf = await add_institution(db, "BNF", "National Library of France", "FR", "Bibliothèque nationale de France")
    ndl = await add_institution(db, "NDL", "National Diet Library", "JP", "国立国会図書館")
    users = {}
    principals = {}
    for key, role, institution in [
        ("admin", Role.ADMIN, home),
        ("coordinator", Role.COORDINATOR, home),
        ("director", Role.DIRECTOR, home),
        ("partner_a", Role.PARTNER, nlc),
        ("partner_b", Role.PARTNER, bnf),
    ]:
        email = f"{key}@example.org"
        user = await create_user(
            db, None, email=email, name=key.replace("_", " ").title(), role=role, password=PASSWORD, institution_id=institution
        )
        users[key] = email
        principals[key] = principal_of(user)
    await db.commit()
    return World(home=home, nlc=nlc, bnf=bnf, ndl=ndl, users=users, principals=principals)


class Client:
    """A browser-like client: keeps cookies, sends the CSRF token with every unsafe request."""

    def __init__(self, raw: httpx.AsyncClient) -> None:
        self.raw = raw

    async def csrf(self) -> str:
        token = self.raw.cookies.get("coop_csrf")
        if not token:
            await self.raw.get("/login")
            token = self.raw.cookies.get("coop_csrf")
        assert token
        return token

    async def sign_in(self, email: str, password: str = PASSWORD) -> Any:
        token = await self.csrf()
        response = await self.raw.post("/login", data={"email": email, "password": password, "_csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303, response.text
        return response

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.raw.get(path, **kwargs)

    async def form(self, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
        payload = {**data, "_csrf_token": await self.csrf()}
        return await self.raw.post(path, data=payload, follow_redirects=False, **kwargs)

    async def api(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        headers = {"x-csrf-token": await self.csrf(), **kwargs.pop("headers", {})}
        return await self.raw.request(method, path, json=json, headers=headers, **kwargs)


def http_client(app: Litestar, client_address: str = "192.0.2.10") -> httpx.AsyncClient:
    """The app over ASGI in the test's own event loop (Litestar's AsyncTestClient runs it in another thread)."""
    transport = httpx.ASGITransport(app=app, client=(client_address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def anonymous(app: Litestar) -> AsyncIterator[Client]:
    async with http_client(app) as raw:
        yield Client(raw)


@pytest.fixture
async def client_for(app: Litestar, world: World) -> AsyncIterator[Any]:
    """`await client_for("coordinator")` gives a signed-in client for that role."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(role: str) -> Client:
            raw = await stack.enter_async_context(http_client(app))
            client = Client(raw)
            await client.sign_in(world.users[role])
            return client

        yield make


class QueryCounter:
    def __init__(self, app: Litestar) -> None:
        self.count = 0
        self.engine = app.state.engine.sync_engine

    def _on_execute(self, *args: Any) -> None:
        self.count += 1

    def __enter__(self) -> "QueryCounter":
        principal_cache.clear()  # count the session lookup too, every time
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


def csrf_field(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


@pytest.fixture
async def people(client_for, world):
    """The people of the seed story (../shared/seed): two NLC experts, the NLV director and deputy director."""
    coordinator = await client_for("coordinator")
    made = {}
    for key, name, native, institution, position in [
        ("rong", "Rong Jie", None, world.nlc, "Director, Department of Stacks Management and Reading Services"),
        ("luo", "Luo Chong", None, world.nlc, "Deputy Director, Department of Cooperation and Operations"),
        ("dung", "Nguyen Xuan Dung", "Nguyễn Xuân Dũng", world.home, "Director"),
        ("anh", "Nguyen Ngoc Anh", "Nguyễn Ngọc Anh", world.home, "Deputy Director"),
    ]:
        response = await coordinator.api(
            "POST", "/api/v1/people", json={"name": name, "name_native": native, "institution_id": str(institution), "position": position}
        )
        made[key] = response.json()["id"]
    return made


@pytest.fixture
async def story(client_for, world, people):
    """The seed visit (NLC → NLV, November 2025) under its agreement, and a BnF visit and agreement beside it."""
    from tests.agreements.helpers import agreement_payload
    from tests.exchanges.helpers import seed_visit_payload

    coordinator = await client_for("coordinator")
    nlc = (
        await coordinator.api(
            "POST",
            "/api/v1/agreements",
            json=agreement_payload(
                [world.home, world.nlc], reference="NLV-NLC-2025", signed_on="2025-04-09", title="Thỏa thuận hợp tác 合作协议"
            ),
        )
    ).json()
    bnf = (
        await coordinator.api(
            "POST", "/api/v1/agreements", json=agreement_payload([world.home, world.bnf], reference="NLV-BNF-2025", signed_on="2025-11-03")
        )
    ).json()
    payload = seed_visit_payload(world, people, agreement_id=nlc["id"])
    visit = (await coordinator.api("POST", "/api/v1/visits", json=payload)).json()
    other = (
        await coordinator.api(
            "POST",
            "/api/v1/visits",
            json=seed_visit_payload(
                world,
                people,
                title="Visite de la BnF à Hanoï",
                visiting_institution_id=str(world.bnf),
                starts_on="2025-11-10",
                ends_on="2025-11-12",
                participants=[{"person_id": people["anh"], "side": "host", "role": "chair"}],
                agenda=[],
            ),
        )
    ).json()
    return {"nlc": nlc, "bnf": bnf, "visit": visit, "bnf_visit": other}


@pytest.fixture
async def demo_app(app: Litestar) -> Litestar:
    """The app with the demo world loaded (the crawler's pages, the reports of a real-looking portfolio)."""
    from cooperation import demo
    from cooperation.app import demo_loaders

    await demo.load(app.state.session_factory, demo_loaders())
    return app
