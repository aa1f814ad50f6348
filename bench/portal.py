"""Benchmark: every public portal page at 100,000 agreements on PostgreSQL (the bar is 50 ms of server
time a page).

    uv run python bench/portal.py [--agreements 100000] [--repeat 25]

Uses the database of bench/agreements_api.py (generated once and reused). One in twenty synthetic agreements is
made public and the seed visit and project are published (idempotent UPDATEs: a library publishes a small part of
what it signs). Times each page through the real app in-process, signed out: the median with nothing kept (the
portal's cache emptied before each request: the queries and the rendering) and the median of requests within the
minute a page is kept (the rendering only), with the SQL statements an uncached request takes. Not a test: numbers
depend on the machine.
"""

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agreements_api import ADMIN_DSN, DB_NAME, prepare  # noqa: E402

PUBLISH = [
    "UPDATE agreement SET confidentiality = 'public' WHERE reference LIKE 'SYN-%' AND right(reference, 2) IN ('00', '20', '40', '60', '80')",  # noqa: E501
    "UPDATE agreement SET confidentiality = 'public' WHERE reference = 'NLV-NLC-2025'",
    "UPDATE visit SET public = true WHERE status = 'completed'",
    "UPDATE digitization_project SET public = true",
]


async def measure(database_url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ["COOP_DATABASE_URL"] = database_url
    os.environ.setdefault("COOP_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ["COOP_SCHEDULER"] = "0"
    os.environ["COOP_PORTAL"] = "on"
    from cooperation.app import create_app
    from cooperation.settings import Settings

    app = create_app(Settings.from_env())
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    results = []
    async with app.lifespan():
        async with app.state.engine.begin() as connection:
            for statement in PUBLISH:
                await connection.execute(text(statement))
            public = (await connection.execute(text("SELECT count(*) FROM agreement WHERE confidentiality = 'public'"))).scalar()
            visit = (await connection.execute(text("SELECT id FROM visit WHERE public LIMIT 1"))).scalar()
        print(f"  {public:,} public agreements")
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        pages = ["/portal", "/portal/agreements", "/portal/agreements?page=50", "/portal/visits", "/portal/projects", "/portal/partners"]
        pages += [f"/portal/visits/{visit}", "/portal/feed.atom", "/portal/map.svg"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            await client.get("/login")  # the connection pool warmed
            for page in pages:
                await client.get(page, headers={"Accept-Encoding": "gzip"})  # templates compiled, pool warm
                cold, kept = [], []
                for _ in range(repeat):
                    app.state.portal_cache = None  # nothing kept: the first reader's time
                    statements = 0
                    started = time.perf_counter()
                    response = await client.get(page, headers={"Accept-Encoding": "gzip"})
                    cold.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (page, response.status_code, response.text[:300])
                    uncached_statements = statements
                    started = time.perf_counter()
                    await client.get(page, headers={"Accept-Encoding": "gzip"})
                    kept.append((time.perf_counter() - started) * 1000)
                results.append((page, statistics.median(cold), statistics.median(kept), uncached_statements))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()
    pg_dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{DB_NAME}"
    pg_url = pg_dsn.replace("postgresql://", "postgresql+asyncpg://")
    prepare(pg_dsn, args.agreements, {**os.environ, "COOP_DATABASE_URL": pg_url})
    print(f"\nPostgreSQL, {args.agreements:,} agreements: the public portal, signed out (server time)")
    rows = asyncio.run(measure(pg_url, args.repeat))
    print(f"  {'page':58} {'uncached ms':>11} {'kept ms':>8} {'SQL statements':>15}")
    for page, cold, kept, statements in rows:
        print(f"  {page:58} {cold:11.1f} {kept:8.1f} {statements:15}")


if __name__ == "__main__":
    main()
