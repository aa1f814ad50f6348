"""HTML pages of the exchange of publications: the ledger (balance, arrangements, shipments), an arrangement with its
five years, a shipment with its list of items (typed, or imported from CSV) and its receipt."""

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audience, audit, charts, csvfiles, files, i18n
from cooperation.auth.access import Principal, require_manager
from cooperation.errors import ConflictError, ServiceError, StaleVersionError, ValidationFailed
from cooperation.forms import listed, parse_form, parse_rows, stale_resubmission
from cooperation.i18n import N_
from cooperation.partners.services import institution_choices
from cooperation.reports import periods
from cooperation.web import form_dict, query_int, query_str, query_uuid, refusal_page, render, see_other
from exchanges import publication_services as services
from exchanges import summary
from exchanges.publication_schemas import (
    ArrangementIn,
    ArrangementOut,
    ArrangementStatus,
    ArrangementStatusIn,
    ArrangementUpdate,
    Basis,
    ItemCategory,
    ItemIn,
    PublicationFormat,
    RequestedBy,
    ShipmentIn,
    ShipmentOut,
    ShipmentStatus,
    ShipmentStatusIn,
    ShipmentUpdate,
)

ARRANGEMENT_FIELDS = ("partner_institution_id", "agreement_id", "commitment_id", "basis", "series", "subjects", "review_on", "notes")
SHIPMENT_FIELDS = (
    "direction",
    "shipped_on",
    "partner_institution_id",
    "arrangement_id",
    "reference",
    "carrier",
    "tracking_number",
    "customs_document",
    "note",
)
ITEM_FIELDS = ("title", "identifier", "category", "copies", "value", "currency")
BLANK_ROWS = 3
EXPORT_HEADER = (
    "shipped_on",
    "direction",
    "partner",
    "reference",
    "status",
    "title",
    "identifier",
    "category",
    "copies",
    "value",
    "currency",
)


def _year(request: Request[Any, Any, Any]) -> int:
    year = query_int(request, "year", date.today().year)
    return year if 1900 <= year <= 2999 else date.today().year


