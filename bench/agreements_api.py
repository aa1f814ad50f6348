"""Benchmark: the agreements API (signed in, real app) against a bare asyncpg handler, on PostgreSQL.

    uv run python bench/agreements_api.py [--agreements 100000] [--duration 10] [--connections 32]

Loads `coop demo load --scale N` into its own database (once; reused on later runs), serves each app
with one uvicorn worker on loopback in turn, drives them with wrk (Debian package) and prints both
throughputs and their ratio. Not a test: numbers depend on the machine.
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "libcoop_bench"


async def agreement_count(dsn: str) -> int:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'CREATE DATABASE "{DB_NAME}"')
        await admin.close()
        return 0
    try:
        return int(await conn.fetchval("SELECT count(*) FROM agreement"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


def prepare(dsn: str, wanted: int, env: dict[str, str]) -> None:
    have = asyncio.run(agreement_count(dsn))
    if have:  # a database from an earlier run: bring its schema up to date first
        subprocess.run(["uv", "run", "--frozen", "coop", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    if have >= wanted:
        print(f"database {DB_NAME}: {have} agreements (reused)")
        return
    if have:
        sys.exit(f"{DB_NAME} holds {have} agreements, fewer than {wanted}: drop it first (dropdb {DB_NAME})")
    started = time.perf_counter()
    subprocess.run(["uv", "run", "--frozen", "coop", "demo", "load", "--scale", str(wanted // 10)], cwd=ROOT, env=env, check=True)
    print(f"generated {wanted} agreements in {time.perf_counter() - started:.1f} s")
    subprocess.run(["psql", ADMIN_DSN.rsplit("/", 1)[0] + f"/{DB_NAME}", "-qc", "VACUUM ANALYZE"], check=True)


def serve(target: str, port: int, env: dict[str, str], factory: bool) -> subprocess.Popen[bytes]:
    command = [
        "uv",
        "run",
        "--frozen",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/agreements", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"{target} did not start")


def sign_in(port: int) -> str:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        client.get("/login")
        token = client.cookies["coop_csrf"]
        response = client.post(
            "/login", data={"email": "coordinator@demo.libcoop.test", "password": "libcoop-demo-2025", "_csrf_token": token}
        )
        assert response.status_code == 303, response.text
        session = client.cookies["coop_session"]
        check = client.get("/api/v1/agreements?per_page=50")
        assert check.status_code == 200 and len(check.json()["items"]) == 50, check.text[:200]
        return session


def load(url: str, duration: int, connections: int, cookie: str | None) -> float:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: coop_session={cookie}"]
    warm_up = ["wrk", "-t1", "-c4", "-d2s", *(["-H", f"Cookie: coop_session={cookie}"] if cookie else []), url]
    subprocess.run(warm_up, check=True, capture_output=True)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in output:
        sys.exit(f"errors under load:\n{output}")
    latency = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    print(f"  {url}: {rate:.0f} req/s, p99 {latency.group(1) if latency else '?'}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    base = ADMIN_DSN.rsplit("/", 1)[0]
    env = {**os.environ, "COOP_DATABASE_URL": f"{base}/{DB_NAME}", "BENCH_ASYNCPG_DSN": f"{base}/{DB_NAME}", "COOP_LOG_LEVEL": "WARNING"}
    prepare(f"{base}/{DB_NAME}", args.agreements, env)

    print("real app (signed in, access filter, column selects into structs):")
    app = serve("cooperation.app:create_app", 8101, env, factory=True)
    try:
        real = load("http://127.0.0.1:8101/api/v1/agreements?per_page=50", args.duration, args.connections, sign_in(8101))
    finally:
        app.terminate()
        app.wait()
    print("bare asyncpg handler (same SQL):")
    bare_app = serve("bench.baseline_app:app", 8102, env, factory=False)
    try:
        bare = load("http://127.0.0.1:8102/api/v1/agreements", args.duration, args.connections, None)
    finally:
        bare_app.terminate()
        bare_app.wait()
    print(f"ratio real / bare: {real / bare:.2f}  (target ≥ 0.50)")


if __name__ == "__main__":
    main()
