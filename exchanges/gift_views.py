"""HTML pages of the protocol gift register: the register with its filters and exports, a gift with where it went."""

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audience, audit, csvfiles, files
from cooperation.auth.access import Principal, require_manager
from cooperation.errors import ConflictError, StaleVersionError, ValidationFailed
from cooperation.forms import parse_form, stale_resubmission
from cooperation.i18n import N_
from cooperation.partners.services import institution_choices, people_of
from cooperation.web import form_dict, query_int, query_str, query_uuid, render, see_other
from exchanges import gift_services as services
from exchanges import services as visit_services
from exchanges.gift_schemas import GiftDisposition, GiftIn, GiftOut, GiftUpdate, GiftValuation

FIELDS = (
    "direction",
    "description",
    "visit_id",
    "partner_institution_id",
    "given_on",
    "giver_person_id",
    "recipient_person_id",
    "estimated_value",
    "currency",
    "minimal_value",
    "valuation",
    "disposition",
    "custodian",
    "location",
    "disposition_on",
    "disposition_note",
    "reciprocal_gift_id",
)
DISPOSITION_FIELDS = ("disposition", "custodian", "location", "disposition_on", "disposition_note")
CSV_HEADER = (
    "date",
    "direction",
    "description",
    "giver",
    "recipient",
    "estimated_value",
    "currency",
    "minimal_value",
    "disposition",
    "visit",
)


def filters_of(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The register's filters from the query string; a value no filter knows is ignored, as on every list."""
    year = query_int(request, "year", 0)
    disposition = query_str(request, "disposition")
    direction = query_str(request, "direction")
    return {
        "year": year if 1900 <= year <= 2999 else None,
        "institution_id": query_uuid(request, "partner"),
        "disposition": disposition if disposition in (*GiftDisposition, services.NO_DISPOSITION) else None,
        "direction": direction if direction in ("given", "received") else None,
        "q": query_str(request, "q"),
    }


class GiftViews(Controller):
    path = "/gifts"
    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        errors: dict[str, str],
        *,
        gift: GiftOut | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        institutions = await institution_choices(db, principal)
        visits = (await visit_services.list_visits(db, principal, per_page=100, sort="-starts_on")).items
        return render(
            request,
            "exchanges/gift_form.html",
            status_code=status_code,
            values=values,
            errors=errors,
            gift=gift,
            meanwhile=meanwhile,
            institutions=institutions,
            visits=visits,
            people=await people_of(db, principal, [i.id for i in institutions]),
            reciprocals=await services.reciprocal_choices(db, gift, values.get("direction")),
            dispositions=list(GiftDisposition),
            valuations=list(GiftValuation),
        )

    @get("/", name="gifts")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        filters = filters_of(request)
        page = await services.list_gifts(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            **filters,
        )
        years = await services.years(db)
        return render(
            request,
            "exchanges/gift_list.html",
            page=page,
            filters=filters,
            years=years,
            report_year=filters["year"] or (years[0] if years else date.today().year),
            report_years=sorted({*years, date.today().year}, reverse=True),
            institutions=await institution_choices(db, principal),
            dispositions=list(GiftDisposition),
            export_query=request.url.query or "",
        )

    @get("/export.csv", name="gifts_csv")
    async def export(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        """The register as the filters select it, one line per gift (for the ethics office's spreadsheet)."""
        filters = filters_of(request)
        rows = await services.all_gifts(db, principal, **filters)
        lines = (
            (
                r.given_on.isoformat(),
                r.direction,
                r.description,
                r.giver_code,
                r.recipient_code,
                r.estimated_value,
                r.currency,
                "yes" if r.minimal_value else "no",
                r.disposition or "",
                r.visit_title or "",
            )
            for r in rows
        )
        name = f"gift-register-{filters['year']}.csv" if filters["year"] else "gift-register.csv"
        return csvfiles.response(name, CSV_HEADER, lines)

    @get("/new", name="gift_new")
    async def new(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        services.require_register_reader(principal)
        require_manager(principal, N_("keep the gift register"))
        values: dict[str, Any] = {"direction": "received"}
        if visit_id := query_uuid(request, "visit"):
            values["visit_id"] = str(visit_id)
        return await self._form(request, db, principal, values, {})

    @post("/", name="gift_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        services.require_register_reader(principal)
        require_manager(principal, N_("keep the gift register"))
        form = await form_dict(request)
        try:
            gift_id = await services.create_gift(db, principal, parse_form(GiftIn, form))
        except (ValidationFailed, ConflictError) as exc:
            await db.rollback()
            return await self._form(request, db, principal, form, exc.errors or {"form": exc.detail}, status_code=exc.status_code)
        return see_other(f"/gifts/{gift_id}")

    @get("/{gift_id:uuid}", name="gift")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        gift_id: FromPath[uuid.UUID],
    ) -> Template:
        gift = await services.get_gift(db, principal, gift_id)
        documents = await files.list_for(db, "gift", gift_id, principal=principal)
        return render(
            request,
            "exchanges/gift_detail.html",
            gift=gift,
            values=values_of(gift),
            errors={},
            documents=documents,
            audiences=await audience.of_owner(db, principal, "gift", gift_id),
            photos=[d for d in documents if d.content_type.startswith("image/")],
            dispositions=list(GiftDisposition),
            history=await audit.history(db, "gift", gift_id),
        )

    @get("/{gift_id:uuid}/edit", name="gift_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        gift_id: FromPath[uuid.UUID],
    ) -> Template:
        gift = await services.get_gift(db, principal, gift_id)
        require_manager(principal, N_("keep the gift register"))
        return await self._form(request, db, principal, values_of(gift), {}, gift=gift)

    @post("/{gift_id:uuid}", name="gift_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        gift_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        gift = await services.get_gift(db, principal, gift_id)
        require_manager(principal, N_("keep the gift register"))
        form = await form_dict(request)
        if form.get("only") == "disposition":  # the gift page's short form: where it went, the rest as stored
            form = {**values_of(gift), **{k: form.get(k, "") for k in DISPOSITION_FIELDS}, "version": form.get("version")}
        try:
            await services.update_gift(db, principal, gift_id, parse_form(GiftUpdate, form))
        except StaleVersionError:
            await db.rollback()
            gift = await services.get_gift(db, principal, gift_id)
            form, meanwhile = stale_resubmission(values_of(gift), form)
            return await self._form(request, db, principal, form, {}, gift=gift, status_code=409, meanwhile=meanwhile)
        except (ValidationFailed, ConflictError) as exc:
            await db.rollback()
            errors = exc.errors or {"form": exc.detail}
            return await self._form(request, db, principal, form, errors, gift=gift, status_code=exc.status_code)
        return see_other(f"/gifts/{gift_id}")


def values_of(gift: GiftOut) -> dict[str, Any]:
    """The stored gift as the form shows it (strings, blanks for nothing)."""
    values = {field: getattr(gift, field, None) for field in FIELDS}
    values["reciprocal_gift_id"] = gift.reciprocal.id if gift.reciprocal else None
    values = {k: "" if v is None else str(v) for k, v in values.items()}
    values["minimal_value"] = "1" if gift.minimal_value else ""
    values["version"] = gift.version
    return values


routes = [GiftViews]
