"""Benchmark: a web server's /health latency while twenty reports are rendered, by a `coop worker` or by itself.

    uv run python bench/worker_health.py [--reports 20] [--kind portfolio] [--period 2025-W47] [--language vi]

Uses the database of bench/agreements_api.py (100,000 agreements and the demo world on PostgreSQL). Serves the app
(one uvicorn worker), signs in, asks for the reports through the API, and drives `/health` with wrk while they
render, until every one is ready: first with a `coop worker` running (the web server only builds each report's HTML
and queues it), then without (the web server renders them in its own process pool). Prints the reports' pages and
the p50/p99 of /health in each case. Not a test: numbers depend on the machine.
"""

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agreements_api import ADMIN_DSN, DB_NAME, ROOT, prepare, serve

PORT = 8121
PERIOD = "2025-11"


def client() -> httpx.Client:
    session = httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=120)
    session.get("/login")
    signed = session.post(
        "/login",
        data={"email": "director@demo.libcoop.test", "password": "libcoop-demo-2025", "_csrf_token": session.cookies["coop_csrf"]},
    )
    assert signed.status_code == 303, signed.text[:300]
    return session


def scope_of(session: httpx.Client, kind: str) -> dict[str, str]:
    if kind == "partner":
        found = session.get("/api/v1/institutions", params={"q": "NLC"}).json()["items"]
        return {"scope_id": next(i["id"] for i in found if i["code"] == "NLC")}
    return {"period": PERIOD}


def wrk_health(stop: threading.Event, out: list[str]) -> None:
    """wrk on /health in 5-second rounds until `stop`: each round's p50 and p99."""
    while not stop.is_set():
        done = subprocess.run(
            ["wrk", "-t1", "-c4", "-d5s", "--latency", f"http://127.0.0.1:{PORT}/health"], capture_output=True, text=True, check=True
        ).stdout
        out.append(done)


def percentiles(outputs: list[str]) -> str:
    def worst(label: str) -> str:
        values = []
        for output in outputs:
            found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", output, re.MULTILINE)
            if found:
                value, unit = float(found.group(1)), found.group(2)
                values.append(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value)
        return f"{max(values):.1f} ms" if values else "?"

    return f"p50 {worst('50')}, p99 {worst('99')} (the worst 5-second round)"


def run(label: str, session: httpx.Client, args: argparse.Namespace) -> None:
    rounds: list[str] = []
    stop = threading.Event()
    baseline: list[str] = []
    stop_baseline = threading.Event()
    wrk_once = threading.Thread(target=wrk_health, args=(stop_baseline, baseline))
    wrk_once.start()
    time.sleep(1)
    stop_baseline.set()
    wrk_once.join()
    watcher = threading.Thread(target=wrk_health, args=(stop, rounds))
    watcher.start()
    started = time.perf_counter()
    runs = []
    for _ in range(args.reports):
        asked = session.post(
            "/api/v1/reports",
            json={"kind": args.kind, "language": args.language, **scope_of(session, args.kind)},
            headers={"x-csrf-token": session.cookies["coop_csrf"]},
        )
        assert asked.status_code == 202, asked.text[:300]
        runs.append(asked.json()["id"])
    pages = []
    for run_id in runs:
        while (run := session.get(f"/api/v1/reports/{run_id}").json())["status"] in ("queued", "rendering"):
            time.sleep(0.5)
        assert run["status"] == "ready", run
        pages.append(run["pages"])
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    print(f"{label}: {len(runs)} reports of {min(pages)}–{max(pages)} pages ready in {elapsed:.1f} s")
    print(f"  /health idle:      {percentiles(baseline)}")
    print(f"  /health rendering: {percentiles(rounds)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=20)
    parser.add_argument("--kind", default="portfolio")
    parser.add_argument("--language", default="vi")
    parser.add_argument("--period", default="2025-W47", help="of a portfolio report (2025-W47: 43 pages on the bench database)")
    args = parser.parse_args()
    global PERIOD
    PERIOD = args.period
    base = ADMIN_DSN.rsplit("/", 1)[0]
    env = {**os.environ, "COOP_DATABASE_URL": f"{base}/{DB_NAME}", "COOP_LOG_LEVEL": "WARNING", "COOP_SCHEDULER": "0"}
    prepare(f"{base}/{DB_NAME}", 100_000, env)
    web = serve("cooperation.app:create_app", PORT, env, factory=True)
    try:
        session = client()
        worker = subprocess.Popen(["uv", "run", "--frozen", "coop", "worker"], cwd=ROOT, env=env)
        time.sleep(5)  # its first beat
        try:
            run("with a coop worker", session, args)
        finally:
            worker.terminate()
            worker.wait()
        time.sleep(1)
        run("web server alone", session, args)
    finally:
        web.terminate()
        web.wait()


if __name__ == "__main__":
    main()
