"""Benchmark: a 12-month portfolio report of the demo world grown ten times, rendered to PDF.

    uv run python bench/portfolio_report.py [--times 10] [--year 2025]

Loads the demo world into a fresh SQLite file, multiplies it (synthetic agreements through the agreements
scale loader; the seed visit, expert exchanges and the digitization project copied `times` - 1 more times,
spread over the year), then times gathering + layout in the app process and the PDF in a spawned worker,
and reports the worker's peak memory. Target: under 5 s and 300 MiB. Not a test.
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from agreements.demo import load_scale
from cooperation import demo, migrate
from cooperation.app import create_app, demo_loaders
from cooperation.auth.models import User
from cooperation.auth.services import principal_of
from cooperation.db import table
from cooperation.followups import FollowUp
from cooperation.reports import builders, periods
from cooperation.reports.pdf import PdfRenderer
from cooperation.settings import Settings
from exchanges.models import AgendaItem, ExpertExchange, Visit, VisitOutcome, VisitParticipant
from programs.models import DigitizationProject, ProgressReport, ProjectParticipant


async def copy_rows(
    session: Any,
    model: Any,
    where: Any,
    *,
    shift: timedelta = timedelta(0),
    dates: tuple[str, ...] = (),
    suffix: tuple[str, str] | None = None,
    **fixed: Any,
) -> None:
    """Copy the matching rows with new ids, `fixed` values, `dates` moved by `shift` and `suffix` = (column, text) appended."""
    copies = []
    for row in (await session.execute(select(table(model)).where(where))).mappings():
        copy = dict(row) | {"id": uuid.uuid4(), **fixed} | {name: row[name] + shift for name in dates}
        if suffix:
            copy[suffix[0]] = f"{row[suffix[0]]}{suffix[1]}"
        copies.append(copy)
    if copies:
        await session.execute(insert(table(model)), copies)


async def grow(settings: Settings, times: int) -> None:
    app = create_app(settings)
    factory = app.state.session_factory
    async with factory() as session:
        await load_scale(session, max(1, (7 * times) // 10))  # the demo has 7 agreements; 10 synthetic per unit of scale
        V, X, D = table(Visit).c, table(ExpertExchange).c, table(DigitizationProject).c
        visits = list(await session.scalars(select(V.id)))
        exchanges = list(await session.scalars(select(X.id)))
        projects = list(await session.scalars(select(D.id)))
        for copy in range(1, times):
            shift, label = timedelta(days=-30 * copy), f" ({copy + 1})"
            for visit_id in visits:
                new_id = uuid.uuid4()
                await copy_rows(
                    session, Visit, V.id == visit_id, id=new_id, shift=shift, dates=("starts_on", "ends_on"), suffix=("title", label)
                )
                for model in (VisitParticipant, VisitOutcome):
                    await copy_rows(session, model, table(model).c.visit_id == visit_id, visit_id=new_id)
                await copy_rows(session, AgendaItem, table(AgendaItem).c.visit_id == visit_id, visit_id=new_id, shift=shift, dates=("day",))
                await copy_rows(session, FollowUp, table(FollowUp).c.owner_id == visit_id, owner_id=new_id)
            await copy_rows(session, ExpertExchange, X.id.in_(exchanges), shift=shift, dates=("starts_on", "ends_on"))
            for project_id in projects:
                new_project = uuid.uuid4()
                await copy_rows(
                    session, DigitizationProject, D.id == project_id, id=new_project, commitment_id=None, suffix=("name", label)
                )
                for model in (ProjectParticipant, ProgressReport):
                    await copy_rows(session, model, table(model).c.project_id == project_id, project_id=new_project)
        await session.commit()
    await app.state.engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--language", default="en")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="libcoop-report-bench-"))
    settings = Settings(
        environment="test",
        secret_key="bench-" + "s" * 40,
        database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        data_dir=workdir,
        log_level="WARNING",
    )
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    app = create_app(settings)  # wires the report builders
    await demo.load(app.state.session_factory, demo_loaders())
    await app.state.engine.dispose()
    await grow(settings, args.times)
    app = create_app(settings)
    async with app.state.session_factory() as session:
        director = (await session.execute(select(User).where(User.email == "director@demo.libcoop.test"))).scalar_one()
        principal = principal_of(director)
        started = time.perf_counter()
        built = await builders.build(session, principal, settings, "portfolio", None, periods.year(args.year), args.language)
        gathered = time.perf_counter() - started
    renderer = PdfRenderer(1, 300, settings.files_dir)
    try:
        await renderer.render("<p>warm-up</p>")  # the worker's start (spawn, imports) is paid once per worker, not per report
        renderer_started = time.perf_counter()
        pdf, pages, _ = await renderer.render(built.html)
        rendered = time.perf_counter() - renderer_started
    finally:
        renderer.close()
    fresh = PdfRenderer(1, 300, settings.files_dir)  # peak memory of a worker that renders only this report
    try:
        _, _, peak = await fresh.render(built.html)
    finally:
        fresh.close()
    await app.state.engine.dispose()
    size = f"{pages} pages, {len(pdf) / 1024:.0f} KiB, {len(built.html) / 1024:.0f} KiB of HTML"
    print(f"12-month portfolio report ({args.year}), demo world ×{args.times}: {size}")
    print(f"gather + layout (app process) {gathered:.2f} s · PDF (worker) {rendered:.2f} s · total {gathered + rendered:.2f} s")
    print(f"worker peak memory {peak:.0f} MiB (a fresh worker, this report only)")


if __name__ == "__main__":
    asyncio.run(main())
