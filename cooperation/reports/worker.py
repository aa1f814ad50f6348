"""`coop worker`: renders queued report runs outside the web servers.

While a worker has been seen in the last 30 seconds (`render_worker`, written at each of its polls), a web server
asked for a report builds its HTML (the data, read with the requester's rights), keeps it in the file store and
queues the run; it renders nothing itself, so its event loop and its memory stay for requests. With no worker
running, web servers render as before. A worker claims a queued run with a lease (one UPDATE that only one process can
win), renders it in its own process pool, keeps the PDF in the file store and records the outcome; a worker that dies
mid-run leaves its lease to expire, and another takes the run over (at most three attempts).
"""

import asyncio
import contextlib
import os
import signal
import socket
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cooperation import files
from cooperation.db import create_engine, session_factory, table, utcnow
from cooperation.reports.models import RenderWorker, ReportRun
from cooperation.reports.pdf import PdfRenderer
from cooperation.reports.services import render_run
from cooperation.settings import Settings

RR, RW = table(ReportRun).c, table(RenderWorker).c
MAX_ATTEMPTS = 3
log = structlog.get_logger("worker")


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.report_timeout_seconds * 2 + 30)


async def beat(factory: async_sessionmaker[AsyncSession], name: str, rendered: int) -> None:
    """This worker is alive (an upsert that works on SQLite and PostgreSQL alike: update, else insert)."""
    async with factory() as session:
        seen = await session.execute(update(RenderWorker).where(RW.name == name).values(seen_at=utcnow(), rendered=rendered))
        if seen.rowcount == 0:  # type: ignore[attr-defined]
            session.add(RenderWorker(name=name, rendered=rendered))
        await session.commit()


async def claim(factory: async_sessionmaker[AsyncSession], settings: Settings, name: str) -> tuple[Any, str] | None:
    """The oldest queued run no live worker holds, taken with a lease; (run id, its HTML) or None."""
    async with factory() as session:
        now = utcnow()
        free = (RR.status == "queued") & or_(RR.lease_until.is_(None), RR.lease_until < now) & (RR.attempts < MAX_ATTEMPTS)
        candidate = (await session.execute(select(RR.id, RR.html_sha256).where(free).order_by(RR.created_at).limit(1))).first()
        if candidate is None:
            return None
        taken = await session.execute(
            update(ReportRun)
            .where(RR.id == candidate.id, free)
            .values(lease_owner=name, lease_until=now + _lease(settings), attempts=RR.attempts + 1)
        )
        await session.commit()
        if taken.rowcount != 1:  # type: ignore[attr-defined]  # another worker won it
            return None
    html = (await files.storage(settings).get(candidate.html_sha256)).decode()
    return candidate.id, html


async def fail_exhausted(factory: async_sessionmaker[AsyncSession]) -> None:
    """A run that killed its worker three times is failed, not retried for ever."""
    async with factory() as session:
        await session.execute(
            update(ReportRun)
            .where(RR.status == "queued", RR.attempts >= MAX_ATTEMPTS, RR.lease_until < utcnow())
            .values(status="failed", error="rendering stopped three times (the worker died or timed out)", finished_at=utcnow())
        )
        await session.commit()


async def run_worker(settings: Settings, *, stop: asyncio.Event, poll_seconds: float = 1.0, name: str | None = None) -> int:
    """Claim and render queued runs until `stop` is set; how many it rendered."""
    name = name or f"{socket.gethostname()}:{os.getpid()}"
    engine = create_engine(settings.database_url)
    factory = session_factory(engine)
    renderer = PdfRenderer(settings.report_workers, settings.report_timeout_seconds, settings.files_dir)
    slots = asyncio.Semaphore(settings.report_workers)
    running: set[asyncio.Task[Any]] = set()
    rendered = 0

    async def render(run_id: Any, html: str) -> None:
        nonlocal rendered
        try:
            await render_run(factory, settings, renderer, run_id, html, holder=name)
            rendered += 1
        finally:
            slots.release()

    try:
        while not stop.is_set():
            try:
                await beat(factory, name, rendered)
                await fail_exhausted(factory)
                while not stop.is_set() and not slots.locked():
                    await slots.acquire()
                    claimed = await claim(factory, settings, name)
                    if claimed is None:
                        slots.release()
                        break
                    task = asyncio.create_task(render(*claimed))
                    running.add(task)
                    task.add_done_callback(running.discard)
            except Exception:  # the database or the store away for a moment: say so, wait, go on
                log.exception("worker poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
        await asyncio.gather(*running, return_exceptions=True)  # what it holds is finished before it goes
    finally:
        async with factory() as session:
            await session.execute(delete(RenderWorker).where(RW.name == name))
            await session.commit()
        renderer.close()
        await engine.dispose()
    return rendered


def main(settings: Settings) -> None:
    """`coop worker`: runs until SIGTERM or SIGINT, then finishes what it holds."""

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("worker started", workers=settings.report_workers)
        rendered = await run_worker(settings, stop=stop)
        log.info("worker stopped", rendered=rendered)

    asyncio.run(serve())
