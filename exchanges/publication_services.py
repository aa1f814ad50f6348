"""The exchange of publications: arrangements with partners, the shipments sent and received, their items, and the
balance each year — what an exchange service keeps by spreadsheet today.

Items are counted by copies, never by parcels. A partner librarian sees its own institution's arrangements (unless
the agreement is internal) and shipments, and acknowledges the shipments sent to it; everything else is the
department's. Every list and the balance cost a fixed number of queries.
"""

import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import is_currency
from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import isbn, issn

from agreements.models import Agreement, AgreementParty, Commitment
from agreements.services import Measured, pace
from cooperation import audit, csvfiles, i18n
from cooperation.auth.access import Principal, may_see, require_manager
from cooperation.db import table
from cooperation.errors import ForbiddenError, NotFoundError, TransitionRefused, ValidationFailed
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.dormancy import activity
from cooperation.partners.models import Institution
from cooperation.records import changes_between, fetch_page, fold_for_search, nfc, order_by, search_terms, update_versioned
from exchanges.models import ExchangeArrangement, Shipment, ShipmentItem
from exchanges.publication_schemas import (
    SHIPMENT_TRANSITIONS,
    ArrangementIn,
    ArrangementOut,
    ArrangementRow,
    ArrangementStatus,
    ArrangementStatusIn,
    ArrangementUpdate,
    Balance,
    ItemCategory,
    ItemIn,
    ItemOut,
    PublicationFormat,
    ShipmentIn,
    ShipmentOut,
    ShipmentPage,
    ShipmentRow,
    ShipmentStatus,
    ShipmentStatusIn,
    ShipmentUpdate,
    YearCount,
)

EA = table(ExchangeArrangement).c
SH = table(Shipment).c
SI = table(ShipmentItem).c
I = table(Institution).c  # noqa: E741
A = table(Agreement).c
MAX_ITEMS = 5_000  # one shipment list; a bigger file is two shipments
CSV_COLUMNS = ("title", "identifier", "category", "copies", "value", "currency")
TREND_YEARS = 5
FAR_OFF_RATIO = 2  # one side sends more than twice what it gets…
FAR_OFF_MINIMUM = 20  # …over at least this many items (a first parcel is not an imbalance)
SILENT_DAYS = 365


# ---- who sees what --------------------------------------------------------------------------------------------


def arrangement_visibility(principal: Principal) -> ColumnElement[bool]:
    """Staff see every arrangement; a partner its own institution's, unless the agreement is internal to us."""
    if principal.reads_everything:
        return true()
    if principal.is_partner and principal.institution_id is not None:
        return and_(EA.partner_institution_id == principal.institution_id, may_see(principal, "agreement", EA.agreement_id))
    return false()


def shipment_visibility(principal: Principal) -> ColumnElement[bool]:
    """A partner sees the shipments between its institution and us (those under an arrangement it cannot see, not)."""
    if principal.reads_everything:
        return true()
    if principal.is_partner and principal.institution_id is not None:
        seen = select(EA.id).where(arrangement_visibility(principal))
        return and_(SH.partner_institution_id == principal.institution_id, or_(SH.arrangement_id.is_(None), SH.arrangement_id.in_(seen)))
    return false()


def visible_arrangement_ids(principal: Principal) -> Any:
    return select(EA.id).where(arrangement_visibility(principal))


def visible_shipment_ids(principal: Principal) -> Any:
    return select(SH.id).where(shipment_visibility(principal))


# ---- checks shared by the forms, the API and the CSV import ------------------------------------------------------


def clean_identifier(raw: str | None) -> tuple[str | None, str | None]:
    """(the ISBN or ISSN as printed, hyphenated; or an error). ISBN-10, ISBN-13 and ISSN with their check digits."""
    if raw is None or not raw.strip():
        return None, None
    text = raw.strip().upper().removeprefix("ISBN").removeprefix("ISSN").strip(" :")
    if isbn.is_valid(text):
        return isbn.format(text), None
    if issn.is_valid(text):
        return issn.format(text), None
    return None, i18n.gettext("%(value)s is not a valid ISBN or ISSN (check digit included)", value=repr(raw.strip()))


def _clean_items(items: Iterable[ItemIn], prefix: str = "items") -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        identifier, problem = clean_identifier(item.identifier)
        if problem:
            errors[f"{prefix}.{index}.identifier"] = problem
        if (item.value is None) != (item.currency is None):
            errors[f"{prefix}.{index}.currency"] = i18n.gettext("give both the amount and its ISO 4217 currency")
        elif item.currency and not is_currency(item.currency.upper()):
            errors[f"{prefix}.{index}.currency"] = i18n.gettext("%(code)s is not an ISO 4217 currency code", code=item.currency.upper())
        if item.value is not None and (not item.value.is_finite() or item.value < 0 or item.value >= Decimal("1e12")):
            errors[f"{prefix}.{index}.value"] = i18n.gettext("must be zero or more")
        if not 1 <= item.copies <= 100_000:
            errors[f"{prefix}.{index}.copies"] = i18n.gettext("must be a whole number from 1 to 100,000")
        title = nfc(" ".join(item.title.split()))
        if not title:
            errors[f"{prefix}.{index}.title"] = i18n.gettext("is required")
        rows.append(
            {
                "title": title,
                "identifier": identifier,
                "category": item.category.value,
                "copies": item.copies,
                "value": item.value,
                "currency": item.currency.upper() if item.currency else None,
                "position": index,
            }
        )
    if len(rows) > MAX_ITEMS:
        errors[prefix] = i18n.gettext("at most %(n)s items in one shipment", n=f"{MAX_ITEMS:,}")
    return rows, errors


