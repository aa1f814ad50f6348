"""Plain values about visits and expert exchanges for reports: a period's visits with what they agreed and what is
still open, one partner's visits both ways, one visit as its summary page tells it (photos included).

Visibility is the pages' own (`visit_visibility`, `exchange_visibility`); a fixed number of queries per call.
"""

import base64
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.models import Agreement
from cooperation import charts, files, followups, i18n, versions
from cooperation.auth.access import Audience, Principal, piece_visible, portal_reader
from cooperation.dashboard import Chart, Figure
from cooperation.db import table
from cooperation.files import storage
from cooperation.partners.models import Institution, Person
from cooperation.partners.services import home_institution_id
from cooperation.portal import FeedEntry
from cooperation.records import plain
from cooperation.reports.periods import Period
from cooperation.reports.trends import KeyFigure
from cooperation.review import Waiting
from cooperation.settings import Settings
from exchanges import expert_services, gift_services, photos, publication_services, services
from exchanges.models import ExpertExchange, Gift, Visit, VisitOutcome, VisitParticipant

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
    outcomes: dict[uuid.UUID, list[dict[str, str]]] = {}
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
        for visit_id, text, audience in await session.execute(
            select(VO.visit_id, VO.text, VO.audience)
            .where(VO.visit_id.in_(ids), piece_visible(principal, VO.audience, None))  # staff write them
            .order_by(VO.position)
        ):
            outcomes.setdefault(visit_id, []).append({"text": text, "audience": audience})
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


async def key_figures(session: AsyncSession, principal: Principal, start: date, end: date, today: date) -> list[KeyFigure]:
    """Visits received and made and experts exchanged that began in the period up to `today` (not cancelled): the
    home page's rule for its year in numbers; items of publications sent and received (the ledger's rule: by copies,
    a missing parcel not counted). Three queries."""
    last = min(end, today)
    overlapping = and_(V.starts_on >= start, V.starts_on <= last, V.status != "cancelled", V.archived_at.is_(None))
    visits = dict(
        (direction, count)
        for direction, count in await session.execute(
            select(V.direction, func.count()).where(services.visit_visibility(principal), overlapping).group_by(V.direction)
        )
    )
    experts = await session.scalar(
        select(func.count()).where(
            expert_services.exchange_visibility(principal),
            X.archived_at.is_(None),
            X.status != "cancelled",
            X.starts_on >= start,
            X.starts_on <= last,
        )
    )
    SH, SI = publication_services.SH, publication_services.SI
    items = dict(
        (direction, int(copies or 0))
        for direction, copies in await session.execute(
            select(SH.direction, func.sum(SI.copies))
            .join_from(table(publication_services.ShipmentItem), table(publication_services.Shipment), SH.id == SI.shipment_id)
            .where(publication_services.shipment_visibility(principal), SH.archived_at.is_(None), SH.status != "missing")
            .where(SH.shipped_on >= start, SH.shipped_on <= last)
            .group_by(SH.direction)
        )
    )
    return [
        KeyFigure("visits_received", i18n.gettext("Visits received"), visits.get("incoming", 0), order=20),
        KeyFigure("visits_made", i18n.gettext("Visits made"), visits.get("outgoing", 0), order=21),
        KeyFigure("experts_exchanged", i18n.gettext("Experts exchanged"), experts or 0, order=22),
        KeyFigure("publications_sent", i18n.gettext("Publications sent (items)"), items.get("sent", 0), order=30),
        KeyFigure("publications_received", i18n.gettext("Publications received (items)"), items.get("received", 0), order=31),
    ]


async def portfolio(session: AsyncSession, principal: Principal, start: date, end: date, today: date) -> dict[str, Any]:
    """Visits and expert stays that overlap the period; every open action of a visible visit that is overdue."""
    visits = await _visits(session, principal, V.starts_on <= end, V.ends_on >= start)
    exchanges = await _exchanges(session, principal, X.starts_on <= end, X.ends_on >= start)
    overdue = await _overdue(session, principal, today)
    return {"visits": visits, "exchanges": exchanges, "overdue": overdue, "by_month": await _visits_by_month(session, principal, end)}


