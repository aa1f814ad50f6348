"""Plain values about programmes and digitization projects for reports: quota use over a period, each project's
progress with its chart, and what one partner takes part in. Visibility is the pages' own."""

import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import charts, i18n, versions
from cooperation.auth.access import Principal, portal_reader
from cooperation.dashboard import Chart, Figure
from cooperation.db import table
from cooperation.partners.models import Institution
from cooperation.records import plain
from cooperation.reports.trends import DecisionLine, KeyFigure
from cooperation.review import Waiting
from programs import chart, project_services, services
from programs.models import DigitizationProject, ProgressReport, ProjectParticipant

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
        "progress_chart": await _progress_chart(session, principal, start, today),
        "quota_chart": await _quota_chart(use),
    }


async def _progress_chart(session: AsyncSession, principal: Principal, start: date, today: date) -> dict[str, Any] | None:
    """Each running project's share of its target at the start of the period and at its end, as bars with the
    figures beside them (projects count in different units: each against its own target)."""
    at_end = {h.id: h for h in await project_services.project_health(session, principal, today=today) if h.percent is not None}
    if not at_end:
        return None
    at_start = {h.id: h.percent for h in await project_services.project_health(session, principal, today=start, project_ids=list(at_end))}
    names = [str(versions.in_language(h.name, h.translations, "title"))[:40] for h in at_end.values()]
    begun, now = i18n.gettext("At the start of the period"), i18n.gettext("At its end")
    before = [round(at_start.get(project_id) or 0) for project_id in at_end]
    after = [round(h.percent or 0) for h in at_end.values()]
    title = i18n.gettext("Digitization against target, by project")
    svg = await charts.bars_svg_async(names, {begun: before, now: after}, title=title, horizontal=True, percent=True)
    rows = [
        {"name": name, "before": b, "after": a, "unit": h.unit, "done": h.done, "target": h.target}
        for name, b, a, h in zip(names, before, after, at_end.values(), strict=True)
    ]
    return {"svg": svg, "rows": rows, "begun": begun, "now": now}


async def _quota_chart(use: list[services.ProgrammeUse]) -> dict[str, Any] | None:
    """Quota use per programme and year: exchanges counted against each quota, and what it allows."""
    rows: list[dict[str, Any]] = [
        {"label": f"{u.name[:30]} · {q.year} · {i18n.label(q.direction).lower()}", "used": q.used, "allowed": q.max_per_year}
        for u in use
        for q in u.use
    ]
    if not rows:
        return None
    used, allowed = i18n.gettext("Used"), i18n.gettext("Allowed")
    svg = await charts.bars_svg_async(
        [r["label"] for r in rows],
        {used: [r["used"] for r in rows], allowed: [r["allowed"] for r in rows]},
        title=i18n.gettext("Quota use, by programme and year"),
        horizontal=True,
    )
    return {"svg": svg, "rows": rows, "used": used, "allowed": allowed}


async def partner(session: AsyncSession, principal: Principal, institution_id: uuid.UUID, today: date) -> dict[str, Any]:
    use = await services.quota_use_between(session, principal, date(today.year, 1, 1), today, institution_id=institution_id)
    shared = list(await session.scalars(select(PP.project_id).where(PP.institution_id == institution_id)))
    return {
        "programmes": [plain(u) for u in use],
        "projects": await _projects(session, principal, today, shared),
    }


async def key_figures(session: AsyncSession, principal: Principal, start: date, end: date, today: date) -> list[KeyFigure]:
    """Digitization against target as of `today`, by the home page's rule (each running project's share of its
    target, averaged: projects count in different units)."""
    measured = [h for h in await project_services.project_health(session, principal, today=today) if h.percent is not None]
    if not measured:
        return []
    average = sum(h.percent or 0 for h in measured) / len(measured)
    return [KeyFigure("digitization", i18n.gettext("Digitization against target"), round(average, 1), order=40, percent=True)]


