"""Benchmark: the home page (the director's briefing, the coordinator's with the work queue) at 100,000 agreements,
on PostgreSQL (the bar is 150 ms of server time).

    uv run python bench/briefing.py [--agreements 100000] [--repeat 25]

Uses the database of bench/agreements_api.py (`coop demo load --scale N`, generated once and reused), signs in as the
demo director and coordinator through the real app in-process (so the time is the server's, no network) and times
`GET /`: median and 90th percentile, and the number of SQL statements one page takes. Not a test: numbers depend on
the machine.
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
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agreements_api import ADMIN_DSN, DB_NAME, prepare  # noqa: E402


async def measure(database_url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ["COOP_DATABASE_URL"] = database_url
    os.environ.setdefault("COOP_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ["COOP_SCHEDULER"] = "0"  # its daily jobs would run inside the timings (and count as the page's statements)
    from cooperation import demo
    from cooperation.app import create_app
    from cooperation.settings import Settings

    app = create_app(Settings.from_env())
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    results = []
    async with app.lifespan():
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        for role in ("director", "coordinator"):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
                await client.get("/login")
                signed = await client.post(
                    "/login",
                    data={
                        "email": f"{role}@{demo.DEMO_DOMAIN}",
                        "password": demo.DEMO_PASSWORD,
                        "_csrf_token": client.cookies["coop_csrf"],
                    },
                )
                assert signed.status_code in (302, 303), signed.text[:300]
                timings = []
                for _ in range(repeat + 2):
                    statements = 0
                    started = time.perf_counter()
                    response = await client.get("/")
                    timings.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200 and "in numbers" in response.text, response.text[:300]
                timings = sorted(timings[2:])  # the first two warm caches and the connection pool
                results.append((role, statistics.median(timings), timings[int(len(timings) * 0.9) - 1], statements))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()
    pg_dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{DB_NAME}"
    pg_url = pg_dsn.replace("postgresql://", "postgresql+asyncpg://")
    prepare(pg_dsn, args.agreements, {**os.environ, "COOP_DATABASE_URL": pg_url})
    print(f"\nPostgreSQL, {args.agreements:,} agreements: GET / (server time)")
    print(f"  {'who':12} {'median ms':>10} {'p90 ms':>8} {'SQL statements':>15}")
    for role, median, p90, statements in asyncio.run(measure(pg_url, args.repeat)):
        print(f"  {role:12} {median:10.1f} {p90:8.1f} {statements:15}")


if __name__ == "__main__":
    main()
