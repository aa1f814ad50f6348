"""Benchmark: the digitization project page with 200 participants and five years of monthly reports (12,000), on PostgreSQL.

    uv run python bench/project_page.py [--participants 200] [--months 60] [--runs 30]

Builds its own database once (reused on later runs), signs in a coordinator and requests the page in-process
(ASGI, no network), then prints the median and 95th percentile of the whole page, of the service call that
gathers its values, and of the chart. Not a test: numbers depend on the machine.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import date

import asyncpg
import httpx
from sqlalchemy import func, insert, select

from cooperation import migrate
from cooperation.app import create_app
from cooperation.auth.access import Role
from cooperation.auth.models import User
from cooperation.auth.services import create_user, principal_of
from cooperation.db import create_engine, session_factory
from cooperation.partners.models import Institution
from cooperation.settings import Settings
from programs import chart, project_services
from programs.models import DigitizationProject, ProgressReport, ProjectParticipant

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "libcoop_bench_projects"
PASSWORD = "bench-password-1"


async def ensure_database() -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB_NAME):
            await admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await admin.close()


async def build(url: str, participants: int, months: int) -> uuid.UUID:
    engine = create_engine(url)
    factory = session_factory(engine)
    async with factory() as session:
        existing = await session.scalar(select(DigitizationProject.id).where(DigitizationProject.name == f"Bench {participants}x{months}"))
        if existing is not None:
            await engine.dispose()
            return existing
        if await session.scalar(select(func.count()).select_from(Institution).where(Institution.is_home.is_(True))) == 0:
            session.add(Institution(code="HOME", name="Home library", country="VN", kind="national_library", is_home=True))
            await create_user(session, None, email="bench@example.org", name="Bench", role=Role.COORDINATOR, password=PASSWORD)
        rows = [
            {"id": uuid.uuid4(), "code": f"B{participants}-{n:03d}", "name": f"Library {n}", "country": "CN", "kind": "public_library"}
            for n in range(participants)
        ]
        await session.execute(insert(Institution), rows)
        project = DigitizationProject(name=f"Bench {participants}x{months}", lead_institution_id=rows[0]["id"], starts_on=date(2021, 1, 1))
        session.add(project)
        await session.flush()
        await session.execute(
            insert(ProjectParticipant),
            [
                {
                    "id": uuid.uuid4(),
                    "project_id": project.id,
                    "institution_id": r["id"],
                    "role": "contributor",
                    "target_volumes": 5000,
                    "position": i,
                }
                for i, r in enumerate(rows)
            ],
        )
        days = [date(2021 + m // 12, m % 12 + 1, 28) for m in range(months)]
        await session.execute(
            insert(ProgressReport),
            [
                {
                    "id": uuid.uuid4(),
                    "project_id": project.id,
                    "institution_id": r["id"],
                    "as_of": day,
                    "volumes": (m + 1) * 60 + n,
                    "titles": (m + 1) * 6,
                    "source": "csv",
                    "reported_by_name": "Bench",
                }
                for n, r in enumerate(rows)
                for m, day in enumerate(days)
            ],
        )
        await session.commit()
        project_id = project.id
    await engine.dispose()
    return project_id


def summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name:<14} median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    await ensure_database()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"
    await asyncio.to_thread(migrate.upgrade, url)  # Alembic runs its own event loop
    project_id = await build(url, args.participants, args.months)
    settings = Settings(environment="test", secret_key="bench-" + "s" * 40, database_url=url, log_level="WARNING")
    app = create_app(settings)
    page, service, drawing = [], [], []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        await client.get("/login")
        token = client.cookies["coop_csrf"]
        signed = await client.post("/login", data={"email": "bench@example.org", "password": PASSWORD, "_csrf_token": token})
        assert signed.status_code in (200, 303), signed.text
        for _ in range(args.runs):
            started = time.perf_counter()
            response = await client.get(f"/projects/{project_id}")
            page.append(time.perf_counter() - started)
            assert response.status_code == 200
        factory = app.state.session_factory
        async with factory() as session:
            user = (await session.execute(select(User).where(User.email == "bench@example.org"))).scalar_one()
            principal = principal_of(user)
            for _ in range(args.runs):
                started = time.perf_counter()
                read = await project_services.get_project(session, principal, project_id)
                service.append(time.perf_counter() - started)
                started = time.perf_counter()
                chart.progress_svg(read.series, read.main_unit, read.target.volumes, title="Volumes")
                drawing.append(time.perf_counter() - started)
    print(f"project page, {args.participants} participants × {args.months} monthly reports ({len(response.content):,} bytes of HTML)")
    print(summary("whole page", page))
    print(summary("get_project", service))
    print(summary("chart", drawing))


if __name__ == "__main__":
    asyncio.run(main())
