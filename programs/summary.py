"""Plain values about programmes and digitization projects for reports: quota use over a period, each project's
progress with its chart, and what one partner takes part in. Visibility is the pages' own."""

import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import charts, i18n, versions
from cooperation.auth.access import Principal
from cooperation.dashboard import Chart, Figure
from cooperation.db import table
from cooperation.records import plain
from programs import chart, project_services, services
from programs.models import ProjectParticipant

PP = table(ProjectParticipant).c


async def _projects(session: AsyncSession, principal: Principal, today: date, project_ids: list[uuid.UUID] | None) -> list[dict[str, Any]]:
    health = await project_services.project_health(session, principal, today=today, project_ids=project_ids)
    series = await project_services.series_of(session, [h.id for h in health])  # one query for every project
    projects = []
    for h in health:
        known = [point for point in series[h.id] if point.as_of <= today]  # as the figures stood on `today`
        svg = await chart.progress_svg_async(known, h.unit, h.target, title=h.name)
        projects.append({**asdict(h), "chart_svg": svg})
    return projects


async def portfolio(session: AsyncSession, principal: Principal, start: date, end: date, today: date) -> dict[str, Any]:
    use = await services.quota_use_between(session, principal, start, end)
    return {
        "programmes": [plain(u) for u in use],
        "projects": await _projects(session, principal, today, None),
    }


async def partner(session: AsyncSession, principal: Principal, institution_id: uuid.UUID, today: date) -> dict[str, Any]:
    use = await services.quota_use_between(session, principal, date(today.year, 1, 1), today, institution_id=institution_id)
    shared = list(await session.scalars(select(PP.project_id).where(PP.institution_id == institution_id)))
    return {
        "programmes": [plain(u) for u in use],
        "projects": await _projects(session, principal, today, shared),
    }


async def year_figures(session: AsyncSession, principal: Principal, first: date, last: date) -> list[Figure]:
    """Digitization against target: each running project's share of its target, averaged (projects count in
    different units, so their totals are not added up)."""
    measured = [h for h in await project_services.project_health(session, principal, today=last) if h.percent is not None]
    if not measured:
        return []
    average = sum(h.percent or 0 for h in measured) / len(measured)
    at_risk = sum(1 for h in measured if h.risks)
    title = i18n.gettext("Digitization against target, by project")
    detail = i18n.ngettext("of target, %(num)d project", "of target, average of %(num)d projects", len(measured))
    if at_risk:
        detail += " · " + i18n.ngettext("%(num)d at risk", "%(num)d at risk", at_risk)
    names = [str(versions.in_language(h.name, h.translations, "title")) for h in measured]  # in the reader's language
    shares = [round(h.percent or 0) for h in measured]
    share = i18n.gettext("Share of the target")
    chart = Chart(
        svg=await charts.bars_svg_async([n[:40] for n in names], {share: shares}, title=title, horizontal=True, percent=True),
        caption=f"{title}: " + "; ".join(f"{name} {i18n.format_percent(h.percent)}" for name, h in zip(names, measured, strict=True)),
        headers=[i18n.gettext("Project"), i18n.gettext("Share of the target"), i18n.gettext("Done"), i18n.gettext("Target")],
        rows=[
            [
                name,
                i18n.format_percent(h.percent),
                f"{i18n.format_number(h.done)} {i18n.label(h.unit).lower()}",
                i18n.format_number(h.target),
            ]
            for name, h in zip(names, measured, strict=True)
        ],
    )
    return [Figure(i18n.gettext("Digitization"), i18n.format_percent(average), detail=detail, order=40, chart=chart)]
