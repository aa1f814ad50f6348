"""Reports on demand: gather and lay out in the request (fast: queries and a template), render the PDF in the
process pool in the background, and let the page follow its progress until the PDF is there to download."""

import asyncio
import hashlib
import time
import uuid
from collections.abc import Coroutine
from datetime import date, timedelta
from typing import Any

import msgspec
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cooperation import audit, files, i18n
from cooperation.auth.access import Principal
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailed
from cooperation.reports import builders, delivery
from cooperation.reports.models import RenderWorker, ReportDelivery, ReportRun
from cooperation.reports.pdf import PdfRenderer, ReportTimeout, pdf_filename
from cooperation.settings import Settings

RR = table(ReportRun).c
RD = table(ReportDelivery).c
RW = table(RenderWorker).c
log = structlog.get_logger("reports")


class RunOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    scope_id: uuid.UUID | None
    period_key: str | None
    language: str
    title: str
    requested_by_name: str
    status: str
    error: str | None
    pdf_bytes: int | None
    pages: int | None
    render_ms: int | None
    created_at: Any
    finished_at: Any
    subscription_id: uuid.UUID | None = None
    download_url: str | None = None
    deliveries: list["DeliveryOut"] = msgspec.field(default_factory=list)


class DeliveryOut(msgspec.Struct):
    address: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: Any


class ReportRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    language: str = "en"
    scope_id: uuid.UUID | None = None
    period: str | None = None  # 2026-10, 2026-Q3, 2026 or 2026-W47 (portfolio reports)


