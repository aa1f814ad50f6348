"""Benchmark: search and alphabetical order at 100,000 agreements, on PostgreSQL and SQLite.

    uv run python bench/search.py [--agreements 100000] [--repeat 25] [--skip-sqlite]

Loads `coop demo load --scale N` (synthetic agreements titled in Vietnamese, Chinese and French beside English) into
its own PostgreSQL database and SQLite file (once; reused), then, signed in as the demo coordinator through the real
app in-process, times `GET /api/v1/agreements?q=…&per_page=50` for Vietnamese typed without its marks, Chinese
substrings of two and four characters, a French word, a rare reference and a word nobody wrote; and the list sorted
by title in Vietnamese and Chinese order (ICU). Prints the median and 90th percentile of each, and PostgreSQL's plan
for one search. Not a test: numbers depend on the machine.
"""

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agreements_api import ADMIN_DSN, DB_NAME, prepare  # noqa: E402

SQLITE_PATH = Path(os.environ.get("BENCH_SQLITE", "/tmp/libcoop_bench.sqlite3"))
SEARCHES = [
    ("Vietnamese, unmarked", {"q": "thu vien quoc gia"}),
    ("Vietnamese, 2 words", {"q": "hop tac"}),
    ("Chinese, 2 characters", {"q": "古籍"}),
    ("Chinese, 4 characters", {"q": "数字化合"}),
    ("French word", {"q": "patrimoniales"}),
    ("one reference", {"q": "SYN-0099990"}),
    ("nothing matches", {"q": "zzzqqq"}),
    ("sorted by title, vi", {"sort": "title", "_language": "vi"}),
    ("sorted by title, zh", {"sort": "title", "_language": "zh-CN"}),
]


async def measure(database_url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the table
    os.environ["COOP_DATABASE_URL"] = database_url
    os.environ.setdefault("COOP_SECRET_KEY", secrets.token_urlsafe(32))
    from cooperation import demo
    from cooperation.app import create_app
    from cooperation.settings import Settings

    app = create_app(Settings.from_env())
    results = []
    async with app.lifespan(), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        await client.get("/login")
        signed = await client.post(
            "/login",
            data={"email": f"coordinator@{demo.DEMO_DOMAIN}", "password": demo.DEMO_PASSWORD, "_csrf_token": client.cookies["coop_csrf"]},
        )
        assert signed.status_code in (302, 303), signed.text[:300]
        for label, params in SEARCHES:
            query = {k: v for k, v in params.items() if not k.startswith("_")} | {"per_page": 50}
            headers = {"Accept-Language": params.get("_language", "en")}
            timings, found = [], 0
            for _ in range(repeat + 2):
                started = time.perf_counter()
                response = await client.get("/api/v1/agreements", params=query, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text[:300]
                found = response.json()["total"]
            timings = sorted(timings[2:])  # the first two warm caches and the connection pool
            results.append((label, statistics.median(timings), timings[int(len(timings) * 0.9) - 1], found))
    return results


def report(name: str, results: list[tuple[str, float, float, int]]) -> None:
    print(f"\n{name}")
    print(f"  {'query':28} {'median ms':>10} {'p90 ms':>8} {'found':>8}")
    for label, median, p90, found in results:
        print(f"  {label:28} {median:10.1f} {p90:8.1f} {found:8}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()

    pg_dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{DB_NAME}"
    pg_url = pg_dsn.replace("postgresql://", "postgresql+asyncpg://")
    env = {**os.environ, "COOP_DATABASE_URL": pg_url}
    prepare(pg_dsn, args.agreements, env)
    subprocess.run(["uv", "run", "--frozen", "coop", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    plan = subprocess.run(
        ["psql", pg_dsn, "-Atc", "EXPLAIN ANALYZE SELECT count(*) FROM agreement WHERE search_text LIKE '%syn-0099990%'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    report(f"PostgreSQL, {args.agreements:,} agreements", asyncio.run(measure(pg_url, args.repeat)))
    print("  plan: " + "\n        ".join(line for line in plan.splitlines() if "Scan" in line or "Execution" in line))

    if not args.skip_sqlite:
        sqlite_url = f"sqlite+aiosqlite:///{SQLITE_PATH}"
        if not SQLITE_PATH.exists():
            started = time.perf_counter()
            senv = {**os.environ, "COOP_DATABASE_URL": sqlite_url}
            subprocess.run(["uv", "run", "--frozen", "coop", "db", "upgrade"], cwd=ROOT, env=senv, check=True, capture_output=True)
            load = ["uv", "run", "--frozen", "coop", "demo", "load", "--scale", str(args.agreements // 10)]
            subprocess.run(load, cwd=ROOT, env=senv, check=True)
            print(f"generated the SQLite file in {time.perf_counter() - started:.1f} s")
        report(f"SQLite, {args.agreements:,} agreements", asyncio.run(measure(sqlite_url, max(5, args.repeat // 5))))


if __name__ == "__main__":
    main()
