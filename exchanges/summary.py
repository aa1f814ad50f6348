"""Plain values about visits and expert exchanges for reports: a period's visits with what they agreed and what is
still open, one partner's visits both ways, one visit as its summary page tells it (photos included).

Visibility is the pages' own (`visit_visibility`, `exchange_visibility`); a fixed number of queries per call.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import followups
from cooperation.auth.access import Principal
from cooperation.db import table
from cooperation.files import storage_path
from cooperation.partners.models import Institution, Person
from cooperation.records import plain
from cooperation.settings import Settings
from exchanges import expert_services, photos, services
from exchanges.models import ExpertExchange, Visit, VisitOutcome, VisitParticipant

V = table(Visit).c
VP = table(VisitParticipant).c
VO = table(VisitOutcome).c
X = table(ExpertExchange).c
I = table(Institution).c  # noqa: E741
P = table(Person).c
LIMIT = 200


async def _visits(session: AsyncSession, principal: Principal, *clauses: Any) -> list[dict[str, Any]]:
    host, visiting = table(Institution).alias("host"), table(Institution).alias("visiting")
    rows = (
        await session.execute(
            select(
                V.id,
                V.title,
                V.direction,
                V.starts_on,
                V.ends_on,
                V.city,
                V.status,
                V.theme,
                V.translations,
                host.c.code.label("host_code"),
                host.c.name.label("host_name"),
                visiting.c.code.label("visiting_code"),
                visiting.c.name.label("visiting_name"),
                visiting.c.name_native.label("visiting_name_native"),
            )
            .select_from(
                table(Visit).join(host, host.c.id == V.host_institution_id).join(visiting, visiting.c.id == V.visiting_institution_id)
            )
            .where(services.visit_visibility(principal), V.archived_at.is_(None), *clauses)
            .order_by(V.starts_on)
            .limit(LIMIT)
        )
    ).mappings()
    visits = [dict(r) for r in rows]
    ids = [v["id"] for v in visits]
    people: dict[uuid.UUID, list[dict[str, Any]]] = {}
    outcomes: dict[uuid.UUID, list[str]] = {}
    if ids:
        for r in await session.execute(
            select(VP.visit_id, VP.side, VP.role, P.name, P.name_native, VP.position_at_time)
            .join(table(Person), P.id == VP.person_id)
            .where(VP.visit_id.in_(ids))
            .order_by(VP.visit_id, VP.side, VP.position)
        ):
            people.setdefault(r.visit_id, []).append(
                {"side": r.side, "role": r.role, "name": r.name, "name_native": r.name_native, "position": r.position_at_time}
            )
        for visit_id, text in await session.execute(select(VO.visit_id, VO.text).where(VO.visit_id.in_(ids)).order_by(VO.position)):
            outcomes.setdefault(visit_id, []).append(text)
    actions = await followups.list_for_many(session, principal, "visit", ids, open_only=True)
    for visit in visits:
        visit["delegation"] = [p for p in people.get(visit["id"], []) if p["side"] == "delegation"]
        visit["hosts"] = [p for p in people.get(visit["id"], []) if p["side"] == "host"]
        visit["outcomes"] = outcomes.get(visit["id"], [])
        visit["open_actions"] = [plain(a) for a in actions.get(visit["id"], [])]
    return visits


async def _exchanges(session: AsyncSession, principal: Principal, *clauses: Any) -> list[dict[str, Any]]:
    home, host = table(Institution).alias("home"), table(Institution).alias("host")
    rows = await session.execute(
        select(
            X.id,
            P.name.label("expert_name"),
            P.name_native.label("expert_name_native"),
            home.c.code.label("home_code"),
            host.c.code.label("host_code"),
            X.starts_on,
            X.ends_on,
            X.field_of_work,
            X.status,
            X.outcome,
        )
        .select_from(
            table(ExpertExchange)
            .join(table(Person), P.id == X.expert_person_id)
            .join(home, home.c.id == X.home_institution_id)
            .join(host, host.c.id == X.host_institution_id)
        )
        .where(expert_services.exchange_visibility(principal), X.archived_at.is_(None), *clauses)
        .order_by(X.starts_on)
        .limit(LIMIT)
    )
    return [dict(r) for r in rows.mappings()]


async def portfolio(session: AsyncSession, principal: Principal, start: date, end: date, today: date) -> dict[str, Any]:
    """Visits and expert stays that overlap the period; every open action of a visible visit that is overdue."""
    visits = await _visits(session, principal, V.starts_on <= end, V.ends_on >= start)
    exchanges = await _exchanges(session, principal, X.starts_on <= end, X.ends_on >= start)
    overdue = await _overdue(session, principal, today)
    return {"visits": visits, "exchanges": exchanges, "overdue": overdue}


async def _overdue(session: AsyncSession, principal: Principal, today: date) -> list[dict[str, Any]]:
    visible = select(V.id, V.title).where(services.visit_visibility(principal), V.archived_at.is_(None))
    titles: dict[uuid.UUID, str] = {row.id: row.title for row in await session.execute(visible)}
    actions = await followups.list_for_many(session, principal, "visit", list(titles), open_only=True)
    overdue = [
        {**plain(a), "record": titles.get(a.owner_id, "")}
        for items in actions.values()
        for a in items
        if a.due_on is not None and a.due_on < today
    ]
    return sorted(overdue, key=lambda a: a["due_on"])


async def partner(session: AsyncSession, principal: Principal, institution_id: uuid.UUID, today: date) -> dict[str, Any]:
    """Visits both ways with the institution, its experts' stays and ours there, its people."""
    visits = await _visits(session, principal, or_(V.host_institution_id == institution_id, V.visiting_institution_id == institution_id))
    exchanges = await _exchanges(session, principal, or_(X.home_institution_id == institution_id, X.host_institution_id == institution_id))
    return {"visits": visits, "exchanges": exchanges}


async def choices(session: AsyncSession, principal: Principal) -> list[tuple[uuid.UUID, str]]:
    """The visits a summary can be made of, for the report form."""
    page = await services.list_visits(session, principal, per_page=100)
    return [(v.id, f"{v.starts_on.isoformat()} · {v.title[:70]}") for v in page.items]


async def visit(session: AsyncSession, principal: Principal, settings: Settings, visit_id: uuid.UUID) -> dict[str, Any]:
    """The visit as its summary page reads, with its photos (as files for the PDF) and its follow-up actions."""
    record = await services.get_visit(session, principal, visit_id)
    photo_list = await photos.list_photos(session, visit_id)
    stored = table(photos.VisitPhoto).c
    digests: dict[uuid.UUID, str] = {
        r.id: r.thumbnail_sha256
        for r in await session.execute(select(stored.id, stored.thumbnail_sha256).where(stored.visit_id == visit_id))
    }
    actions = await followups.list_for(session, principal, "visit", visit_id)
    record_values = plain(record)
    return {
        "visit": record_values,
        "delegation": [p for p in record_values["participants"] if p["side"] == "delegation"],
        "hosts": [p for p in record_values["participants"] if p["side"] == "host"],
        "photos": [{"caption": p.caption, "uri": storage_path(settings, digests[p.id]).as_uri()} for p in photo_list],
        "actions": [plain(a) for a in actions],
    }
