"""Every rule and every write for expert-exchange programmes and their quotas.

An expert exchange counts against a programme in the year it starts and in its direction relative to the
home institution (incoming: the home institution hosts; outgoing: it sends). A quota with a field of work
counts only exchanges in that field; one without counts all. A cancelled exchange counts nothing.
"""

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.models import Agreement, Commitment
from agreements.services import Measured, pace
from cooperation import audit, i18n, versions
from cooperation.auth.access import Principal, may_see, named, require_manager, seen, shared_on_creation, visible
from cooperation.db import table
from cooperation.errors import ConflictError, NotFoundError, ValidationFailed
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.models import Institution, Person
from cooperation.records import ByName, changes_between, fetch_page, fold_for_search, nfc, order_by, row_to, search_terms, update_versioned
from exchanges.models import ExpertExchange
from programs.models import DigitizationProject, Programme, ProgrammeInstitution, ProgrammeQuota
from programs.schemas import (
    Direction,
    InstitutionRef,
    ProgrammeExchange,
    ProgrammeIn,
    ProgrammeOut,
    ProgrammePage,
    ProgrammeRow,
    ProgrammeUpdate,
    QuotaIn,
    QuotaUse,
)

G = table(Programme).c
DP = table(DigitizationProject).c
GI = table(ProgrammeInstitution).c
Q = table(ProgrammeQuota).c
X = table(ExpertExchange).c
I = table(Institution).c  # noqa: E741
P = table(Person).c
A = table(Agreement).c
C = table(Commitment).c


def programme_visibility(principal: Principal) -> Any:
    """Staff see every programme; a partner those its institution takes part in."""
    return visible(principal, participants=select(GI.institution_id).where(GI.programme_id == G.id), internal=G.shared.is_(False))


def visible_ids(principal: Principal) -> Any:
    """The programmes this person may see, as a subquery."""
    return select(G.id).where(programme_visibility(principal))


def _field_key(value: str | None) -> str:
    return fold_for_search(value or "")


def _matches(quota: QuotaIn | Any, direction: str, field_of_work: str) -> bool:
    return quota.direction == direction and (not quota.field_of_work or _field_key(quota.field_of_work) == _field_key(field_of_work))


def quota_use(starts_on: date, ends_on: date, quotas: Iterable[Any], exchanges: Iterable[tuple[int, str, str]]) -> list[QuotaUse]:
    """Use of every quota in every year of the period, from (year, direction, field) of the exchanges that count."""
    counted = list(exchanges)
    use = []
    for year in range(starts_on.year, ends_on.year + 1):
        for quota in quotas:
            used = sum(1 for y, direction, field in counted if y == year and _matches(quota, direction, field))
            use.append(QuotaUse(year, str(quota.direction), quota.field_of_work, quota.max_per_year, used, quota.max_per_year - used))
    return use


async def _home_id(session: AsyncSession) -> uuid.UUID | None:
    return await session.scalar(select(I.id).where(I.is_home.is_(True)))


def _direction(home: uuid.UUID | None, host_institution_id: uuid.UUID) -> str:
    return Direction.INCOMING.value if host_institution_id == home else Direction.OUTGOING.value


