"""Two `coop serve` processes, one `coop scheduler` and one `coop worker` on one PostgreSQL database and one S3-compatible
store, each server with a data directory of its own: a photo uploaded through one is served by the other, a
report asked on one is rendered by the worker and downloaded from the other, a minute of load across both gets no
5xx, and an account deactivated through one is refused by the other at once. Nothing process-local is shared:
sessions, rate limits, report runs and the invalidation of each process's principal cache go through the database,
files through the store."""

import asyncio
import io
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from cooperation import demo
from cooperation.settings import PROJECT_ROOT
from tests.conftest import Client, _pg_available, fresh_pg_database
from tests.e2e.conftest import _free_port

LOAD_SECONDS = float(os.environ.get("COOP_LOAD_SECONDS", "60"))

pytestmark = pytest.mark.skipif(not _pg_available(), reason="needs the PostgreSQL server")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "cooperation.cli", *command], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} stopped: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not become healthy: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, object_store) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("servers")
    with fresh_pg_database("libcoop_servers") as database_url:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "COOP_ENV": "test",
            "COOP_SECRET_KEY": "two-servers-" + "k" * 40,
            "COOP_DATABASE_URL": database_url,
            "COOP_STORAGE_URL": f"s3://{object_store.bucket()}/libcoop",
            "COOP_S3_ENDPOINT": object_store.endpoint,
            "COOP_S3_REGION": "us-east-1",
            "COOP_S3_ACCESS_KEY_ID": "test",
            "COOP_S3_SECRET_ACCESS_KEY": "test",
            "COOP_SCHEDULER": "0",
            "COOP_LOG_LEVEL": "WARNING",
        }
        loaded = subprocess.run(
            [sys.executable, "-m", "cooperation.cli", "db", "upgrade"], cwd=PROJECT_ROOT, env=base, capture_output=True, timeout=120
        )
        assert loaded.returncode == 0, loaded.stderr
        loaded = subprocess.run(
            [sys.executable, "-m", "cooperation.cli", "demo", "load"], cwd=PROJECT_ROOT, env=base, capture_output=True, timeout=180
        )
        assert loaded.returncode == 0, loaded.stderr
        processes: list[subprocess.Popen[bytes]] = []
        urls = {}
        try:
            for name in ("a", "b"):
                port = _free_port()
                env = {**base, "COOP_DATA_DIR": str(work / name)}  # nothing on a server's own disk is shared
                log = work / f"serve-{name}.log"
                processes.append(_start(["serve", "--port", str(port)], env, log))
                urls[name] = f"http://127.0.0.1:{port}"
                _wait_healthy(urls[name], processes[-1], log)
            processes.append(
                _start(["scheduler"], {**base, "COOP_SCHEDULER": "1", "COOP_DATA_DIR": str(work / "s")}, work / "scheduler.log")
            )
            processes.append(_start(["worker"], {**base, "COOP_DATA_DIR": str(work / "w")}, work / "worker.log"))
            yield {**urls, "logs": str(work)}
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


async def _signed_in(url: str, who: str) -> Client:
    client = Client(httpx.AsyncClient(base_url=url, timeout=60))
    await client.sign_in(f"{who}@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
    return client


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), "navy").save(out, format="JPEG")
    return out.getvalue()


async def test_two_servers_one_database_one_store(deployment):
    at_a = await _signed_in(deployment["a"], "coordinator")
    # The session made on A is good on B: sessions are in the database.
    at_b = Client(httpx.AsyncClient(base_url=deployment["b"], timeout=60, cookies=at_a.raw.cookies))
    visits = (await at_a.api("GET", "/api/v1/visits?per_page=1")).json()["items"]
    visit_id = visits[0]["id"]
    added = await at_a.api("POST", f"/api/v1/visits/{visit_id}/photos", files={"file": ("welcome.jpg", _jpeg(), "image/jpeg")})
    assert added.status_code == 201, added.text
    photo_id = added.json()["id"]
    thumbnail = await at_b.get(f"/visits/photos/{photo_id}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"
    assert not (Path(deployment["logs"]) / "a" / "files").exists()  # in the store, not on A's disk

    # A report asked on A is queued (a worker is alive), rendered by the worker, downloaded from B.
    for _ in range(100):
        asked = await at_a.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025", "language": "vi"})
        assert asked.status_code == 202, asked.text
        if asked.json()["status"] == "queued":
            break
        await asyncio.sleep(0.3)  # the worker's first beat has not come yet
    run = asked.json()
    assert run["status"] == "queued"
    for _ in range(600):
        run = (await at_b.api("GET", f"/api/v1/reports/{run['id']}")).json()
        if run["status"] != "queued":
            break
        await asyncio.sleep(0.2)
    assert run["status"] == "ready", run
    pdf = await at_b.get(run["download_url"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # A bounded load across both: pages, the API, a photo, health; no 5xx.
    statuses: Counter[int] = Counter()
    paths = ["/", "/agreements", "/api/v1/agreements?per_page=25", f"/visits/photos/{photo_id}/thumbnail", "/health", "/projects"]
    deadline = time.monotonic() + LOAD_SECONDS

    async def hammer(client: Client, offset: int) -> None:
        n = offset
        while time.monotonic() < deadline:
            response = await client.raw.get(paths[n % len(paths)])
            statuses[response.status_code] += 1
            n += 1

    await asyncio.gather(*(hammer(client, i) for i in range(4) for client in (at_a, at_b)))
    total = sum(statuses.values())
    print(f"\n{total} requests in {LOAD_SECONDS:.0f} s across two servers ({total / LOAD_SECONDS:.0f}/s): {dict(statuses)}")
    assert total > 50 and not [code for code in statuses if code >= 500], statuses

    # An account deactivated through A is refused at once by B, although B remembers its session for 5 s: the change
    # is announced by NOTIFY, which every process LISTENs to.
    director = Client(httpx.AsyncClient(base_url=deployment["b"], timeout=60))
    await director.sign_in(f"director@{demo.DEMO_DOMAIN}", demo.DEMO_PASSWORD)
    assert (await director.raw.get("/api/v1/agreements?per_page=1")).status_code == 200  # B now remembers who it is
    admin = await _signed_in(deployment["a"], "admin")
    found = (await admin.api("GET", "/api/v1/users?q=director")).json()["items"]
    director_id = next(u["id"] for u in found if u["email"] == f"director@{demo.DEMO_DOMAIN}")
    changed = await admin.api("PATCH", f"/api/v1/users/{director_id}", json={"active": False})
    assert changed.status_code == 200, changed.text
    started = time.monotonic()
    while (await director.raw.get("/api/v1/agreements?per_page=1")).status_code == 200:
        assert time.monotonic() - started < 2, "B still served the deactivated account"
        await asyncio.sleep(0.05)
    for client in (at_a, at_b, director, admin):
        await client.raw.aclose()