class PublicationViews(Controller):
    path = "/publications"
    include_in_schema = False

    @get("/", name="publications")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        year = _year(request)
        direction, status = query_str(request, "direction"), query_str(request, "status")
        filters = {
            "institution_id": query_uuid(request, "partner"),
            "direction": direction if direction in ("sent", "received") else None,
            "status": status if status in ShipmentStatus.__members__.values() else None,
            "year": year,
            "q": query_str(request, "q"),
        }
        page = await services.list_shipments(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            **filters,
        )
        return render(
            request,
            "exchanges/publications.html",
            year=year,
            years=list(range(date.today().year, date.today().year - 10, -1)),
            balances=await services.balance(db, principal, year),
            arrangements=await services.list_arrangements(db, principal),
            page=page,
            filters=filters,
            statuses=list(ShipmentStatus),
            institutions=await institution_choices(db, principal),
        )

    @get("/export.csv", name="publications_csv")
    async def export(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        """Every item sent or received in the year (as the filters select), one line each."""
        year = _year(request)
        filters = {"year": year, "institution_id": query_uuid(request, "partner")}
        rows = await services.items_for_export(db, principal, **filters)
        return csvfiles.response(f"publications-{year}.csv", EXPORT_HEADER, rows)

    @get("/report.csv", name="publications_report_csv")
    async def report_csv(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        """The yearly exchange report's figures as a table: items sent and received per partner and category."""
        year = _year(request)
        report = await summary.publications_report(db, principal, request.app.state.settings, periods.year(year))
        lines = (
            (year, p["code"], p["name"], direction, category, p[direction][category])
            for p in report["partners"]
            for direction in ("sent", "received")
            for category in report["categories"]
            if p[direction][category]
        )
        return csvfiles.response(
            f"exchange-report-{year}.csv", ("year", "partner", "partner_name", "direction", "category", "items"), lines
        )

    # ---- arrangements ----

    async def _arrangement_form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        errors: dict[str, str],
        *,
        arrangement_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        agreements = await services.exchange_agreements(db, principal)
        return render(
            request,
            "exchanges/arrangement_form.html",
            status_code=status_code,
            values=values,
            errors=errors,
            meanwhile=meanwhile,
            arrangement_id=arrangement_id,
            institutions=await institution_choices(db, principal),
            agreements=agreements,
            commitments=await services.commitment_choices(db, [a[0] for a in agreements]),
            bases=list(Basis),
            formats=list(PublicationFormat),
        )

    @get("/arrangements/new", name="arrangement_new")
    async def new_arrangement(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        require_manager(principal, N_("keep the exchange of publications"))
        values: dict[str, Any] = {"basis": "blanket", "formats": ["print"]}
        if partner := query_uuid(request, "partner"):
            values["partner_institution_id"] = str(partner)
        return await self._arrangement_form(request, db, principal, values, {})

    @post("/arrangements", name="arrangement_create")
    async def create_arrangement(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        require_manager(principal, N_("keep the exchange of publications"))
        form = await form_dict(request)
        form["formats"] = listed(form.get("formats"))
        try:
            arrangement_id = await services.create_arrangement(db, principal, parse_form(ArrangementIn, form))
        except (ValidationFailed, ConflictError) as exc:
            await db.rollback()
            return await self._arrangement_form(
                request, db, principal, form, exc.errors or {"form": exc.detail}, status_code=exc.status_code
            )
        return see_other(f"/publications/arrangements/{arrangement_id}")

    @get("/arrangements/{arrangement_id:uuid}", name="arrangement")
    async def show_arrangement(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        arrangement_id: FromPath[uuid.UUID],
    ) -> Template:
        year = _year(request)
        arrangement = await services.get_arrangement(db, principal, arrangement_id, year)
        shipments = await services.list_shipments(db, principal, per_page=10, arrangement_id=arrangement_id)
        chart = None
        if arrangement.balance and any(y.sent or y.received for y in arrangement.balance.trend):
            trend = arrangement.balance.trend
            chart = await charts.bars_svg_async(
                [str(y.year) for y in trend],
                {i18n.gettext("Sent"): [y.sent for y in trend], i18n.gettext("Received"): [y.received for y in trend]},
                title=i18n.gettext("Items exchanged, by year"),
            )
        return render(
            request,
            "exchanges/arrangement_detail.html",
            arrangement=arrangement,
            shipments=shipments,
            chart=chart,
            year=year,
            statuses=[s for s in ArrangementStatus if s.value != arrangement.status],
            requesters=list(RequestedBy),
            history=await audit.history(db, "exchange_arrangement", arrangement_id) if principal.reads_everything else [],
        )

    @get("/arrangements/{arrangement_id:uuid}/edit", name="arrangement_edit")
    async def edit_arrangement(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        arrangement_id: FromPath[uuid.UUID],
    ) -> Template:
        arrangement = await services.get_arrangement(db, principal, arrangement_id)
        require_manager(principal, N_("keep the exchange of publications"))
        return await self._arrangement_form(request, db, principal, arrangement_values(arrangement), {}, arrangement_id=arrangement_id)

    @post("/arrangements/{arrangement_id:uuid}", name="arrangement_update")
    async def update_arrangement(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        arrangement_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.get_arrangement(db, principal, arrangement_id)  # 404 before 403, as everywhere
        require_manager(principal, N_("keep the exchange of publications"))
        form = await form_dict(request)
        form["formats"] = listed(form.get("formats"))
        try:
            await services.update_arrangement(db, principal, arrangement_id, parse_form(ArrangementUpdate, form))
        except StaleVersionError:
            await db.rollback()
            form, meanwhile = stale_resubmission(arrangement_values(await services.get_arrangement(db, principal, arrangement_id)), form)
            return await self._arrangement_form(
                request, db, principal, form, {}, arrangement_id=arrangement_id, status_code=409, meanwhile=meanwhile
            )
        except (ValidationFailed, ConflictError) as exc:
            await db.rollback()
            errors = exc.errors or {"form": exc.detail}
            return await self._arrangement_form(
                request, db, principal, form, errors, arrangement_id=arrangement_id, status_code=exc.status_code
            )
        return see_other(f"/publications/arrangements/{arrangement_id}")

    @post("/arrangements/{arrangement_id:uuid}/status", name="arrangement_status")
    async def arrangement_status(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        arrangement_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        back = f"/publications/arrangements/{arrangement_id}"
        await services.get_arrangement(db, principal, arrangement_id)  # a foreign one is not found, whatever the body
        require_manager(principal, N_("keep the exchange of publications"))
        try:
            await services.set_arrangement_status(db, principal, arrangement_id, parse_form(ArrangementStatusIn, await form_dict(request)))
        except ServiceError as exc:
            await db.rollback()
            return refusal_page(request, exc, back)
        return see_other(back)

    # ---- shipments ----

    async def _shipment_form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        rows: list[dict[str, Any]],
        errors: dict[str, str],
        *,
        shipment_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
        blank_rows: int = BLANK_ROWS,
    ) -> Template:
        return render(
            request,
            "exchanges/shipment_form.html",
            status_code=status_code,
            values=values,
            rows=[*rows, *({} for _ in range(blank_rows))],
            errors=errors,
            meanwhile=meanwhile,
            shipment_id=shipment_id,
            institutions=await institution_choices(db, principal),
            arrangements=await services.arrangement_choices(db, principal),
            categories=list(ItemCategory),
        )

    @get("/shipments/new", name="shipment_new")
    async def new_shipment(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        require_manager(principal, N_("keep the exchange of publications"))
        direction = query_str(request, "direction")
        values: dict[str, Any] = {
            "direction": direction if direction in ("sent", "received") else "sent",
            "shipped_on": date.today().isoformat(),
        }
        if arrangement := query_uuid(request, "arrangement"):
            values["arrangement_id"] = str(arrangement)
        return await self._shipment_form(request, db, principal, values, [], {})

    @post("/shipments", name="shipment_create")
    async def create_shipment(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        require_manager(principal, N_("keep the exchange of publications"))
        form = await form_dict(request)
        data, errors, rows = shipment_from_form(form, ShipmentIn)
        if form.get("add_row"):  # more item rows without JavaScript: the form again, as typed, five rows more
            return await self._shipment_form(request, db, principal, form, rows, {}, blank_rows=5)
        if data is not None:
            try:
                shipment_id = await services.create_shipment(db, principal, data)
                return see_other(f"/publications/shipments/{shipment_id}")
            except (ValidationFailed, ConflictError) as exc:
                await db.rollback()
                errors = exc.errors or {"form": exc.detail}
        return await self._shipment_form(request, db, principal, form, rows, errors, status_code=422, blank_rows=1)

    @get("/shipments/{shipment_id:uuid}", name="shipment")
    async def show_shipment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        shipment_id: FromPath[uuid.UUID],
    ) -> Template:
        return await self._shipment_page(request, db, principal, shipment_id, {}, 200)

    async def _shipment_page(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        shipment_id: uuid.UUID,
        errors: dict[str, str],
        status_code: int,
    ) -> Template:
        shipment = await services.get_shipment(db, principal, shipment_id)
        owner = await files.resolve_owner(db, principal, "shipment", shipment_id)
        return render(
            request,
            "exchanges/shipment_detail.html",
            status_code=status_code,
            shipment=shipment,
            errors=errors,
            documents=await files.list_for(db, "shipment", shipment_id, principal=principal),
            audiences=await audience.of_record(db, owner.partner_ids),
            may_upload=owner.may_add,
            history=await audit.history(db, "shipment", shipment_id) if principal.reads_everything else [],
            today=date.today(),
        )

    @get("/shipments/{shipment_id:uuid}/edit", name="shipment_edit")
    async def edit_shipment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        shipment_id: FromPath[uuid.UUID],
    ) -> Template:
        shipment = await services.get_shipment(db, principal, shipment_id)
        require_manager(principal, N_("keep the exchange of publications"))
        values, rows = shipment_values(shipment)
        return await self._shipment_form(request, db, principal, values, rows, {}, shipment_id=shipment_id, blank_rows=1)

    @post("/shipments/{shipment_id:uuid}", name="shipment_update")
    async def update_shipment(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        shipment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.get_shipment(db, principal, shipment_id)
        require_manager(principal, N_("keep the exchange of publications"))
        form = await form_dict(request)
        data, errors, rows = shipment_from_form(form, ShipmentUpdate)
        if form.get("add_row"):
            return await self._shipment_form(request, db, principal, form, rows, {}, shipment_id=shipment_id, blank_rows=5)
        if data is not None:
            assert isinstance(data, ShipmentUpdate)
            try:
                await services.update_shipment(db, principal, shipment_id, data)
                return see_other(f"/publications/shipments/{shipment_id}")
            except StaleVersionError:
                await db.rollback()
                stored, _ = shipment_values(await services.get_shipment(db, principal, shipment_id))
                form, meanwhile = stale_resubmission(stored, form)
                return await self._shipment_form(
                    request, db, principal, form, rows, {}, shipment_id=shipment_id, status_code=409, meanwhile=meanwhile, blank_rows=0
                )
            except (ValidationFailed, ConflictError) as exc:
                await db.rollback()
                errors = exc.errors or {"form": exc.detail}
        return await self._shipment_form(request, db, principal, form, rows, errors, shipment_id=shipment_id, status_code=422, blank_rows=0)

    @post("/shipments/{shipment_id:uuid}/status", name="shipment_status")
    async def shipment_status(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        shipment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        back = f"/publications/shipments/{shipment_id}"
        await services.get_shipment(db, principal, shipment_id)  # a foreign one is not found, whatever the body
        try:
            await services.set_shipment_status(db, principal, shipment_id, parse_form(ShipmentStatusIn, await form_dict(request)))
        except ServiceError as exc:
            await db.rollback()
            return refusal_page(request, exc, back)
        return see_other(back)

    @post("/shipments/{shipment_id:uuid}/items", name="shipment_items_csv")
    async def import_items(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        shipment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A shipment list from a spreadsheet: every line checked, then all written, or none with every error by line."""
        await services.get_shipment(db, principal, shipment_id)
        require_manager(principal, N_("keep the exchange of publications"))
        try:
            content = await csvfiles.read_upload(request)
            replace = (await request.form()).get("replace") == "1"
            await services.import_items_csv(db, principal, shipment_id, content, replace=replace)
        except ValidationFailed as exc:
            await db.rollback()
            return await self._shipment_page(request, db, principal, shipment_id, {"csv": exc.detail, **exc.errors}, 422)
        return see_other(f"/publications/shipments/{shipment_id}#items")

    @get("/shipments/{shipment_id:uuid}/items.csv", name="shipment_items_export")
    async def export_items(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        shipment_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The shipment's list in the very columns an import takes (so a list can go out, be corrected and come back)."""
        shipment = await services.get_shipment(db, principal, shipment_id)
        lines = ((i.title, i.identifier, i.category, i.copies, i.value, i.currency) for i in shipment.items)
        name = f"shipment-{shipment.shipped_on.isoformat()}-{shipment.partner_code}.csv"
        return csvfiles.response(name, services.CSV_COLUMNS, lines)


def shipment_from_form(
    form: dict[str, Any], struct_type: type[ShipmentIn]
) -> tuple[ShipmentIn | None, dict[str, str], list[dict[str, Any]]]:
    """The shipment and its item rows (`item-N-field`, blank rows skipped), every wrong field named."""
    rows, errors, items = parse_rows(form, "item", ITEM_FIELDS, ItemIn, "items", counted_by=("title", "identifier"))
    fields = {k: v for k, v in form.items() if not k.startswith("item-")}
    try:
        data = parse_form(struct_type, {**fields, "items": []}, errors=errors)
    except ValidationFailed as exc:
        return None, exc.errors, rows
    data.items = items
    return data, {}, rows


def arrangement_values(arrangement: ArrangementOut) -> dict[str, Any]:
    values = {field: getattr(arrangement, field) for field in ARRANGEMENT_FIELDS}
    values = {k: "" if v is None else str(v) for k, v in values.items()}
    values["formats"] = list(arrangement.formats)
    values["version"] = arrangement.version
    return values


def shipment_values(shipment: ShipmentOut) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = {field: getattr(shipment, field) for field in SHIPMENT_FIELDS}
    values = {k: "" if v is None else str(v) for k, v in values.items()}
    values["version"] = shipment.version
    rows = [{f: "" if getattr(i, f) is None else str(getattr(i, f)) for f in ITEM_FIELDS} for i in shipment.items]
    return values, rows


routes = [PublicationViews]
