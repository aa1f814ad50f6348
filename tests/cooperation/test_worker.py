"""`coop worker`: while a worker is alive, a web server queues the reports it is asked for and renders none;
the worker renders them and the PDF is downloaded from the web server; a worker that died mid-run leaves its lease to
expire and another takes the run over; with no live worker, web servers render as before."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cooperation.db import utcnow
from cooperation.reports import worker
from cooperation.reports.models import RenderWorker, ReportRun

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def _status(db, run_id: str) -> str:
    db.expire_all()
    return await db.scalar(select(ReportRun.status).where(ReportRun.id == uuid.UUID(run_id)))


async def _until(db, run_id: str, status: str, seconds: float = 60) -> None:
    for _ in range(int(seconds * 10)):
        if await _status(db, run_id) == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the run is {await _status(db, run_id)}, not {status}")


async def test_a_worker_renders_what_the_web_server_queues(app, client_for, story, settings, db):
    stop = asyncio.Event()
    working = asyncio.create_task(worker.run_worker(settings, stop=stop, poll_seconds=0.2, name="render-1"))
    try:
        for _ in range(50):  # its first poll says it is alive
            if await db.scalar(select(RenderWorker.name)):
                break
            await asyncio.sleep(0.1)
        director = await client_for("director")
        asked = await director.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025", "language": "zh_Hans"})
        assert asked.status_code == 202, asked.text
        run = asked.json()
        assert run["status"] == "queued"
        assert not app.state.reports._tasks  # the web server renders nothing itself
        await _until(db, run["id"], "ready")
        done = (await director.api("GET", f"/api/v1/reports/{run['id']}")).json()
        pdf = await director.get(done["download_url"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        page = await director.get(f"/reports/runs/{run['id']}")
        assert "Download the PDF" in page.text
    finally:
        stop.set()
        assert await working == 1
    # The worker said goodbye: the next report is rendered by the web server again.
    db.expire_all()
    assert await db.scalar(select(RenderWorker.name)) is None
    director = await client_for("director")
    asked = (await director.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025", "language": "en"})).json()
    assert asked["status"] == "rendering"
    await app.state.reports.drain()
    assert await _status(db, asked["id"]) == "ready"


async def test_a_run_left_by_a_dead_worker_is_taken_over(app, client_for, story, settings, db):
    db.add(RenderWorker(name="dead:1"))  # a worker that was alive a moment ago
    await db.commit()
    director = await client_for("director")
    run = (await director.api("POST", "/api/v1/reports", json={"kind": "portfolio", "period": "2025"})).json()
    assert run["status"] == "queued"
    # It claimed the run, then died: its lease runs out.
    claimed = await worker.claim(app.state.session_factory, settings, "dead:1")
    assert claimed is not None and str(claimed[0]) == run["id"]
    assert await worker.claim(app.state.session_factory, settings, "render-2") is None  # held: nobody else takes it
    await db.execute(update(ReportRun).where(ReportRun.id == uuid.UUID(run["id"])).values(lease_until=utcnow() - timedelta(seconds=1)))
    await db.execute(update(RenderWorker).values(seen_at=utcnow() - timedelta(minutes=5)))
    await db.commit()
    stop = asyncio.Event()
    working = asyncio.create_task(worker.run_worker(settings, stop=stop, poll_seconds=0.2, name="render-2"))
    try:
        await _until(db, run["id"], "ready")
    finally:
        stop.set()
        await working
    db.expire_all()
    attempts, holder = (
        await db.execute(select(ReportRun.attempts, ReportRun.lease_owner).where(ReportRun.id == uuid.UUID(run["id"])))
    ).one()
    assert (attempts, holder) == (2, "render-2")