async def _visits_by_month(session: AsyncSession, principal: Principal, end: date) -> dict[str, Any]:
    """Visits received and made that began in each of the twelve months up to `end`'s (not cancelled), with their
    chart: the portfolio's picture of the year's rhythm, whatever its period. One query."""
    first = date(end.year - 1, end.month, 1) + timedelta(days=31)
    first = first.replace(day=1)
    months = [(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1) for i in range(12)]
    year, month = extract("year", V.starts_on), extract("month", V.starts_on)
    counts: dict[tuple[int, int, str], int] = {}
    for y, m, direction, count in await session.execute(
        select(year, month, V.direction, func.count())
        .where(services.visit_visibility(principal), V.archived_at.is_(None), V.status != "cancelled")
        .where(V.starts_on >= first, V.starts_on <= end)
        .group_by(year, month, V.direction)
    ):
        counts[(int(y), int(m), direction)] = count
    names = i18n.month_names()
    labels = [names[m - 1] for _, m in months]  # the table beside the chart names each month with its year
    incoming = [counts.get((y, m, "incoming"), 0) for y, m in months]
    outgoing = [counts.get((y, m, "outgoing"), 0) for y, m in months]
    received, made = i18n.pgettext("visits", "Received"), i18n.pgettext("visits", "Made")
    svg = await charts.bars_svg_async(labels, {received: incoming, made: outgoing}, title=i18n.gettext("Visits by month"))
    rows = [
        {"month": i18n.format_month(date(y, m, 1)), "incoming": i, "outgoing": o}
        for (y, m), i, o in zip(months, incoming, outgoing, strict=True)
    ]
    return {"svg": svg, "rows": rows, "received": received, "made": made}


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


async def _data_uri(settings: Settings, digest: str) -> str:
    """A thumbnail (a JPEG of a few dozen kB LibCoop made itself) inside the report's HTML: the renderer reads no file
    and no network, and the store may be a remote bucket."""
    return "data:image/jpeg;base64," + base64.b64encode(await storage(settings).get(digest)).decode()


async def visit(session: AsyncSession, principal: Principal, settings: Settings, visit_id: uuid.UUID) -> dict[str, Any]:
    """The visit as its summary page reads, with its photos (inside the PDF's HTML) and its follow-up actions."""
    record = await services.get_visit(session, principal, visit_id)
    photo_list = await photos.list_photos(session, visit_id, principal)  # a partner's copy leaves out the department's
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
        "photos": [
            {"caption": p.caption, "uri": await _data_uri(settings, digests[p.id]), "department_only": p.audience == "department"}
            for p in photo_list
        ],
        "actions": [plain(a) for a in actions],
    }


async def gift_register(session: AsyncSession, principal: Principal, settings: Settings, period: Period) -> dict[str, Any]:
    """The protocol gift register over a period (a year, usually): every gift in date order, the estimated values by
    direction and currency, and how many still wait for a decision on where they go. The department's only."""
    rows = await gift_services.all_gifts(session, principal, between=(period.start, period.end))
    by_disposition: dict[str, int] = {}
    for row in rows:
        by_disposition[row.disposition or ""] = by_disposition.get(row.disposition or "", 0) + 1
    return {
        "gifts": [plain(r) for r in rows],
        "totals": gift_services.totals(rows),
        "by_disposition": sorted(by_disposition.items(), key=lambda item: (item[0] == "", item[0])),
        "undecided": sum(1 for r in rows if r.disposition is None and r.direction == "received"),
    }


