"""Benchmark: the agreements API served by one application server, then by two on the same machine and database.

    uv run python bench/two_servers.py [--agreements 100000] [--duration 10] [--connections 32]

Uses the database of bench/agreements_api.py (100,000 agreements on PostgreSQL, made once). One server gets all the
connections; then two servers (two `uvicorn` processes, one worker each) get half each, driven by two wrk processes
at once, and their throughputs are added. On a 2-core machine little gain is expected — the database, the two
servers and wrk share the cores — the point of two servers is that nothing breaks (tests/test_several_servers.py).
Not a test: numbers depend on the machine.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agreements_api import ADMIN_DSN, DB_NAME, prepare, serve, sign_in

URL = "http://127.0.0.1:{port}/api/v1/agreements?per_page=50"


def wrk(port: int, cookie: str, connections: int, duration: int) -> subprocess.Popen[str]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-H",
        f"Cookie: coop_session={cookie}",
        URL.format(port=port),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen[str]) -> tuple[float, str]:
    output, _ = process.communicate()
    if "Non-2xx" in output:
        sys.exit(f"errors under load:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    return rate, latency.group(1) if latency else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agreements", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    base = ADMIN_DSN.rsplit("/", 1)[0]
    env = {**os.environ, "COOP_DATABASE_URL": f"{base}/{DB_NAME}", "COOP_LOG_LEVEL": "WARNING", "COOP_SCHEDULER": "0"}
    prepare(f"{base}/{DB_NAME}", args.agreements, env)
    servers = [serve("cooperation.app:create_app", port, env, factory=True) for port in (8111, 8112)]
    try:
        cookie = sign_in(8111)  # a session in the database: good on either server
        for port in (8111, 8112):  # warm both
            subprocess.run(
                ["wrk", "-t1", "-c4", "-d2s", "-H", f"Cookie: coop_session={cookie}", URL.format(port=port)], capture_output=True
            )
        one, one_p99 = result(wrk(8111, cookie, args.connections, args.duration))
        print(f"one server:  {one:.0f} req/s (p99 {one_p99})")
        both = [wrk(port, cookie, args.connections // 2, args.duration) for port in (8111, 8112)]
        rates = [result(process) for process in both]
        two = sum(rate for rate, _ in rates)
        print(f"two servers: {two:.0f} req/s ({' + '.join(f'{r:.0f} (p99 {p})' for r, p in rates)})")
        print(f"ratio two / one: {two / one:.2f}")
    finally:
        for process in servers:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