async def _clean(session: AsyncSession, data: ProgrammeIn, programme_id: uuid.UUID | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if data.ends_on < data.starts_on:
        errors["ends_on"] = i18n.gettext("the programme cannot end before it starts")
    if not data.institution_ids:
        errors["institution_ids"] = i18n.gettext("name the participating institutions")
    known = set(await session.scalars(select(I.id).where(I.id.in_(data.institution_ids), I.archived_at.is_(None))))
    if unknown := [str(i) for i in data.institution_ids if i not in known]:
        errors["institution_ids"] = i18n.gettext("no such institution: %(ids)s", ids=", ".join(unknown))
    if len(set(data.institution_ids)) != len(data.institution_ids):
        errors["institution_ids"] = i18n.gettext("an institution is listed twice")
    seen: set[tuple[str, str]] = set()
    for index, quota in enumerate(data.quotas):
        key = (quota.direction.value, _field_key(quota.field_of_work))
        if key in seen:
            errors[f"quotas.{index}.direction"] = i18n.gettext("two quotas for the same direction and field")
        seen.add(key)
    if data.agreement_id is not None and await session.scalar(select(A.id).where(A.id == data.agreement_id)) is None:
        errors["agreement_id"] = i18n.gettext("no such agreement")
    if data.commitment_id is not None:
        owner = await session.scalar(select(C.agreement_id).where(C.id == data.commitment_id, C.archived_at.is_(None)))
        if owner is None or owner != data.agreement_id:
            errors["commitment_id"] = i18n.gettext("the commitment measured must belong to the programme's agreement")
        elif other := await measured_elsewhere(session, data.commitment_id, programme_id=programme_id):
            errors["commitment_id"] = i18n.gettext("%(record)s measures this commitment already", record=other)
    if (data.budget_amount is None) != (data.budget_currency is None):
        errors["budget_currency"] = i18n.gettext("give both the amount and its ISO 4217 currency")
    translations, version_errors = versions.clean(data.translations)
    errors |= version_errors
    if errors:
        raise ValidationFailed(errors)
    name = nfc(data.name.strip())
    return {
        "name": name,
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "agreement_id": data.agreement_id,
        "description": nfc(data.description.strip()),
        "budget_amount": data.budget_amount,
        "budget_currency": data.budget_currency.upper() if data.budget_currency else None,
        "commitment_id": data.commitment_id,
        "translations": translations,
        "search_text": fold_for_search(name, data.description, versions.search_words(translations)),
    }


async def measured_elsewhere(
    session: AsyncSession, commitment_id: uuid.UUID, *, programme_id: uuid.UUID | None = None, project_id: uuid.UUID | None = None
) -> str | None:
    """The programme or project (other than the one being saved) that already measures a commitment: one source per commitment."""
    programme = await session.scalar(
        select(G.name).where(G.commitment_id == commitment_id, G.archived_at.is_(None), G.id != (programme_id or uuid.UUID(int=0)))
    )
    if programme:
        return i18n.gettext("the programme “%(name)s”", name=programme)
    project = await session.scalar(
        select(DP.name).where(DP.commitment_id == commitment_id, DP.archived_at.is_(None), DP.id != (project_id or uuid.UUID(int=0)))
    )
    return i18n.gettext("the project “%(name)s”", name=project) if project else None


def _children(programme_id: uuid.UUID, data: ProgrammeIn) -> list[Any]:
    rows: list[Any] = [ProgrammeInstitution(programme_id=programme_id, institution_id=i) for i in data.institution_ids]
    rows += [
        ProgrammeQuota(
            programme_id=programme_id,
            direction=q.direction.value,
            field_of_work=nfc(q.field_of_work.strip()) if q.field_of_work and q.field_of_work.strip() else None,
            max_per_year=q.max_per_year,
            position=position,
        )
        for position, q in enumerate(data.quotas)
    ]
    return rows


async def create_programme(session: AsyncSession, principal: Principal, data: ProgrammeIn) -> uuid.UUID:
    require_manager(principal, N_("set up programmes"))
    values = await _clean(session, data)
    values["shared"] = shared_on_creation(principal, data.shared)
    programme = Programme(**values)
    session.add(programme)
    await session.flush()
    session.add_all(_children(programme.id, data))
    audit.record(session, principal, "create", "programme", programme.id, summary=f"Programme “{values['name']}” set up")
    await session.commit()
    return programme.id


async def update_programme(session: AsyncSession, principal: Principal, programme_id: uuid.UUID, data: ProgrammeUpdate) -> int:
    before = await _visible_row(session, principal, programme_id)
    require_manager(principal, N_("change programmes"))
    values = await _clean(session, data, programme_id)
    if data.shared:  # sharing is one way here; it is also the page's own action (cooperation/share.py)
        values["shared"] = True
    version = await update_versioned(session, Programme, programme_id, data.version, values, what="programme")
    for model in (ProgrammeInstitution, ProgrammeQuota):
        await session.execute(delete(model).where(table(model).c.programme_id == programme_id))
    session.add_all(_children(programme_id, data))
    audit.record(
        session,
        principal,
        "update",
        "programme",
        programme_id,
        summary=f"Programme “{values['name']}” changed",
        changes={k: v for k, v in changes_between(dict(before), values).items() if k != "search_text"},
    )
    await session.commit()
    return version


async def ensure_visible(session: AsyncSession, principal: Principal, programme_id: uuid.UUID) -> None:
    """404 unless the person may see it: before a form is read, so a bad form cannot tell that a hidden record exists."""
    await _visible_row(session, principal, programme_id)


async def _visible_row(session: AsyncSession, principal: Principal, programme_id: uuid.UUID) -> Any:
    row = (await session.execute(select(table(Programme)).where(G.id == programme_id, programme_visibility(principal)))).mappings().first()
    if row is None:
        raise NotFoundError("programme")
    return row


async def get_programme(session: AsyncSession, principal: Principal, programme_id: uuid.UUID) -> ProgrammeOut:
    row = await _visible_row(session, principal, programme_id)
    institutions = [
        row_to(InstitutionRef, r)
        for r in await session.execute(
            select(I.id, I.code, I.name).join(table(ProgrammeInstitution), GI.institution_id == I.id).where(GI.programme_id == programme_id)
        )
    ]
    quotas = [
        QuotaIn(Direction(d), n, f)
        for d, n, f in await session.execute(
            select(Q.direction, Q.max_per_year, Q.field_of_work).where(Q.programme_id == programme_id).order_by(Q.position)
        )
    ]
    home = await _home_id(session)
    host, origin = table(Institution).alias("host"), table(Institution).alias("origin")
    rows = (
        await session.execute(
            select(
                X.id,
                P.name,
                origin.c.code,
                host.c.code,
                X.starts_on,
                X.field_of_work,
                X.status,
                X.host_institution_id,
                may_see(principal, "exchange", X.id).label("shown"),
            )
            .select_from(
                table(ExpertExchange)
                .join(table(Person), P.id == X.expert_person_id)
                .join(origin, origin.c.id == X.home_institution_id)
                .join(host, host.c.id == X.host_institution_id)
            )
            .where(X.programme_id == programme_id, X.archived_at.is_(None))
            .order_by(X.starts_on)
        )
    ).all()
    # The quota use is the programme's own figure (every exchange counts); the list names only those the reader sees.
    counted = [(r.starts_on.year, _direction(home, r.host_institution_id), r.field_of_work) for r in rows if r.status != "cancelled"]
    exchanges = [
        ProgrammeExchange(r.id, r.name, r[2], r[3], r.starts_on, r.field_of_work, r.status, _direction(home, r.host_institution_id))
        for r in rows
        if r.shown
    ]
    agreement = (
        await session.execute(select(A.id, A.reference).where(A.id == row["agreement_id"], may_see(principal, "agreement", A.id)))
    ).first()
    commitment_id = row["commitment_id"] if await seen(session, principal, "commitment", [row["commitment_id"]]) else None
    return ProgrammeOut(
        id=row["id"],
        name=row["name"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        description=row["description"],
        translations=dict(row["translations"] or {}),
        agreement_id=agreement.id if agreement else None,
        agreement_reference=agreement.reference if agreement else None,
        budget_amount=row["budget_amount"],
        budget_currency=row["budget_currency"],
        commitment_id=commitment_id,
        institutions=institutions,
        quotas=quotas,
        use=quota_use(row["starts_on"], row["ends_on"], quotas, counted),
        exchanges=exchanges,
        archived=row["archived_at"] is not None,
        version=row["version"],
        created_at=row["created_at"],
    )


async def list_programmes(
    session: AsyncSession, principal: Principal, *, page: int = 1, per_page: int = 25, sort: str | None = None, q: str | None = None
) -> ProgrammePage:
    exchange_count = select(func.count()).where(X.programme_id == G.id, X.status != "cancelled", X.archived_at.is_(None)).scalar_subquery()
    statement = (
        select(
            G.id,
            G.name,
            G.starts_on,
            G.ends_on,
            named(principal, "agreement", A.id, A.reference).label("reference"),
            exchange_count,
            G.translations,
        )
        .select_from(table(Programme).outerjoin(table(Agreement), A.id == G.agreement_id))
        .where(programme_visibility(principal), G.archived_at.is_(None))
    )
    for term in search_terms(q):
        statement = statement.where(G.search_text.contains(term, autoescape=True))
    paged = await fetch_page(
        session,
        statement,
        page=page,
        per_page=per_page,
        order=order_by(sort, {"starts_on": G.starts_on, "name": ByName(G.name, G.translations)}, "-starts_on"),
        tiebreak=G.id,
    )
    return ProgrammePage(
        items=[row_to(ProgrammeRow, r) for r in paged.rows], total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page
    )


async def programme_choices(session: AsyncSession, principal: Principal) -> list[tuple[uuid.UUID, str]]:
    """Live programmes the person may see, for an exchange's form (the 100 latest)."""
    return [(g.id, g.name) for g in (await list_programmes(session, principal, per_page=100)).items]


async def programme_names(session: AsyncSession, programme_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names for records that already point at these programmes (their visibility was checked with the record)."""
    return {row.id: row.name for row in await session.execute(select(G.id, G.name).where(G.id.in_(programme_ids)))}


class ProgrammeUse(msgspec.Struct):
    id: uuid.UUID
    name: str
    use: list[QuotaUse]  # every quota in every year of the span asked for


async def quota_use_between(
    session: AsyncSession, principal: Principal, first: date, last: date, *, institution_id: uuid.UUID | None = None, limit: int = 20
) -> list[ProgrammeUse]:
    """Quota use, year by year from `first` to `last`, of the programmes running then that the person may see (four queries).
    With `institution_id`: only the programmes that institution takes part in."""
    statement = select(G.id, G.name).where(
        programme_visibility(principal), G.archived_at.is_(None), G.starts_on <= last, G.ends_on >= first
    )
    if institution_id is not None:
        statement = statement.where(G.id.in_(select(GI.programme_id).where(GI.institution_id == institution_id)))
    programmes = (await session.execute(statement.order_by(G.name).limit(limit))).all()
    if not programmes:
        return []
    ids = [p.id for p in programmes]
    quotas: dict[uuid.UUID, list[QuotaIn]] = {}
    for programme_id, direction, limit_, field in await session.execute(
        select(Q.programme_id, Q.direction, Q.max_per_year, Q.field_of_work).where(Q.programme_id.in_(ids)).order_by(Q.position)
    ):
        quotas.setdefault(programme_id, []).append(QuotaIn(Direction(direction), limit_, field))
    home = await _home_id(session)
    counted: dict[uuid.UUID, list[tuple[int, str, str]]] = {}
    years = date(first.year, 1, 1), date(last.year, 12, 31)
    for programme_id, starts_on, host, field in await session.execute(
        select(X.programme_id, X.starts_on, X.host_institution_id, X.field_of_work).where(
            X.programme_id.in_(ids), X.status != "cancelled", X.archived_at.is_(None), X.starts_on >= years[0], X.starts_on <= years[1]
        )
    ):
        counted.setdefault(programme_id, []).append((starts_on.year, _direction(home, host), field))
    return [
        ProgrammeUse(p.id, p.name, quota_use(first, last, quotas.get(p.id, []), counted.get(p.id, [])))
        for p in programmes
        if quotas.get(p.id)
    ]


def institutions_sharing_with(institution_id: uuid.UUID) -> Any:
    """The other institutions of the programmes `institution_id` takes part in."""
    mine = (
        select(GI.programme_id)
        .join(table(Programme), G.id == GI.programme_id)
        .where(GI.institution_id == institution_id, G.shared.is_(True))
    )
    return select(GI.institution_id).where(GI.programme_id.in_(mine))


# ---- the hook expert exchanges call (wired by app.py) -------------------------------------------


async def check_exchange(
    session: AsyncSession, principal: Principal, values: dict[str, Any], exchange_id: uuid.UUID | None, confirmed: bool
) -> None:
    """Refuse an exchange that falls outside its programme, or that would take a quota past its limit
    unless a coordinator confirms going past it."""
    programme_id = values["programme_id"]
    row = (
        await session.execute(select(G.id, G.name, G.starts_on, G.ends_on).where(G.id == programme_id, programme_visibility(principal)))
    ).first()
    if row is None:
        raise ValidationFailed({"programme_id": i18n.gettext("no such programme")})
    starts_on: date = values["starts_on"]
    if not row.starts_on <= starts_on <= row.ends_on:
        raise ValidationFailed(
            {"starts_on": i18n.gettext("the programme runs %(dates)s", dates=i18n.format_days(row.starts_on, row.ends_on))}
        )
    members = set(await session.scalars(select(GI.institution_id).where(GI.programme_id == programme_id)))
    outside = [i for i in (values["home_institution_id"], values["host_institution_id"]) if i not in members]
    if outside:
        codes = ", ".join(await session.scalars(select(I.code).where(I.id.in_(outside))))
        raise ValidationFailed({"programme_id": i18n.gettext("%(codes)s does not take part in “%(name)s”", codes=codes, name=row.name)})
    home = await _home_id(session)
    direction = _direction(home, values["host_institution_id"])
    quotas = [
        QuotaIn(Direction(d), n, f)
        for d, n, f in await session.execute(select(Q.direction, Q.max_per_year, Q.field_of_work).where(Q.programme_id == programme_id))
    ]
    year = starts_on.year
    others = select(X.starts_on, X.host_institution_id, X.field_of_work).where(
        X.programme_id == programme_id,
        X.status != "cancelled",
        X.archived_at.is_(None),
        X.starts_on >= date(year, 1, 1),
        X.starts_on <= date(year, 12, 31),
    )
    if exchange_id is not None:
        others = others.where(X.id != exchange_id)
    counted = [(s.year, _direction(home, h), f) for s, h, f in await session.execute(others)]
    counted.append((year, direction, values["field_of_work"]))
    over = [
        u
        for u in quota_use(date(year, 1, 1), date(year, 12, 31), quotas, counted)
        if u.left < 0 and _matches(u, direction, values["field_of_work"])
    ]
    if not over:
        return
    described = "; ".join(
        i18n.gettext(
            "%(year)s %(direction)s in %(field)s: %(allowed)s allowed, this would be number %(number)s",
            year=u.year,
            direction=i18n.label(u.direction).lower(),
            field=u.field_of_work,
            allowed=u.max_per_year,
            number=u.used,
        )
        if u.field_of_work
        else i18n.gettext(
            "%(year)s %(direction)s: %(allowed)s allowed, this would be number %(number)s",
            year=u.year,
            direction=i18n.label(u.direction).lower(),
            allowed=u.max_per_year,
            number=u.used,
        )
        for u in over
    )
    if confirmed and principal.manages_records:
        audit.record(session, principal, "quota_exceeded", "programme", programme_id, summary=f"Quota knowingly exceeded: {described}")
        return
    raise ConflictError(
        i18n.gettext(
            "This exchange would go past the quota of “%(name)s” (%(described)s). A coordinator may confirm it anyway.",
            name=row.name,
            described=described,
        ),
        errors={"confirm_over_quota": described},
    )


async def commitment_measures(
    session: AsyncSession, principal: Principal, commitment_ids: list[uuid.UUID], on: date
) -> dict[uuid.UUID, Measured]:
    """Commitments measured by a programme: exchanges carried out against every year's quotas over the period."""
    programmes = (
        await session.execute(
            select(G.id, G.name, G.starts_on, G.ends_on, G.commitment_id).where(
                G.commitment_id.in_(commitment_ids), G.archived_at.is_(None), may_see(principal, "programme", G.id)
            )
        )
    ).all()
    if not programmes:
        return {}
    ids = [p.id for p in programmes]
    quotas: dict[uuid.UUID, list[Any]] = {}
    for programme_id, field, limit in await session.execute(
        select(Q.programme_id, Q.field_of_work, Q.max_per_year).where(Q.programme_id.in_(ids))
    ):
        quotas.setdefault(programme_id, []).append((field, limit))
    counts = {
        (programme_id, status): n
        for programme_id, status, n in await session.execute(
            select(X.programme_id, X.status, func.count())
            .where(X.programme_id.in_(ids), X.archived_at.is_(None), X.starts_on <= on)  # none begun after the day measured
            .group_by(X.programme_id, X.status)
        )
    }
    measured = {}
    for p in programmes:
        rows = quotas.get(p.id, [])
        # Quotas without a field cover every exchange; field quotas only add up when there are no general ones.
        yearly = sum(limit for field, limit in rows if not field) or sum(limit for _, limit in rows)
        capacity = yearly * (p.ends_on.year - p.starts_on.year + 1)
        completed = counts.get((p.id, "completed"), 0)
        planned = sum(n for (pid, status), n in counts.items() if pid == p.id and status not in ("completed", "cancelled"))
        label = i18n.gettext(
            "Programme “%(name)s”: %(completed)s of %(capacity)s exchanges completed", name=p.name, completed=completed, capacity=capacity
        )
        if planned:
            label += i18n.gettext(", %(planned)s more planned", planned=planned)
        share = round(100 * completed / capacity) if capacity else 0
        state = pace(completed, capacity, p.starts_on, p.ends_on, on)
        measured[p.commitment_id] = Measured(min(100, share), label, f"/programmes/{p.id}", state)
    return measured


async def set_archived(session: AsyncSession, principal: Principal, programme_id: uuid.UUID, *, archived: bool, version: int) -> int:
    row = await _visible_row(session, principal, programme_id)
    require_manager(principal, N_("archive programmes"))
    return await audit.archive_or_restore(
        session,
        principal,
        Programme,
        "programme",
        programme_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["name"],
    )


async def programme_owner(session: AsyncSession, principal: Principal, programme_id: uuid.UUID) -> Owner:
    """A programme as sharing names it: its label, page and the institutions taking part."""
    row = await _visible_row(session, principal, programme_id)
    taking_part = tuple(await session.scalars(select(GI.institution_id).where(GI.programme_id == programme_id)))
    return Owner(label=row["name"], url=f"/programmes/{programme_id}", may_add=principal.manages_records, partner_ids=taking_part)