async def publications_report(session: AsyncSession, principal: Principal, settings: Settings, period: Period) -> dict[str, Any]:
    """The exchange service's report for a period, in the shape the 1958 conventions' annual reports take: partners,
    items sent and received by category, arrangements begun, suspended, stopped or resumed. Four queries."""
    SH, SI, EA = publication_services.SH, publication_services.SI, publication_services.EA
    rows = await session.execute(
        select(SH.partner_institution_id, I.code, I.name, SH.direction, SI.category, func.sum(SI.copies))
        .join_from(table(publication_services.ShipmentItem), table(publication_services.Shipment), SH.id == SI.shipment_id)
        .join(table(Institution), I.id == SH.partner_institution_id)
        .where(publication_services.shipment_visibility(principal), SH.archived_at.is_(None), SH.status != "missing")
        .where(SH.shipped_on >= period.start, SH.shipped_on <= period.end)
        .group_by(SH.partner_institution_id, I.code, I.name, SH.direction, SI.category)
    )
    categories = [c.value for c in publication_services.ItemCategory]
    partners: dict[uuid.UUID, dict[str, Any]] = {}
    totals = {"sent": dict.fromkeys(categories, 0), "received": dict.fromkeys(categories, 0)}
    for partner_id, code, name, direction, category, copies in rows:
        entry = partners.setdefault(
            partner_id, {"code": code, "name": name, "sent": dict.fromkeys(categories, 0), "received": dict.fromkeys(categories, 0)}
        )
        entry[direction][category] += int(copies or 0)
        totals[direction][category] += int(copies or 0)
    missing = await session.scalar(
        select(func.count())
        .select_from(table(publication_services.Shipment))
        .where(publication_services.shipment_visibility(principal), SH.archived_at.is_(None), SH.status == "missing")
        .where(SH.shipped_on >= period.start, SH.shipped_on <= period.end)
    )
    arrangements = publication_services.arrangement_visibility(principal)
    first, after = (datetime.combine(day, time(0), tzinfo=UTC) for day in (period.start, period.end + timedelta(days=1)))
    changes = [
        {
            "code": r.code,
            "status": r.status,
            "on": r.status_changed_on or r.created_at.date(),
            "requested_by": r.status_requested_by,
            "note": r.status_note,
            "basis": r.basis,
            "new": r.status_changed_on is None,  # begun in the period, never suspended or stopped since
        }
        for r in await session.execute(
            select(I.code, EA.status, EA.status_changed_on, EA.created_at, EA.status_requested_by, EA.status_note, EA.basis)
            .join_from(table(publication_services.ExchangeArrangement), table(Institution), I.id == EA.partner_institution_id)
            .where(arrangements, EA.archived_at.is_(None))
            .where(or_(EA.status_changed_on.between(period.start, period.end), and_(EA.created_at >= first, EA.created_at < after)))
            .order_by(I.code)
        )
    ]
    active = await session.scalar(
        select(func.count())
        .select_from(table(publication_services.ExchangeArrangement))
        .where(arrangements, EA.archived_at.is_(None), EA.status == "active")
    )
    ordered = sorted(partners.values(), key=lambda p: p["code"])
    for entry in ordered:
        entry["sent_total"], entry["received_total"] = sum(entry["sent"].values()), sum(entry["received"].values())
    return {
        "partners": ordered,
        "categories": categories,
        "totals": totals,
        "sent_total": sum(totals["sent"].values()),
        "received_total": sum(totals["received"].values()),
        "missing": missing or 0,
        "changes": changes,
        "active_arrangements": active or 0,
    }