# ---- arrangements -----------------------------------------------------------------------------------------------


async def _clean_arrangement(session: AsyncSession, data: ArrangementIn) -> dict[str, Any]:
    errors: dict[str, str] = {}
    agreement = (await session.execute(select(A.kind, A.reference).where(A.id == data.agreement_id))).first()
    if agreement is None:
        errors["agreement_id"] = i18n.gettext("no such agreement")
    elif agreement.kind != "exchange_of_publications":
        errors["agreement_id"] = i18n.gettext("choose an agreement of the kind “exchange of publications”")
    else:
        P = table(AgreementParty).c
        party = await session.scalar(
            select(P.institution_id).where(P.agreement_id == data.agreement_id, P.institution_id == data.partner_institution_id)
        )
        if party is None:
            errors["partner_institution_id"] = i18n.gettext("is not a party to %(reference)s", reference=agreement.reference)
    if data.commitment_id is not None:
        C = table(Commitment).c
        owner = await session.scalar(select(C.agreement_id).where(C.id == data.commitment_id))
        if owner != data.agreement_id:
            errors["commitment_id"] = i18n.gettext("is not a commitment of that agreement")
    if errors:
        raise ValidationFailed(errors)

    def text(value: str | None) -> str | None:
        return nfc(value.strip()) if value and value.strip() else None

    return {
        "partner_institution_id": data.partner_institution_id,
        "agreement_id": data.agreement_id,
        "commitment_id": data.commitment_id,
        "basis": data.basis.value,
        "series": text(data.series),
        "subjects": text(data.subjects),
        "formats": [f.value for f in PublicationFormat if f in data.formats],  # in the vocabulary's order, once each
        "review_on": data.review_on,
        "notes": nfc(data.notes.strip()),
    }


async def create_arrangement(session: AsyncSession, principal: Principal, data: ArrangementIn) -> uuid.UUID:
    require_manager(principal, N_("keep the exchange of publications"))
    values = await _clean_arrangement(session, data)
    arrangement = ExchangeArrangement(**values)
    session.add(arrangement)
    await session.flush()
    audit.record(
        session,
        principal,
        "create",
        "exchange_arrangement",
        arrangement.id,
        summary="Exchange arrangement recorded",
        changes={k: [None, v] for k, v in values.items() if v not in (None, "", [])},
    )
    await session.commit()
    return arrangement.id


