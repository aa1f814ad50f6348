"""Plain values about programmes and digitization projects for reports: quota use over a period, each project's
progress with its chart, and what one partner takes part in. Visibility is the pages' own."""

import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation.auth.access import Principal
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