async def year_figures(session: AsyncSession, principal: Principal, first: date, last: date) -> list[Figure]:
    """Visits received and made, month by month (with their chart), and experts received and sent: those starting
    between the two days, not cancelled. Three queries."""
    month = extract("month", V.starts_on)
    visits = await session.execute(
        select(V.direction, month, func.count())
        .where(services.visit_visibility(principal), V.archived_at.is_(None), V.status != "cancelled")
        .where(V.starts_on >= first, V.starts_on <= last)
        .group_by(V.direction, month)
    )
    by_month: dict[str, list[int]] = {"incoming": [0] * 12, "outgoing": [0] * 12}
    for direction, number, count in visits:
        by_month[direction][int(number) - 1] += count
    home = await home_institution_id(session)
    received = X.host_institution_id == home
    experts = dict(
        (bool(is_received), count)
        for is_received, count in await session.execute(
            select(received, func.count())
            # Experts who came or went: an exchange proposed and not yet confirmed is no expert sent.
            .where(expert_services.exchange_visibility(principal), X.archived_at.is_(None), X.status.not_in(("cancelled", "proposed")))
            .where(X.starts_on >= first, X.starts_on <= last)
            .group_by(received)
        )
    )
    months = i18n.month_names()[: last.month]
    incoming, outgoing = by_month["incoming"][: last.month], by_month["outgoing"][: last.month]
    received_word, made_word = i18n.pgettext("visits", "Received"), i18n.pgettext("visits", "Made")
    chart = (
        None
        if not any(incoming + outgoing)
        else Chart(  # no chart of nothing: the figures say 0
            svg=await charts.bars_svg_async(months, {received_word: incoming, made_word: outgoing}, title=i18n.gettext("Visits by month")),
            caption=i18n.gettext("Visits by month: %(received)s received, %(made)s made.", received=sum(incoming), made=sum(outgoing)),
            headers=[i18n.gettext("Month"), received_word, made_word],
            rows=[[name, i18n.format_number(a), i18n.format_number(b)] for name, a, b in zip(months, incoming, outgoing, strict=True)],
        )
    )
    return [
        Figure(i18n.gettext("Visits received"), i18n.format_number(sum(incoming)), order=10, chart=chart),
        Figure(i18n.gettext("Visits made"), i18n.format_number(sum(outgoing)), order=11),
        Figure(i18n.gettext("Experts received"), i18n.format_number(experts.get(True, 0)), order=20),
        Figure(i18n.gettext("Experts sent"), i18n.format_number(experts.get(False, 0)), order=21),
    ]


# ---- the public portal (cooperation/portal.py): completed visits marked public ---------------------------------


def _published() -> tuple[Any, ...]:
    return photos.portal_visit_rule(V)


def portal_institutions() -> Any:
    """Both sides of every public visit."""
    return select(V.host_institution_id).where(*_published()).union(select(V.visiting_institution_id).where(*_published()))