async def decisions(session: AsyncSession, principal: Principal, today: date) -> list[DecisionLine]:
    """Quotas of this year nearly used (one left) or overrun, and projects at risk, each with what says so."""
    lines = []
    for programme in await services.quota_use_between(session, principal, date(today.year, 1, 1), today):
        for quota in programme.use:
            if quota.year != today.year or quota.max_per_year <= 0:
                continue
            said = i18n.gettext(
                "%(programme)s: %(used)s of %(max)s %(direction)s exchanges used in %(year)s",
                programme=programme.name,
                used=quota.used,
                max=quota.max_per_year,
                direction=i18n.label(quota.direction).lower(),
                year=quota.year,
            )
            if quota.left < 0:
                lines.append(DecisionLine(i18n.gettext("Quota overrun — %(what)s", what=said), programme.name, None, order=20))
            elif quota.left == 0:  # as the programme's page says it: full
                lines.append(DecisionLine(i18n.gettext("Quota full — %(what)s", what=said), programme.name, None, order=21))
            elif quota.left == 1:
                lines.append(DecisionLine(i18n.gettext("Quota nearly used — %(what)s", what=said), programme.name, None, order=21))
    for health in await project_services.project_health(session, principal, today=today):
        if health.risks:
            name = versions.in_language(health.name, health.translations, "title")
            said = "; ".join(health.risks)
            lines.append(
                DecisionLine(i18n.gettext("Project at risk: %(name)s — %(risks)s", name=name, risks=said), health.lead_code, None, order=30)
            )
    return lines


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


# ---- the public portal (cooperation/portal.py): digitization projects marked public and their progress ---------


def portal_institutions() -> Any:
    """The participants of public projects (their lead included)."""
    D = table(DigitizationProject).c
    return select(PP.institution_id).join(table(DigitizationProject), D.id == PP.project_id).where(*on_portal())


def on_portal() -> tuple[Any, ...]:
    """SQL: a project the portal shows — marked public, not archived, its progress published by a coordinator."""
    D = table(DigitizationProject).c
    return (D.public.is_(True), D.archived_at.is_(None), D.progress_publication == "published")


async def portal_projects(session: AsyncSession, language: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Public projects, the most recent first: what is done against the target, in the main unit, and who takes part."""
    D = table(DigitizationProject).c
    I = table(Institution).c  # noqa: E741
    rows = (
        await session.execute(
            select(D.id, D.name, D.name_native, D.description, D.translations, D.starts_on, D.ends_on, D.platform_url, D.consortium_size)
            .where(*on_portal())
            .order_by(D.starts_on.desc(), D.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    # Public once chosen by id: the progress is read as the department reads it.
    health = {h.id: h for h in await project_services.project_health(session, portal_reader(), project_ids=ids)}
    taking_part: dict[uuid.UUID, list[str]] = {}
    for project_id, name in await session.execute(
        select(PP.project_id, I.name)
        .join(table(Institution), I.id == PP.institution_id)
        .where(PP.project_id.in_(ids))
        .order_by(PP.position)
    ):
        taking_part.setdefault(project_id, []).append(name)
    projects = []
    for r in rows:
        h = health.get(r.id)
        projects.append(
            {
                "id": r.id,
                "name": versions.in_language(r.name, r.translations, "title", language),
                "name_native": r.name_native,
                "description": versions.in_language(r.description, r.translations, "summary", language),
                "starts_on": r.starts_on,
                "ends_on": r.ends_on,
                "platform_url": r.platform_url,
                "consortium_size": r.consortium_size,
                "participants": taking_part.get(r.id, []),
                "unit": h.unit if h else None,
                "done": h.done if h else 0,
                "target": h.target if h else None,
                "percent": h.percent if h else None,
            }
        )
    return projects


async def waiting_progress(session: AsyncSession) -> list[Waiting]:
    """Projects proposed for the portal whose progress waits for a coordinator's decision."""
    D = table(DigitizationProject).c
    rows = await session.execute(
        select(D.id, D.name, D.description)
        .where(D.public.is_(True), D.archived_at.is_(None), D.progress_publication == "waiting")
        .order_by(D.starts_on.desc())
        .limit(500)
    )
    return [Waiting(id=r.id, record=r.name, url=f"/projects/{r.id}", text=(r.description or "")[:300]) for r in rows]


async def first_day(session: AsyncSession) -> date | None:
    """The earliest progress report or project start: how far back reports can be asked for."""
    days = [
        await session.scalar(select(func.min(table(ProgressReport).c.as_of))),
        await session.scalar(select(func.min(table(DigitizationProject).c.starts_on))),
    ]
    return min((d for d in days if d is not None), default=None)
