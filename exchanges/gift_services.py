"""The protocol gift register: every gift given or received, what it is worth, and where it went.

Gifts recorded with a visit (its form's gift rows) are entries of this register too: their date and their two
institutions follow the visit. The register is the department's own: staff read it, coordinators keep it; a partner
sees a visit's gifts on the visit only (access.py's default deny: "gift" is a kind no partner sees).
"""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import is_currency
from sqlalchemy import Select, and_, extract, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n
from cooperation.auth.access import Principal, require_manager
from cooperation.db import table, utcnow
from cooperation.errors import NotFoundError, ValidationFailed
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.models import Institution, Person
from cooperation.partners.services import home_institution_id
from cooperation.records import changes_between, fetch_page, fold_for_search, nfc, order_by, search_terms, update_versioned
from exchanges import schemas as visit_schemas
from exchanges.gift_schemas import GiftIn, GiftLink, GiftOut, GiftPage, GiftRow, GiftUpdate
from exchanges.models import Gift, Visit

G = table(Gift).c
V = table(Visit).c
NO_DISPOSITION = "none"  # the filter value for gifts whose disposition is not decided yet
EXPORT_LIMIT = 50_000  # a register holds hundreds of gifts a year; an export past this is a mistake, not a need


def require_register_reader(principal: Principal) -> None:
    """The register is the department's: anyone else is told it does not exist (404, as for a foreign record)."""
    if not principal.reads_everything:
        raise NotFoundError("gift register")