async def portal_visits(session: AsyncSession, language: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Public completed visits, the latest first, with their two institutions and a first photo (two queries)."""
    host, visiting = table(Institution).alias("host"), table(Institution).alias("visiting")
    rows = (
        await session.execute(
            select(
                V.id,
                V.title,
                V.purpose,
                V.translations,
                V.direction,
                V.starts_on,
                V.ends_on,
                V.city,
                V.updated_at,
                V.created_at,
                host.c.name.label("host_name"),
                visiting.c.name.label("visiting_name"),
                visiting.c.name_native.label("visiting_name_native"),
                host.c.name_native.label("host_name_native"),
            )
            .join(host, host.c.id == V.host_institution_id)
            .join(visiting, visiting.c.id == V.visiting_institution_id)
            .where(*_published())
            .order_by(V.starts_on.desc(), V.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    covers: dict[uuid.UUID, dict[str, Any]] = {}
    if rows:
        stored = table(photos.VisitPhoto).c
        for visit_id, photo_id, caption in await session.execute(
            select(stored.visit_id, stored.id, stored.caption)
            .join(table(files.Attachment), table(files.Attachment).c.id == stored.attachment_id)
            .where(stored.visit_id.in_([r.id for r in rows]), *photos.published())
            .order_by(stored.visit_id, stored.position)
        ):
            covers.setdefault(visit_id, {"url": f"/portal/photos/{photo_id}", "caption": caption})
    return [
        {
            "id": r.id,
            "title": versions.in_language(r.title, r.translations, "title", language),
            "summary": versions.in_language(r.purpose, r.translations, "summary", language),
            "direction": r.direction,
            "starts_on": r.starts_on,
            "ends_on": r.ends_on,
            "city": r.city,
            "host_name": r.host_name,
            "host_name_native": r.host_name_native,
            "visiting_name": r.visiting_name,
            "visiting_name_native": r.visiting_name_native,
            "cover": covers.get(r.id),
            "updated_at": r.updated_at,
            "created_at": r.created_at,
        }
        for r in rows
    ]


async def portal_visit(session: AsyncSession, language: str, visit_id: uuid.UUID) -> dict[str, Any] | None:
    """One public visit as its news item tells it: who came, who received them, the programme, what was agreed, the
    photos with their captions. The agreement it implements is named only when that agreement is public too."""
    found = await session.scalar(select(V.id).where(V.id == visit_id, *_published()))
    if found is None:
        return None
    record = await services.get_visit(session, portal_reader(), visit_id)  # public: read whole, as the department does
    agreement = None
    if record.agreement is not None:
        A = table(Agreement).c
        named = await session.execute(
            select(A.reference, A.title, A.translations).where(
                A.id == record.agreement.id, A.confidentiality == "public", A.archived_at.is_(None)
            )
        )
        if (found_agreement := named.first()) is not None:
            agreement = {
                "id": record.agreement.id,
                "reference": found_agreement.reference,
                "title": versions.in_language(found_agreement.title, found_agreement.translations, "title", language),
            }
    photo_list = await photos.published_photos(session, visit_id)
    values = plain(record)
    # Publishing the summary publishes what the department shared of what was agreed, never its own notes.
    values["outcomes"] = [o for o in values["outcomes"] if o["audience"] != Audience.DEPARTMENT.value]
    values["agenda"] = [a | {"notes": None} for a in values["agenda"]]
    return {
        "visit": values,
        "title": versions.in_language(record.title, record.translations, "title", language),
        "summary": versions.in_language(record.purpose, record.translations, "summary", language),
        "delegation": [p for p in values["participants"] if p["side"] == "delegation"],
        "hosts": [p for p in values["participants"] if p["side"] == "host"],
        "agreement": agreement,
        "photos": [{"url": f"/portal/photos/{p.id}", "caption": p.caption, "width": p.width, "height": p.height} for p in photo_list],
    }


async def portal_feed(session: AsyncSession, language: str, limit: int) -> list[FeedEntry]:
    return [
        FeedEntry(
            id=v["id"],
            title=v["title"],
            summary=v["summary"][:600],
            url=f"/portal/visits/{v['id']}",
            updated=v["updated_at"],
            published=datetime.combine(v["ends_on"], time(12), tzinfo=UTC),
        )
        for v in await portal_visits(session, language, limit, 0)
    ]


# ---- waiting for publication (cooperation/review.py) ------------------------------------------------------------


async def waiting_photos(session: AsyncSession) -> list[Waiting]:
    """Photos of visits proposed for the portal that no coordinator has published or kept internal yet."""
    P, A = table(photos.VisitPhoto).c, table(files.Attachment).c
    rows = await session.execute(
        select(P.id, P.caption, V.id.label("visit_id"), V.title)
        .join_from(table(photos.VisitPhoto), table(files.Attachment), A.id == P.attachment_id)
        .join(table(Visit), V.id == P.visit_id)
        .where(P.publication == photos.Publication.WAITING.value, A.archived_at.is_(None), V.public.is_(True), V.archived_at.is_(None))
        .order_by(V.starts_on.desc(), P.position)
        .limit(500)
    )
    return [
        Waiting(
            id=r.id,
            record=r.title,
            url=f"/visits/{r.visit_id}#photos",
            text=r.caption,
            thumbnail=f"/visits/photos/{r.id}/thumbnail",
            blocked=None if r.caption.strip() else i18n.gettext("A photo needs its caption before it is published"),
        )
        for r in rows
    ]


async def waiting_summaries(session: AsyncSession) -> list[Waiting]:
    """Completed visits proposed for the portal whose summary waits for a coordinator's decision."""
    rows = await session.execute(
        select(V.id, V.title, V.purpose)
        .where(V.public.is_(True), V.status == "completed", V.archived_at.is_(None), V.summary_publication == "waiting")
        .order_by(V.starts_on.desc())
        .limit(500)
    )
    return [Waiting(id=r.id, record=r.title, url=f"/visits/{r.id}", text=r.purpose[:300]) for r in rows]


async def first_day(session: AsyncSession) -> date | None:
    """The earliest day a visit, an expert exchange, a shipment or a gift names: how far back reports can be asked for."""
    days = [
        await session.scalar(select(func.min(V.starts_on))),
        await session.scalar(select(func.min(X.starts_on))),
        await session.scalar(select(func.min(table(publication_services.Shipment).c.shipped_on))),
        await session.scalar(select(func.min(table(Gift).c.given_on))),
    ]
    return min((d for d in days if d is not None), default=None)