class ReportWorker:
    """Renders PDFs in the background of this process and records the outcome on the run."""

    def __init__(self, settings: Settings, factory: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.factory = factory
        self.renderer = PdfRenderer(settings.report_workers, settings.report_timeout_seconds, settings.files_dir)
        self._tasks: set[asyncio.Task[Any]] = set()

    def submit(self, run_id: uuid.UUID, html: str) -> None:
        self.spawn(self.finish(run_id, html))

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` beside the requests (a report rendered, a report sent at once), drained at shutdown."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # kept until done: the loop holds tasks only weakly
        task.add_done_callback(self._tasks.discard)

    async def finish(self, run_id: uuid.UUID, html: str) -> None:
        await render_run(self.factory, self.settings, self.renderer, run_id, html)

    async def drain(self) -> None:
        """Wait for the reports under way (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        self.renderer.close()


async def request_report(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    worker: ReportWorker,
    data: ReportRequestIn,
    *,
    today: date | None = None,
) -> uuid.UUID:
    period = builders.check_request(data.kind, data.scope_id, data.period, data.language)
    built = await builders.build(session, principal, settings, data.kind, data.scope_id, period, data.language, today=today)
    run = ReportRun(
        kind=data.kind,
        scope_id=data.scope_id,
        period_key=period.key if period else None,
        language=data.language,
        title=built.title,
        requested_by_id=principal.user_id,
        requested_by_name=principal.name,
    )
    queued = await worker_alive(session)
    if queued:  # a `coop worker` renders it: the HTML goes to the file store, which every server and worker shares
        content = built.html.encode()
        run.html_sha256 = hashlib.sha256(content).hexdigest()
        run.status = "queued"
        await files.storage(settings).put(run.html_sha256, content)
    session.add(run)
    await session.flush()
    audit.record(session, principal, "request_report", "report", run.id, summary=f"Report requested: {built.title}")
    await session.commit()
    if not queued:
        worker.submit(run.id, built.html)
    return run.id


async def render_run(
    factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    renderer: PdfRenderer,
    run_id: uuid.UUID,
    html: str,
    *,
    holder: str | None = None,
) -> str:
    """Render a run's HTML, keep the PDF, record the outcome (ready or failed, never left rendering); the status.
    A `holder` (a worker) records it only while it still holds the run's lease."""
    started = time.perf_counter()
    values: dict[str, Any]
    try:
        pdf, pages, peak = await renderer.render(html)
        digest = hashlib.sha256(pdf).hexdigest()
        await files.storage(settings).put(digest, pdf)
        values = {"status": "ready", "pdf_sha256": digest, "pdf_bytes": len(pdf), "pages": pages, "worker_peak_mib": round(peak, 1)}
    except ReportTimeout as exc:
        values = {"status": "failed", "error": str(exc)}
    except Exception as exc:  # the run must say it failed, whatever happened
        log.exception("report rendering failed", run_id=str(run_id))
        values = {"status": "failed", "error": f"rendering failed: {type(exc).__name__}: {str(exc)[:500]}"}
    values |= {"render_ms": int((time.perf_counter() - started) * 1000), "finished_at": utcnow(), "lease_until": None}
    async with factory() as session:
        mine = RR.id == run_id if holder is None else (RR.id == run_id) & (RR.lease_owner == holder)
        done = await session.execute(update(ReportRun).where(mine).values(**values))
        if done.rowcount == 1 and values["status"] == "ready":  # type: ignore[attr-defined]  # what webhooks hear of
            audit.record(session, None, "rendered", "report", run_id, summary="Report ready")
        await session.commit()
    return str(values["status"])


# A `coop worker` seen this recently is alive: web servers queue runs for it instead of rendering (reports/worker.py).
WORKER_ALIVE = timedelta(seconds=30)


async def worker_alive(session: AsyncSession) -> bool:
    seen = await session.scalar(select(RW.name).where(RW.seen_at > utcnow() - WORKER_ALIVE).limit(1))
    return seen is not None


def _mine(principal: Principal) -> Any:
    """A person sees the runs they asked for; an administrator every run."""
    return RR.requested_by_id.is_not(None) if principal.is_admin else RR.requested_by_id == principal.user_id


def _out(row: Any) -> RunOut:
    run = RunOut(**{f: row[f] for f in RunOut.__struct_fields__ if f not in ("download_url", "deliveries")})
    if run.status == "ready":
        run.download_url = f"/reports/runs/{run.id}/pdf"
    return run


async def _with_deliveries(session: AsyncSession, runs: list[RunOut]) -> list[RunOut]:
    scheduled = {r.id: r for r in runs if r.subscription_id is not None}
    if scheduled:
        rows = await session.execute(
            select(RD.run_id, RD.address, RD.status, RD.attempts, RD.last_error, RD.sent_at)
            .where(RD.run_id.in_(list(scheduled)))
            .order_by(RD.address)
        )
        for r in rows:
            scheduled[r.run_id].deliveries.append(DeliveryOut(r.address, r.status, r.attempts, r.last_error, r.sent_at))
    return runs


async def get_run(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> RunOut:
    row = (await session.execute(select(table(ReportRun)).where(RR.id == run_id, _mine(principal)))).mappings().first()
    if row is None:
        raise NotFoundError("report")
    return (await _with_deliveries(session, [_out(row)]))[0]


async def list_runs(session: AsyncSession, principal: Principal, *, limit: int = 50) -> list[RunOut]:
    """The run archive: period, status, recipients, size, download; a person's own, an administrator's all."""
    rows = await session.execute(select(table(ReportRun)).where(_mine(principal)).order_by(RR.created_at.desc()).limit(limit))
    return await _with_deliveries(session, [_out(r) for r in rows.mappings()])


async def latest_ready(session: AsyncSession, principal: Principal) -> Any:
    """The newest report the person may download (their own, or any for an administrator), for the home page."""
    columns = (RR.id, RR.title, RR.kind, RR.period_key, RR.language, RR.pages, RR.finished_at, RR.subscription_id)
    statement = select(*columns).where(_mine(principal), RR.status == "ready").order_by(RR.finished_at.desc()).limit(1)
    return (await session.execute(statement)).first()


async def pdf_file(session: AsyncSession, principal: Principal, settings: Settings, run_id: uuid.UUID) -> tuple[str, str]:
    """(digest of the stored PDF, its file name) of a run ready to download."""
    run = await get_run(session, principal, run_id)
    digest = await session.scalar(select(RR.pdf_sha256).where(RR.id == run_id))
    if run.status != "ready" or digest is None:
        raise ValidationFailed(
            {"report": i18n.gettext("the PDF is not ready (the report is %(status)s)", status=i18n.label(run.status).lower())}
        )
    return digest, pdf_filename(run.title)


async def fail_interrupted(session: AsyncSession, settings: Settings) -> int:
    """At start: reports asked for on demand and left rendering by a stopped process will never finish; say so on them.
    (A subscription's run is taken over and completed by the scheduler instead.)"""
    cutoff = utcnow() - timedelta(seconds=settings.report_timeout_seconds * 2)
    result = await session.execute(
        update(ReportRun)
        .where(RR.subscription_id.is_(None), RR.status == "rendering", or_(RR.created_at < cutoff, RR.created_at.is_(None)))
        .values(status="failed", error="interrupted: the server stopped while rendering; ask for the report again", finished_at=utcnow())
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def resend(
    session: AsyncSession, principal: Principal, settings: Settings, factory: async_sessionmaker[AsyncSession], run_id: uuid.UUID
) -> None:
    """Administrators only: every recipient of a scheduled run gets it once more; a run that failed is rendered again
    first, by the scheduler's next pass (recorded in the audit)."""
    run = await get_run(session, principal, run_id)
    if not principal.is_admin:
        raise ForbiddenError("Only an administrator may send a report again.")
    if run.subscription_id is None or run.status not in ("sent", "retrying", "rendered", "failed"):
        raise ValidationFailed({"report": i18n.gettext("only a scheduled report that was rendered, or failed, can be sent again")})
    if run.status == "failed":
        audit.record(session, principal, "resend_report", "report", run_id, summary=f"Failed report rendered again: {run.title}")
        await session.commit()
        if not await delivery.render_again(factory, run_id):
            raise ConflictError("This report is no longer failed (it was taken up meanwhile).")
        return
    audit.record(session, principal, "resend_report", "report", run_id, summary=f"Report sent again: {run.title}")
    await session.commit()
    await delivery.resend(factory, settings, run_id)