def visit_sides(visit_direction: str, host_id: uuid.UUID, visiting_id: uuid.UUID, gift_direction: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(giver, recipient) of a gift made during a visit: the home side is the host of an incoming visit and the
    visiting side of an outgoing one; "given" is from the home side."""
    home, partner = (host_id, visiting_id) if visit_direction == "incoming" else (visiting_id, host_id)
    return (home, partner) if gift_direction == "given" else (partner, home)


# ---- gifts recorded on a visit's form --------------------------------------------------------------------------


async def sync_visit_gifts(session: AsyncSession, visit_id: uuid.UUID, visit: dict[str, Any], gifts: list[visit_schemas.GiftIn]) -> None:
    """Make the visit's register entries what its form lists: rows with an id keep everything the register added
    (value, disposition, photos) and take the direction, description and order typed; new rows become entries; an
    entry no longer listed is archived, never deleted. Its date stays if it falls within the visit."""
    current = {
        row.id: row
        for row in (
            await session.execute(select(G.id, G.given_on, G.direction).where(G.visit_id == visit_id, G.archived_at.is_(None)))
        ).all()
    }
    errors = {f"gifts.{i}.id": i18n.gettext("is not a gift of this visit") for i, g in enumerate(gifts) if g.id and g.id not in current}
    if errors:
        raise ValidationFailed(errors)
    for position, gift in enumerate(gifts):
        giver, recipient = visit_sides(
            visit["direction"], visit["host_institution_id"], visit["visiting_institution_id"], gift.direction.value
        )
        values: dict[str, Any] = {
            "direction": gift.direction.value,
            "description": nfc(gift.description.strip()),
            "position": position,
            "giver_institution_id": giver,
            "recipient_institution_id": recipient,
        }
        values["search_text"] = fold_for_search(values["description"])
        if gift.id is None:
            session.add(Gift(visit_id=visit_id, given_on=visit["starts_on"], **values))
            continue
        stored = current[gift.id]
        if not visit["starts_on"] <= stored.given_on <= visit["ends_on"]:
            values["given_on"] = visit["starts_on"]
        if stored.direction != values["direction"]:  # the people were the other side's
            values |= {"giver_person_id": None, "recipient_person_id": None, "reciprocal_gift_id": None}
        await session.execute(update(Gift).where(G.id == gift.id).values(**values, updated_at=utcnow()))
    dropped = set(current) - {g.id for g in gifts}
    if dropped:
        await session.execute(update(Gift).where(G.id.in_(dropped)).values(archived_at=utcnow(), updated_at=utcnow()))


# ---- the register's entries ------------------------------------------------------------------------------------


async def _clean(session: AsyncSession, data: GiftIn, gift_id: uuid.UUID | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "direction": data.direction.value,
        "description": nfc(data.description.strip()),
        "given_on": data.given_on,
        "giver_person_id": data.giver_person_id,
        "recipient_person_id": data.recipient_person_id,
        "estimated_value": data.estimated_value,
        "currency": data.currency.upper() if data.currency else None,
        "minimal_value": data.minimal_value,
        "valuation": data.valuation.value if data.valuation else None,
        "disposition": data.disposition.value if data.disposition else None,
        "custodian": nfc(data.custodian.strip()) if data.custodian and data.custodian.strip() else None,
        "location": nfc(data.location.strip()) if data.location and data.location.strip() else None,
        "disposition_on": data.disposition_on,
        "disposition_note": nfc(data.disposition_note.strip()) if data.disposition_note and data.disposition_note.strip() else None,
        "reciprocal_gift_id": data.reciprocal_gift_id,
        "visit_id": data.visit_id,
    }
    if not values["description"]:
        errors["description"] = i18n.gettext("say what the gift was")
    if (data.estimated_value is None) != (data.currency is None):
        errors["currency"] = i18n.gettext("give both the amount and its ISO 4217 currency")
    elif values["currency"] and not is_currency(values["currency"]):
        errors["currency"] = i18n.gettext("%(code)s is not an ISO 4217 currency code", code=values["currency"])
    if data.estimated_value is not None and (data.estimated_value < 0 or not data.estimated_value.is_finite()):
        errors["estimated_value"] = i18n.gettext("must be zero or more")
    elif data.estimated_value is not None and data.estimated_value >= Decimal("1e12"):
        errors["estimated_value"] = i18n.gettext("is more than %(limit)s", limit=f"{Decimal('1e12'):,.0f}")
    if data.estimated_value is not None and data.valuation is None:
        errors["valuation"] = i18n.gettext("say how the value was set")
    if data.visit_id is not None:
        columns = (V.direction, V.host_institution_id, V.visiting_institution_id, V.starts_on, V.ends_on)
        visit = (await session.execute(select(*columns).where(V.id == data.visit_id))).first()
        if visit is None:
            errors["visit_id"] = i18n.gettext("no such visit")
        else:
            giver, recipient = visit_sides(visit.direction, visit.host_institution_id, visit.visiting_institution_id, values["direction"])
            values["given_on"] = data.given_on or visit.starts_on
            if not visit.starts_on <= values["given_on"] <= visit.ends_on:
                errors["given_on"] = i18n.gettext(
                    "the visit was from %(start)s to %(end)s; leave the date blank for its first day",
                    start=i18n.format_day(visit.starts_on),
                    end=i18n.format_day(visit.ends_on),
                )
    else:
        home = await home_institution_id(session)
        if data.partner_institution_id is None:
            errors["partner_institution_id"] = i18n.gettext("choose the partner institution, or the visit the gift was made at")
        elif home is None:
            errors["partner_institution_id"] = i18n.gettext("set the home institution first (Institutions)")
        if data.given_on is None:
            errors["given_on"] = i18n.gettext("give the date of the gift")
        if data.partner_institution_id is not None and home is not None:
            pair = (home, data.partner_institution_id)
            giver, recipient = pair if values["direction"] == "given" else pair[::-1]
    if not errors:
        values["giver_institution_id"], values["recipient_institution_id"] = giver, recipient
        known = set(await session.scalars(select(table(Institution).c.id).where(table(Institution).c.id.in_([giver, recipient]))))
        if recipient not in known or giver not in known:
            errors["partner_institution_id"] = i18n.gettext("no such institution")
        P = table(Person).c
        for field, institution in (("giver_person_id", giver), ("recipient_person_id", recipient)):
            person_id = values[field]
            if person_id is not None:
                found = await session.scalar(select(P.institution_id).where(P.id == person_id))
                if found is None:
                    errors[field] = i18n.gettext("no such person")
                elif found != institution:
                    errors[field] = i18n.gettext("is not a person of the institution on that side")
    if data.disposition_on and values["given_on"] and data.disposition_on < values["given_on"]:
        errors["disposition_on"] = i18n.gettext("cannot be before the gift was made")
    if data.disposition_on and data.disposition is None:
        errors["disposition"] = i18n.gettext("say what became of the gift on that date")
    if data.reciprocal_gift_id is not None:
        other = (await session.execute(select(G.direction, G.archived_at).where(G.id == data.reciprocal_gift_id))).first()
        if other is None or other.archived_at is not None or data.reciprocal_gift_id == gift_id:
            errors["reciprocal_gift_id"] = i18n.gettext("no such gift in the register")
        elif other.direction == values["direction"]:
            errors["reciprocal_gift_id"] = i18n.gettext("a gift given is answered by one received, and the other way round")
    if errors:
        raise ValidationFailed(errors)
    values["search_text"] = fold_for_search(values["description"], values["custodian"], values["location"])
    return values


async def _pair(session: AsyncSession, gift_id: uuid.UUID, reciprocal_id: uuid.UUID | None) -> None:
    """A reciprocal link goes both ways; whatever either gift answered before is unlinked."""
    touched = [gift_id] + ([reciprocal_id] if reciprocal_id else [])
    await session.execute(update(Gift).where(or_(G.reciprocal_gift_id.in_(touched), G.id.in_(touched))).values(reciprocal_gift_id=None))
    if reciprocal_id:
        await session.execute(update(Gift).where(G.id == gift_id).values(reciprocal_gift_id=reciprocal_id))
        await session.execute(update(Gift).where(G.id == reciprocal_id).values(reciprocal_gift_id=gift_id))


async def create_gift(session: AsyncSession, principal: Principal, data: GiftIn) -> uuid.UUID:
    require_manager(principal, N_("keep the gift register"))
    values = await _clean(session, data)
    if values["visit_id"]:
        count = await session.scalar(select(func.count()).where(G.visit_id == values["visit_id"], G.archived_at.is_(None)))
        values["position"] = count or 0
    gift = Gift(**values)
    session.add(gift)
    await session.flush()
    await _pair(session, gift.id, values["reciprocal_gift_id"])
    audit.record(
        session,
        principal,
        "create",
        "gift",
        gift.id,
        summary=f"Gift “{values['description'][:80]}” recorded",
        changes={k: [None, v] for k, v in values.items() if k != "search_text" and v is not None},
    )
    await session.commit()
    return gift.id


async def _stored(session: AsyncSession, gift_id: uuid.UUID) -> dict[str, Any]:
    row = (await session.execute(select(table(Gift)).where(G.id == gift_id))).mappings().first()
    if row is None:
        raise NotFoundError("gift")
    return dict(row)


async def update_gift(session: AsyncSession, principal: Principal, gift_id: uuid.UUID, data: GiftUpdate) -> int:
    require_register_reader(principal)
    before = await _stored(session, gift_id)
    require_manager(principal, N_("keep the gift register"))
    values = await _clean(session, data, gift_id)
    version = await update_versioned(session, Gift, gift_id, data.version, values, what="gift")
    if values["reciprocal_gift_id"] != before["reciprocal_gift_id"]:
        await _pair(session, gift_id, values["reciprocal_gift_id"])
    changes = {k: v for k, v in changes_between(before, values).items() if k != "search_text"}
    summary = f"Gift “{values['description'][:80]}” edited"
    if "disposition" in changes and values["disposition"]:
        with i18n.using("en"):  # the history's summaries are kept in English, as every other one
            summary = f"Gift “{values['description'][:80]}”: {i18n.label(values['disposition']).lower()}"
    audit.record(session, principal, "update", "gift", gift_id, summary=summary, changes=changes)
    await session.commit()
    return version


async def set_archived(session: AsyncSession, principal: Principal, gift_id: uuid.UUID, *, archived: bool, version: int) -> int:
    require_register_reader(principal)
    row = await _stored(session, gift_id)
    require_manager(principal, N_("keep the gift register"))
    return await audit.archive_or_restore(
        session,
        principal,
        Gift,
        "gift",
        gift_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["description"][:80],
    )


def _statement(
    *,
    year: int | None = None,
    institution_id: uuid.UUID | None = None,
    disposition: str | None = None,
    direction: str | None = None,
    q: str | None = None,
    between: tuple[date, date] | None = None,
) -> Select[Any]:
    giver, recipient = table(Institution).alias("giver"), table(Institution).alias("recipient")
    statement = (
        select(
            G.id,
            G.given_on,
            G.direction,
            G.description,
            giver.c.code,
            recipient.c.code,
            G.estimated_value,
            G.currency,
            G.minimal_value,
            G.disposition,
            G.visit_id,
            V.title,
        )
        .select_from(
            table(Gift)
            .join(giver, giver.c.id == G.giver_institution_id)
            .join(recipient, recipient.c.id == G.recipient_institution_id)
            .outerjoin(table(Visit), V.id == G.visit_id)
        )
        .where(G.archived_at.is_(None))
    )
    if year is not None:
        statement = statement.where(G.given_on >= date(year, 1, 1), G.given_on <= date(year, 12, 31))
    if between is not None:
        statement = statement.where(G.given_on >= between[0], G.given_on <= between[1])
    if institution_id is not None:
        statement = statement.where(or_(G.giver_institution_id == institution_id, G.recipient_institution_id == institution_id))
    if disposition == NO_DISPOSITION:
        statement = statement.where(G.disposition.is_(None))
    elif disposition:
        statement = statement.where(G.disposition == disposition)
    if direction:
        statement = statement.where(G.direction == direction)
    for term in search_terms(q):
        statement = statement.where(G.search_text.contains(term, autoescape=True))
    return statement


SORTS = {"given_on": G.given_on, "value": G.estimated_value, "disposition": G.disposition}


async def list_gifts(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    per_page: int = 25,
    sort: str | None = None,
    **filters: Any,
) -> GiftPage:
    require_register_reader(principal)
    paged = await fetch_page(
        session, _statement(**filters), page=page, per_page=per_page, order=order_by(sort, SORTS, "-given_on"), tiebreak=G.id
    )
    return GiftPage(items=[GiftRow(*r) for r in paged.rows], total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page)


async def all_gifts(session: AsyncSession, principal: Principal, **filters: Any) -> list[GiftRow]:
    """Every entry the filters select, oldest first: the CSV export and the yearly register."""
    require_register_reader(principal)
    statement = _statement(**filters).order_by(G.given_on, G.position, G.id).limit(EXPORT_LIMIT)
    return [GiftRow(*r) for r in (await session.execute(statement)).all()]


async def years(session: AsyncSession) -> list[int]:
    """The years the register holds, latest first (the filter's choices)."""
    year = extract("year", G.given_on)
    return [int(y) for y in await session.scalars(select(year).where(G.archived_at.is_(None)).group_by(year).order_by(year.desc()))]


async def get_gift(session: AsyncSession, principal: Principal, gift_id: uuid.UUID) -> GiftOut:
    require_register_reader(principal)
    giver, recipient = table(Institution).alias("giver"), table(Institution).alias("recipient")
    giver_p, recipient_p = table(Person).alias("giver_p"), table(Person).alias("recipient_p")
    other = table(Gift).alias("other")
    row = (
        (
            await session.execute(
                select(
                    table(Gift),
                    V.title.label("visit_title"),
                    giver.c.name.label("giver_name"),
                    recipient.c.name.label("recipient_name"),
                    giver_p.c.name.label("giver_person"),
                    recipient_p.c.name.label("recipient_person"),
                    other.c.direction.label("other_direction"),
                    other.c.description.label("other_description"),
                )
                .select_from(
                    table(Gift)
                    .join(giver, giver.c.id == G.giver_institution_id)
                    .join(recipient, recipient.c.id == G.recipient_institution_id)
                    .outerjoin(table(Visit), V.id == G.visit_id)
                    .outerjoin(giver_p, giver_p.c.id == G.giver_person_id)
                    .outerjoin(recipient_p, recipient_p.c.id == G.recipient_person_id)
                    .outerjoin(other, and_(other.c.id == G.reciprocal_gift_id, other.c.archived_at.is_(None)))
                )
                .where(G.id == gift_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError("gift")
    home_is_giver = row["direction"] == "given"
    return GiftOut(
        id=row["id"],
        direction=row["direction"],
        description=row["description"],
        given_on=row["given_on"],
        visit_id=row["visit_id"],
        visit_title=row["visit_title"],
        partner_institution_id=row["recipient_institution_id"] if home_is_giver else row["giver_institution_id"],
        giver_institution_id=row["giver_institution_id"],
        giver_institution=row["giver_name"],
        giver_person_id=row["giver_person_id"],
        giver_person=row["giver_person"],
        recipient_institution_id=row["recipient_institution_id"],
        recipient_institution=row["recipient_name"],
        recipient_person_id=row["recipient_person_id"],
        recipient_person=row["recipient_person"],
        estimated_value=row["estimated_value"],
        currency=row["currency"],
        minimal_value=row["minimal_value"],
        valuation=row["valuation"],
        disposition=row["disposition"],
        custodian=row["custodian"],
        location=row["location"],
        disposition_on=row["disposition_on"],
        disposition_note=row["disposition_note"],
        reciprocal=GiftLink(row["reciprocal_gift_id"], row["other_direction"], row["other_description"])
        if row["other_description"] is not None
        else None,
        archived=row["archived_at"] is not None,
        version=row["version"],
        updated_at=row["updated_at"],
    )


async def reciprocal_choices(session: AsyncSession, gift: GiftOut | None, direction: str | None) -> list[GiftLink]:
    """Gifts that could answer this one: the other direction, same partner (the same visit first), not archived."""
    wanted = "received" if (gift.direction if gift else direction) == "given" else "given"
    statement = select(G.id, G.direction, G.description).where(G.archived_at.is_(None), G.direction == wanted)
    if gift is not None:
        partner = gift.partner_institution_id
        statement = statement.where(or_(G.giver_institution_id == partner, G.recipient_institution_id == partner), G.id != gift.id)
        if gift.visit_id:
            statement = statement.order_by((G.visit_id == gift.visit_id).desc())
    statement = statement.order_by(G.given_on.desc()).limit(200)
    return [GiftLink(*r) for r in (await session.execute(statement)).all()]


def totals(rows: list[GiftRow]) -> dict[str, dict[str, Decimal]]:
    """Estimated value by direction and currency (amounts in different currencies are never added together)."""
    sums: dict[str, dict[str, Decimal]] = {"given": {}, "received": {}}
    for row in rows:
        if row.estimated_value is not None and row.currency:
            by_currency = sums[row.direction]
            by_currency[row.currency] = by_currency.get(row.currency, Decimal(0)) + row.estimated_value
    return sums


async def attachment_owner(session: AsyncSession, principal: Principal, gift_id: uuid.UUID) -> Owner:
    """Photos of the gift, a receipt, the letter that came with it: the department's documents."""
    require_register_reader(principal)
    row = await _stored(session, gift_id)
    return Owner(
        label=i18n.gettext("the gift “%(description)s”", description=row["description"][:80]),
        url=f"/gifts/{gift_id}",
        may_add=principal.manages_records,
    )