async def _arrangement_row(session: AsyncSession, principal: Principal, arrangement_id: uuid.UUID) -> dict[str, Any]:
    row = (
        (await session.execute(select(table(ExchangeArrangement)).where(EA.id == arrangement_id, arrangement_visibility(principal))))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError("exchange arrangement")
    return dict(row)


async def update_arrangement(session: AsyncSession, principal: Principal, arrangement_id: uuid.UUID, data: ArrangementUpdate) -> int:
    before = await _arrangement_row(session, principal, arrangement_id)
    require_manager(principal, N_("keep the exchange of publications"))
    values = await _clean_arrangement(session, data)
    version = await update_versioned(session, ExchangeArrangement, arrangement_id, data.version, values, what="exchange arrangement")
    audit.record(
        session,
        principal,
        "update",
        "exchange_arrangement",
        arrangement_id,
        summary="Exchange arrangement edited",
        changes=changes_between(before, values),
    )
    await session.commit()
    return version


async def set_arrangement_status(session: AsyncSession, principal: Principal, arrangement_id: uuid.UUID, data: ArrangementStatusIn) -> int:
    """Suspend, stop or resume an arrangement, saying at whose request and when (the yearly report lists it)."""
    row = await _arrangement_row(session, principal, arrangement_id)
    require_manager(principal, N_("keep the exchange of publications"))
    errors: dict[str, str] = {}
    if data.status.value == row["status"]:
        errors["status"] = i18n.gettext("the arrangement is already %(status)s", status=i18n.label(row["status"]).lower())
    if data.status is not ArrangementStatus.ACTIVE and data.requested_by is None:
        errors["requested_by"] = i18n.gettext("say at whose request")
    if errors:
        raise ValidationFailed(errors)
    values = {
        "status": data.status.value,
        "status_requested_by": data.requested_by.value if data.requested_by else None,
        "status_changed_on": data.on or date.today(),
        "status_note": nfc(data.note.strip()) if data.note and data.note.strip() else None,
    }
    version = await update_versioned(session, ExchangeArrangement, arrangement_id, data.version, values, what="exchange arrangement")
    audit.record(
        session,
        principal,
        "transition",
        "exchange_arrangement",
        arrangement_id,
        summary=f"{row['status']} → {data.status.value}",
        changes=changes_between(row, values),
    )
    await session.commit()
    return version


async def set_arrangement_archived(
    session: AsyncSession, principal: Principal, arrangement_id: uuid.UUID, *, archived: bool, version: int
) -> int:
    row = await _arrangement_row(session, principal, arrangement_id)
    require_manager(principal, N_("keep the exchange of publications"))
    return await audit.archive_or_restore(
        session,
        principal,
        ExchangeArrangement,
        "exchange_arrangement",
        arrangement_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["basis"],
    )


async def list_arrangements(session: AsyncSession, principal: Principal, *, include_stopped: bool = True) -> list[ArrangementRow]:
    """Every arrangement this person may see, by partner (a department keeps tens, not thousands)."""
    statement = (
        select(EA.id, EA.partner_institution_id, I.code, I.name, A.reference, EA.basis, EA.status, EA.review_on)
        .join_from(table(ExchangeArrangement), table(Institution), I.id == EA.partner_institution_id)
        .join(table(Agreement), A.id == EA.agreement_id)
        .where(arrangement_visibility(principal), EA.archived_at.is_(None))
        .order_by(I.code, EA.created_at)
    )
    if not include_stopped:
        statement = statement.where(EA.status != ArrangementStatus.STOPPED.value)
    return [ArrangementRow(*r) for r in (await session.execute(statement)).all()]


async def get_arrangement(
    session: AsyncSession, principal: Principal, arrangement_id: uuid.UUID, year: int | None = None
) -> ArrangementOut:
    row = await _arrangement_row(session, principal, arrangement_id)
    C = table(Commitment).c
    facts = (
        await session.execute(
            select(I.code, I.name, A.reference, A.title, C.text)
            .select_from(table(ExchangeArrangement))
            .join(table(Institution), I.id == EA.partner_institution_id)
            .join(table(Agreement), A.id == EA.agreement_id)
            .outerjoin(table(Commitment), C.id == EA.commitment_id)
            .where(EA.id == arrangement_id)
        )
    ).one()
    balances = await balance(session, principal, year or date.today().year, partner_ids=[row["partner_institution_id"]])
    return ArrangementOut(
        id=row["id"],
        partner_institution_id=row["partner_institution_id"],
        partner_code=facts.code,
        partner_name=facts.name,
        agreement_id=row["agreement_id"],
        agreement_reference=facts.reference,
        agreement_title=facts.title,
        commitment_id=row["commitment_id"],
        commitment_text=facts.text,
        basis=row["basis"],
        series=row["series"],
        subjects=row["subjects"],
        formats=list(row["formats"] or []),
        review_on=row["review_on"],
        status=row["status"],
        status_requested_by=row["status_requested_by"],
        status_changed_on=row["status_changed_on"],
        status_note=row["status_note"],
        notes=row["notes"],
        balance=balances[0] if balances else None,
        archived=row["archived_at"] is not None,
        version=row["version"],
        updated_at=row["updated_at"],
    )


async def arrangement_choices(session: AsyncSession, principal: Principal) -> list[ArrangementRow]:
    return await list_arrangements(session, principal, include_stopped=False)


async def exchange_agreements(session: AsyncSession, principal: Principal) -> list[tuple[uuid.UUID, str, str]]:
    """Agreements an arrangement can rest on: of the kind "exchange of publications", not archived."""
    rows = await session.execute(
        select(A.id, A.reference, A.title)
        .where(A.kind == "exchange_of_publications", A.archived_at.is_(None), may_see(principal, "agreement", A.id))
        .order_by(A.reference)
    )
    return [(r.id, r.reference, r.title) for r in rows]


async def commitment_choices(session: AsyncSession, agreement_ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(agreement, commitment, text) for the commitments a ledger could measure: those with a yearly target."""
    C = table(Commitment).c
    if not agreement_ids:
        return []
    rows = await session.execute(
        select(C.agreement_id, C.id, C.text).where(C.agreement_id.in_(agreement_ids), C.archived_at.is_(None)).order_by(C.text)
    )
    return [(r.agreement_id, r.id, r.text) for r in rows]


# ---- shipments --------------------------------------------------------------------------------------------------


async def _clean_shipment(session: AsyncSession, data: ShipmentIn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    errors: dict[str, str] = {}
    partner = data.partner_institution_id
    if data.arrangement_id is not None:
        found = (await session.execute(select(EA.partner_institution_id, EA.status).where(EA.id == data.arrangement_id))).first()
        if found is None:
            errors["arrangement_id"] = i18n.gettext("no such arrangement")
        elif partner is not None and partner != found.partner_institution_id:
            errors["partner_institution_id"] = i18n.gettext("is not the arrangement's partner")
        else:
            partner = found.partner_institution_id
    if partner is None and "arrangement_id" not in errors:
        errors["partner_institution_id"] = i18n.gettext("choose the partner, or the arrangement the shipment comes under")
    elif partner is not None:
        home = await session.scalar(select(I.is_home).where(I.id == partner))
        if home is None:
            errors["partner_institution_id"] = i18n.gettext("no such institution")
        elif home:
            errors["partner_institution_id"] = i18n.gettext("choose the partner: the other side of the exchange is always us")
    if data.shipped_on > date.today() + timedelta(days=366):
        errors["shipped_on"] = i18n.gettext("is more than a year ahead")
    items, item_errors = _clean_items(data.items)
    errors |= item_errors
    if errors:
        raise ValidationFailed(errors)

    def text(value: str | None) -> str | None:
        return nfc(value.strip()) if value and value.strip() else None

    values: dict[str, Any] = {
        "partner_institution_id": partner,
        "arrangement_id": data.arrangement_id,
        "direction": data.direction.value,
        "shipped_on": data.shipped_on,
        "reference": text(data.reference),
        "carrier": text(data.carrier),
        "tracking_number": text(data.tracking_number),
        "customs_document": text(data.customs_document),
        "note": text(data.note),
    }
    values["search_text"] = fold_for_search(
        values["reference"], values["tracking_number"], values["note"], *(i["title"] for i in items[:200])
    )
    return values, items


async def create_shipment(session: AsyncSession, principal: Principal, data: ShipmentIn) -> uuid.UUID:
    require_manager(principal, N_("keep the exchange of publications"))
    values, items = await _clean_shipment(session, data)
    initial = ShipmentStatus.SENT if data.direction.value == "sent" else ShipmentStatus.RECEIVED
    shipment = Shipment(**values, status=initial.value, status_on=data.shipped_on)
    session.add(shipment)
    await session.flush()
    session.add_all(ShipmentItem(shipment_id=shipment.id, **item) for item in items)
    audit.record(
        session,
        principal,
        "create",
        "shipment",
        shipment.id,
        summary=f"Shipment {values['direction']} on {values['shipped_on'].isoformat()}: {sum(i['copies'] for i in items)} items",
    )
    await session.commit()
    return shipment.id


async def _shipment_row(session: AsyncSession, principal: Principal, shipment_id: uuid.UUID) -> dict[str, Any]:
    row = (await session.execute(select(table(Shipment)).where(SH.id == shipment_id, shipment_visibility(principal)))).mappings().first()
    if row is None:
        raise NotFoundError("shipment")
    return dict(row)


async def update_shipment(session: AsyncSession, principal: Principal, shipment_id: uuid.UUID, data: ShipmentUpdate) -> int:
    """The shipment and its list of items as given (the list replaces the stored one)."""
    before = await _shipment_row(session, principal, shipment_id)
    require_manager(principal, N_("keep the exchange of publications"))
    values, items = await _clean_shipment(session, data)
    if values["direction"] != before["direction"] and before["status"] != (
        ShipmentStatus.SENT if before["direction"] == "sent" else ShipmentStatus.RECEIVED
    ):
        raise ValidationFailed({"direction": i18n.gettext("cannot change once the shipment's receipt is recorded")})
    version = await update_versioned(session, Shipment, shipment_id, data.version, values, what="shipment")
    await _replace_items(session, shipment_id, items)
    changes = {k: v for k, v in changes_between(before, values).items() if k != "search_text"}
    audit.record(
        session,
        principal,
        "update",
        "shipment",
        shipment_id,
        summary=f"Shipment edited: {sum(i['copies'] for i in items)} items",
        changes=changes,
    )
    await session.commit()
    return version


async def _replace_items(session: AsyncSession, shipment_id: uuid.UUID, items: list[dict[str, Any]]) -> None:
    await session.execute(delete(ShipmentItem).where(SI.shipment_id == shipment_id))
    session.add_all(ShipmentItem(shipment_id=shipment_id, **item) for item in items)


async def set_shipment_status(
    session: AsyncSession, principal: Principal, shipment_id: uuid.UUID, data: ShipmentStatusIn, *, today: date | None = None
) -> int:
    """Received, acknowledged or missing. The partner a shipment was sent to may acknowledge it itself."""
    row = await _shipment_row(session, principal, shipment_id)
    current, target = ShipmentStatus(row["status"]), data.status
    partner_acknowledges = principal.is_partner and row["direction"] == "sent" and target is ShipmentStatus.ACKNOWLEDGED
    if not (principal.manages_records or partner_acknowledges):
        raise ForbiddenError(
            i18n.gettext("Only the cooperation department records a shipment's arrival or loss; you may acknowledge what was sent to you.")
        )
    if target not in SHIPMENT_TRANSITIONS[current]:
        allowed = ", ".join(i18n.label(t.value).lower() for t in SHIPMENT_TRANSITIONS[current]) or i18n.gettext(
            "none (this is a final state)"
        )
        raise TransitionRefused(
            i18n.gettext(
                "A shipment that is %(current)s cannot become %(target)s; allowed next: %(allowed)s.",
                current=i18n.label(current.value).lower(),
                target=i18n.label(target.value).lower(),
                allowed=allowed,
            )
        )
    on = data.on or today or date.today()
    if on < row["shipped_on"]:
        raise ValidationFailed({"on": i18n.gettext("cannot be before the shipment (%(day)s)", day=i18n.format_day(row["shipped_on"]))})
    values = {"status": target.value, "status_on": on}
    version = await update_versioned(session, Shipment, shipment_id, data.version, values, what="shipment")
    audit.record(session, principal, "transition", "shipment", shipment_id, summary=f"{current.value} → {target.value}")
    await session.commit()
    return version


async def set_shipment_archived(
    session: AsyncSession, principal: Principal, shipment_id: uuid.UUID, *, archived: bool, version: int
) -> int:
    row = await _shipment_row(session, principal, shipment_id)
    require_manager(principal, N_("keep the exchange of publications"))
    return await audit.archive_or_restore(
        session,
        principal,
        Shipment,
        "shipment",
        shipment_id,
        archived=archived,
        currently_archived=row["archived_at"] is not None,
        version=version,
        label=row["reference"] or row["shipped_on"].isoformat(),
    )


def _shipments_statement(principal: Principal, **filters: Any) -> Any:
    counts = select(SI.shipment_id, func.count().label("titles"), func.sum(SI.copies).label("copies")).group_by(SI.shipment_id).subquery()
    statement = (
        select(
            SH.id,
            SH.shipped_on,
            SH.direction,
            SH.partner_institution_id,
            I.code,
            SH.reference,
            SH.status,
            func.coalesce(counts.c.titles, 0),
            func.coalesce(counts.c.copies, 0),
        )
        .join_from(table(Shipment), table(Institution), I.id == SH.partner_institution_id)
        .outerjoin(counts, counts.c.shipment_id == SH.id)
        .where(shipment_visibility(principal), SH.archived_at.is_(None))
    )
    if filters.get("institution_id"):
        statement = statement.where(SH.partner_institution_id == filters["institution_id"])
    if filters.get("arrangement_id"):
        statement = statement.where(SH.arrangement_id == filters["arrangement_id"])
    if filters.get("direction"):
        statement = statement.where(SH.direction == filters["direction"])
    if filters.get("status"):
        statement = statement.where(SH.status == filters["status"])
    if filters.get("year"):
        statement = statement.where(SH.shipped_on >= date(filters["year"], 1, 1), SH.shipped_on <= date(filters["year"], 12, 31))
    for term in search_terms(filters.get("q")):
        statement = statement.where(SH.search_text.contains(term, autoescape=True))
    return statement


async def list_shipments(
    session: AsyncSession, principal: Principal, *, page: int = 1, per_page: int = 25, sort: str | None = None, **filters: Any
) -> ShipmentPage:
    paged = await fetch_page(
        session,
        _shipments_statement(principal, **filters),
        page=page,
        per_page=per_page,
        order=order_by(sort, {"shipped_on": SH.shipped_on, "status": SH.status}, "-shipped_on"),
        tiebreak=SH.id,
    )
    return ShipmentPage(
        items=[ShipmentRow(*r) for r in paged.rows], total=paged.total, total_exact=paged.total_exact, page=page, per_page=per_page
    )


async def get_shipment(session: AsyncSession, principal: Principal, shipment_id: uuid.UUID) -> ShipmentOut:
    row = await _shipment_row(session, principal, shipment_id)
    partner = (await session.execute(select(I.code, I.name).where(I.id == row["partner_institution_id"]))).one()
    items = [
        ItemOut(*r)
        for r in await session.execute(
            select(SI.title, SI.identifier, SI.category, SI.copies, SI.value, SI.currency)
            .where(SI.shipment_id == shipment_id)
            .order_by(SI.position)
        )
    ]
    values: dict[str, Decimal] = {}
    for item in items:
        if item.value is not None and item.currency:
            values[item.currency] = values.get(item.currency, Decimal(0)) + item.value * item.copies
    status = ShipmentStatus(row["status"])
    allowed = [t.value for t in SHIPMENT_TRANSITIONS[status]]
    may_acknowledge = principal.is_partner and row["direction"] == "sent" and "acknowledged" in allowed
    return ShipmentOut(
        id=row["id"],
        direction=row["direction"],
        shipped_on=row["shipped_on"],
        partner_institution_id=row["partner_institution_id"],
        partner_code=partner.code,
        partner_name=partner.name,
        arrangement_id=row["arrangement_id"],
        reference=row["reference"],
        carrier=row["carrier"],
        tracking_number=row["tracking_number"],
        customs_document=row["customs_document"],
        status=row["status"],
        status_on=row["status_on"],
        note=row["note"],
        items=items,
        copies=sum(i.copies for i in items),
        values=values,
        allowed_transitions=allowed if principal.manages_records else (["acknowledged"] if may_acknowledge else []),
        may_edit=principal.manages_records,
        may_acknowledge=may_acknowledge,
        archived=row["archived_at"] is not None,
        version=row["version"],
        updated_at=row["updated_at"],
    )


# ---- shipment lists as CSV -------------------------------------------------------------------------------------


def parse_items_csv(content: bytes) -> list[ItemIn]:
    """`title,identifier,category,copies,value,currency`: every bad line named at once, or nothing."""
    rows, errors = csvfiles.read(content, CSV_COLUMNS, ("title",))
    items: list[ItemIn] = []
    categories = tuple(c.value for c in ItemCategory)
    for line, row in rows:
        problems = []
        title = row.get("title", "")
        if not title:
            problems.append(i18n.gettext("title: is required"))
        elif len(title) > 500:
            problems.append(i18n.gettext("title: longer than 500 characters"))
        if any(ch < " " and ch not in "\t" for value in row.values() for ch in value):
            problems.append(i18n.gettext("contains a control character (such as NUL)"))
        _, identifier_problem = clean_identifier(row.get("identifier"))
        if identifier_problem:
            problems.append(f"identifier: {identifier_problem}")
        category = row.get("category") or "monograph"
        chosen = i18n.value_of(category, categories)
        if chosen is None:
            problems.append(
                i18n.gettext("category: %(value)s is not one of %(choices)s", value=repr(category), choices=", ".join(categories))
            )
        copies_text = (row.get("copies") or "1").replace(" ", "")
        copies = int(copies_text) if copies_text.isascii() and copies_text.isdigit() else 0
        if not 1 <= copies <= 100_000:
            problems.append(i18n.gettext("copies: %(value)s is not a whole number from 1 to 100,000", value=repr(row.get("copies"))))
        value: Decimal | None = None
        if raw_value := (row.get("value") or "").replace(" ", "").replace(",", "."):
            try:
                value = Decimal(raw_value)
            except ArithmeticError:
                problems.append(i18n.gettext("value: %(value)s is not an amount such as 12.50", value=repr(row.get("value"))))
            else:
                if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
                    problems.append(i18n.gettext("value: must be zero or more"))
        currency = (row.get("currency") or "").upper() or None
        if (value is None) != (currency is None) and not any(p.startswith("value") for p in problems):
            problems.append(i18n.gettext("currency: give both the amount and its ISO 4217 currency"))
        elif currency and not is_currency(currency):
            problems.append(i18n.gettext("currency: %(code)s is not an ISO 4217 currency code", code=currency))
        if problems:
            errors[f"line {line}"] = "; ".join(problems)
            continue
        assert chosen is not None  # a problem otherwise, and the line was skipped
        items.append(
            ItemIn(
                title=title,
                identifier=row.get("identifier") or None,
                category=ItemCategory(chosen),
                copies=copies,
                value=value,
                currency=currency,
            )
        )
    if errors:
        raise ValidationFailed(errors)
    if not items:
        raise ValidationFailed({"file": i18n.gettext("has no rows under its header")})
    if len(items) > MAX_ITEMS:
        raise ValidationFailed({"file": i18n.gettext("at most %(n)s items in one shipment", n=f"{MAX_ITEMS:,}")})
    return items


async def import_items_csv(
    session: AsyncSession, principal: Principal, shipment_id: uuid.UUID, content: bytes, *, replace: bool = False
) -> int:
    """Add the file's items to the shipment (or replace its list): all the lines or none. Returns the items written."""
    row = await _shipment_row(session, principal, shipment_id)
    require_manager(principal, N_("keep the exchange of publications"))
    items, errors = _clean_items(parse_items_csv(content), prefix="line")
    if errors:  # a check digit or a currency code that passed the reader but not the rules (never, but say so)
        raise ValidationFailed(errors)
    kept: list[dict[str, Any]] = []
    if not replace:
        kept = [
            dict(r._mapping)
            for r in await session.execute(
                select(SI.title, SI.identifier, SI.category, SI.copies, SI.value, SI.currency)
                .where(SI.shipment_id == shipment_id)
                .order_by(SI.position)
            )
        ]
    merged = [{**item, "position": position} for position, item in enumerate([*kept, *items])]
    if len(merged) > MAX_ITEMS:
        raise ValidationFailed({"file": i18n.gettext("at most %(n)s items in one shipment", n=f"{MAX_ITEMS:,}")})
    await _replace_items(session, shipment_id, merged)
    # The shipment changed: a new version, so that a form opened before the import cannot overwrite its list.
    await update_versioned(session, Shipment, shipment_id, row["version"], {}, what="shipment")
    copies = sum(i["copies"] for i in items)
    summary = f"Shipment list imported from CSV: {len(items)} lines, {copies} items" + (" (list replaced)" if replace else "")
    audit.record(session, principal, "import", "shipment", shipment_id, summary=summary)
    await session.commit()
    return len(items)


async def items_for_export(session: AsyncSession, principal: Principal, **filters: Any) -> list[tuple[Any, ...]]:
    """One line per item of the shipments the filters select (a year's ledger, or one shipment's list)."""
    shipments = _shipments_statement(principal, **filters).subquery()
    statement = (
        select(
            shipments.c.shipped_on,
            shipments.c.direction,
            shipments.c.code,
            shipments.c.reference,
            shipments.c.status,
            SI.title,
            SI.identifier,
            SI.category,
            SI.copies,
            SI.value,
            SI.currency,
        )
        .join_from(table(ShipmentItem), shipments, shipments.c.id == SI.shipment_id)
        .order_by(shipments.c.shipped_on, shipments.c.id, SI.position)
        .limit(200_000)
    )
    if filters.get("shipment_id"):
        statement = statement.where(SI.shipment_id == filters["shipment_id"])
    return [tuple(r) for r in (await session.execute(statement)).all()]


# ---- the balance ------------------------------------------------------------------------------------------------


async def balance(
    session: AsyncSession, principal: Principal, year: int, *, partner_ids: list[uuid.UUID] | None = None, today: date | None = None
) -> list[Balance]:
    """Items and value sent and received per partner in `year`, the five years to it, and the flags: an exchange far
    off balance, or a partner with an active arrangement that has sent nothing for a year. Three queries."""
    today = today or date.today()
    first_year = year - TREND_YEARS + 1
    shipped_year = func.extract("year", SH.shipped_on)
    live = (shipment_visibility(principal), SH.archived_at.is_(None), SH.status != ShipmentStatus.MISSING.value)
    partner_filter = [SH.partner_institution_id.in_(partner_ids)] if partner_ids is not None else []
    counted = await session.execute(
        select(SH.partner_institution_id, SH.direction, shipped_year, func.sum(SI.copies))
        .join_from(table(ShipmentItem), table(Shipment), SH.id == SI.shipment_id)
        .where(*live, *partner_filter, SH.shipped_on >= date(first_year, 1, 1), SH.shipped_on <= date(year, 12, 31))
        .group_by(SH.partner_institution_id, SH.direction, shipped_year)
    )
    copies: dict[tuple[uuid.UUID, str, int], int] = {(p, d, int(y)): int(n or 0) for p, d, y, n in counted}
    valued = await session.execute(
        select(SH.partner_institution_id, SH.direction, SI.currency, func.sum(SI.value * SI.copies))
        .join_from(table(ShipmentItem), table(Shipment), SH.id == SI.shipment_id)
        .where(*live, *partner_filter, SI.value.is_not(None), SH.shipped_on >= date(year, 1, 1), SH.shipped_on <= date(year, 12, 31))
        .group_by(SH.partner_institution_id, SH.direction, SI.currency)
    )
    values: dict[tuple[uuid.UUID, str], dict[str, Decimal]] = {}
    for partner, direction, currency, amount in valued:
        values.setdefault((partner, direction), {})[currency] = Decimal(amount).quantize(Decimal("0.01"))
    # Partners: those with an arrangement, and those shipments were exchanged with in the five years.
    last_received = (
        select(SH.partner_institution_id.label("partner"), func.max(SH.shipped_on).label("last"))
        .where(*live, SH.direction == "received")
        .group_by(SH.partner_institution_id)
        .subquery()
    )
    arrangement_partners = select(EA.partner_institution_id).where(arrangement_visibility(principal), EA.archived_at.is_(None))
    shipment_partners = {p for p, _, _ in copies}
    statement = (
        select(I.id, I.code, I.name, EA.id, EA.status, last_received.c.last)
        .select_from(table(Institution))
        .outerjoin(
            table(ExchangeArrangement), and_(EA.partner_institution_id == I.id, EA.archived_at.is_(None), arrangement_visibility(principal))
        )
        .outerjoin(last_received, last_received.c.partner == I.id)
        .where(or_(I.id.in_(arrangement_partners), I.id.in_(shipment_partners)))
        .order_by(I.code, EA.status != ArrangementStatus.ACTIVE.value, EA.created_at)
    )
    if partner_ids is not None:
        statement = statement.where(I.id.in_(partner_ids))
    result: dict[uuid.UUID, Balance] = {}
    for institution_id, code, name, arrangement_id, status, last in await session.execute(statement):
        if institution_id in result:  # its first arrangement (an active one) speaks for it
            continue
        sent, received = copies.get((institution_id, "sent", year), 0), copies.get((institution_id, "received", year), 0)
        heavier, lighter = max(sent, received), min(sent, received)
        result[institution_id] = Balance(
            partner_institution_id=institution_id,
            partner_code=code,
            partner_name=name,
            arrangement_id=arrangement_id,
            arrangement_status=status,
            sent=sent,
            received=received,
            sent_value=values.get((institution_id, "sent"), {}),
            received_value=values.get((institution_id, "received"), {}),
            trend=[
                YearCount(y, copies.get((institution_id, "sent", y), 0), copies.get((institution_id, "received", y), 0))
                for y in range(first_year, year + 1)
            ],
            last_received_on=last,
            far_off=heavier >= FAR_OFF_MINIMUM and heavier > FAR_OFF_RATIO * lighter,
            silent=status == ArrangementStatus.ACTIVE.value and (last is None or last < today - timedelta(days=SILENT_DAYS)),
        )
    return list(result.values())


# ---- what other parts of LibCoop ask of the ledger ---------------------------------------------------------------


async def commitment_measures(
    session: AsyncSession, principal: Principal, commitment_ids: list[uuid.UUID], on: date
) -> dict[uuid.UUID, Measured]:
    """A commitment an arrangement names ("exchange 200 publications a year") measured by the items the responsible
    side shipped each year of the agreement's term: ours sent, the partner's received (both, with no one named)."""
    C = table(Commitment).c
    targets = (
        await session.execute(
            select(
                C.id,
                C.yearly_target,
                C.unit,
                C.responsible_institution_id,
                EA.id.label("arrangement_id"),
                I.is_home,
                A.effective_on,
                A.signed_on,
                A.expires_on,
            )
            .join_from(table(Commitment), table(ExchangeArrangement), EA.commitment_id == C.id)
            .join(table(Agreement), A.id == C.agreement_id)
            .outerjoin(table(Institution), I.id == C.responsible_institution_id)
            .where(C.id.in_(commitment_ids), C.yearly_target > 0, EA.archived_at.is_(None), arrangement_visibility(principal))
        )
    ).all()
    if not targets:
        return {}
    shipped = await session.execute(
        select(SH.arrangement_id, SH.direction, func.extract("year", SH.shipped_on), func.sum(SI.copies))
        .join_from(table(ShipmentItem), table(Shipment), SH.id == SI.shipment_id)
        .where(
            SH.arrangement_id.in_([t.arrangement_id for t in targets]),
            SH.archived_at.is_(None),
            SH.status != ShipmentStatus.MISSING.value,
            SH.shipped_on <= on,  # as the ledger stood on the day measured
        )
        .group_by(SH.arrangement_id, SH.direction, func.extract("year", SH.shipped_on))
    )
    by_year: dict[tuple[uuid.UUID, str], dict[int, int]] = {}
    for arrangement_id, direction, year, n in shipped:
        by_year.setdefault((arrangement_id, direction), {})[int(year)] = int(n or 0)
    today = on
    measured: dict[uuid.UUID, Measured] = {}
    for t in targets:
        directions = ("sent",) if t.is_home else ("received",) if t.responsible_institution_id else ("sent", "received")
        start = t.effective_on or t.signed_on or today
        until = min(today, t.expires_on) if t.expires_on else today
        years = range(start.year, until.year + 1)
        per_year = {y: sum(by_year.get((t.arrangement_id, d), {}).get(y, 0) for d in directions) for y in years}
        done = sum(per_year.values())
        end = t.expires_on or date(until.year, 12, 31)
        total = round(t.yearly_target * max((end - start).days, 1) / 365.25)
        unit = t.unit or i18n.gettext("publications")
        label = i18n.gettext(
            "%(done)s of %(total)s %(unit)s exchanged over the term, by the ledger (%(per_year)s)",
            done=f"{done:,}",
            total=f"{total:,}",
            unit=unit,
            per_year=", ".join(
                i18n.gettext("%(year)s: %(done)s of %(target)s", year=y, done=n, target=t.yearly_target) for y, n in per_year.items()
            ),
        )
        share = round(100 * done / total) if total else 0
        measured[t.id] = Measured(
            min(100, share), label, f"/publications/arrangements/{t.arrangement_id}", pace(done, total, start, end, today)
        )
    return measured


def partner_activity() -> list[Any]:
    """Shipments either way, by the day they left or arrived: an exchange that runs keeps a partnership alive."""
    return [activity(SH.partner_institution_id, "shipment", SH.shipped_on).where(SH.archived_at.is_(None), SH.status != "missing")]


async def shipment_owner(session: AsyncSession, principal: Principal, shipment_id: uuid.UUID) -> Owner:
    """The packing list, the customs declaration, the partner's acknowledgement letter."""
    row = await _shipment_row(session, principal, shipment_id)
    return Owner(
        label=i18n.gettext("the shipment of %(day)s", day=i18n.format_day(row["shipped_on"])),
        url=f"/publications/shipments/{shipment_id}",
        may_add=principal.manages_records or (principal.is_partner and row["partner_institution_id"] == principal.institution_id),
        institution_id=row["partner_institution_id"],
        partner_ids=(row["partner_institution_id"],),
    )
