"""HTML pages for individual expert exchanges: list, proposal form, the exchange with its report and status."""

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.services import list_agreements
from cooperation import audience, audit, comments, files, i18n, share
from cooperation.auth.access import Principal
from cooperation.errors import ConflictError, ForbiddenError, ServiceError, StaleVersionError, ValidationFailed
from cooperation.forms import parse_form, stale_resubmission
from cooperation.partners.services import home_institution_id, institution_choices, people_of
from cooperation.web import form_dict, form_version, query_int, query_str, refusal_page, render, see_other
from exchanges import expert_services as services
from exchanges.expert_schemas import ExchangeIn, ExchangeOut, ExchangeStatus, ExchangeTransitionIn, ExchangeUpdate, ExpertConfirmationIn

FIELDS = (
    "expert_person_id",
    "host_institution_id",
    "starts_on",
    "ends_on",
    "field_of_work",
    "purpose",
    "agreement_id",
    "funding",
    "funding_amount",
    "funding_currency",
    "outcome",
    "programme_id",
)


class ExchangeViews(Controller):
    path = "/exchanges"
    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        errors: dict[str, str],
        *,
        exchange_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        institutions = await institution_choices(db, principal)
        # A partner proposes its own experts only; the department chooses among everyone it works with.
        own = [principal.institution_id] if principal.is_partner and principal.institution_id else [i.id for i in institutions]
        experts = await people_of(db, principal, own)
        agreements = (await list_agreements(db, principal, per_page=100, sort="reference")).items
        return render(
            request,
            "exchanges/exchange_form.html",
            status_code=status_code,
            meanwhile=meanwhile,
            values=values,
            errors=errors,
            exchange_id=exchange_id,
            institutions=institutions,
            experts=experts,
            agreements=agreements,
            programmes=await services.programme_choices(db, principal),
        )

    @get("/", name="exchanges")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        status = query_str(request, "status")
        page = await services.list_exchanges(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            q=query_str(request, "q"),
            status=status if status in ExchangeStatus.__members__.values() else None,
        )
        return render(request, "exchanges/exchange_list.html", page=page, statuses=list(ExchangeStatus))

    @get("/new", name="exchange_new")
    async def new(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        services.require_may_propose(principal)
        values: dict[str, Any] = {}
        if principal.is_partner:
            values["host_institution_id"] = str(await home_institution_id(db) or "")
        return await self._form(request, db, principal, values, {})

    @post("/", name="exchange_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        form = await form_dict(request)
        try:
            exchange_id = await services.propose(db, principal, parse_form(ExchangeIn, form))
        except (ValidationFailed, ConflictError) as exc:
            await db.rollback()
            return await self._form(request, db, principal, form, exc.errors or {"form": exc.detail}, status_code=exc.status_code)
        return see_other(f"/exchanges/{exchange_id}")

    @get("/{exchange_id:uuid}", name="exchange")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
    ) -> Template:
        exchange = await services.get(db, principal, exchange_id)
        owner = await files.resolve_owner(db, principal, "exchange", exchange_id)
        return render(
            request,
            "exchanges/exchange_detail.html",
            exchange=exchange,
            documents=await files.list_for(db, "exchange", exchange_id, principal=principal),
            comment_list=await comments.list_for(db, principal, "exchange", exchange_id),
            audiences=await audience.of_record(db, owner.partner_ids),
            shared=await share.state(db, "exchange", exchange_id),
            history=await audit.history(db, "expert_exchange", exchange_id) if principal.reads_everything else [],
            may_contribute=owner.may_add,
        )

    @get("/{exchange_id:uuid}/edit", name="exchange_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
    ) -> Template:
        exchange = await services.get(db, principal, exchange_id)
        if not exchange.may_edit:
            raise ForbiddenError(i18n.gettext("Partners may change only their own proposals, while they are proposed."))
        return await self._form(request, db, principal, values_of(exchange), {}, exchange_id=exchange_id)

    @post("/{exchange_id:uuid}", name="exchange_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.ensure_visible(db, principal, exchange_id)
        form = await form_dict(request)
        try:
            await services.update(db, principal, exchange_id, parse_form(ExchangeUpdate, form))
        except StaleVersionError:
            await db.rollback()
            form, meanwhile = stale_resubmission(values_of(await services.get(db, principal, exchange_id)), form)
            return await self._form(request, db, principal, form, {}, exchange_id=exchange_id, status_code=409, meanwhile=meanwhile)
        except (ValidationFailed, ConflictError) as exc:
            await db.rollback()
            errors = exc.errors or {"form": exc.detail}
            return await self._form(request, db, principal, form, errors, exchange_id=exchange_id, status_code=exc.status_code)
        return see_other(f"/exchanges/{exchange_id}")

    @post("/{exchange_id:uuid}/transition", name="exchange_transition")
    async def transition(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        try:
            await services.transition(db, principal, exchange_id, parse_form(ExchangeTransitionIn, await form_dict(request)))
        except ServiceError as exc:
            return refusal_page(request, exc, f"/exchanges/{exchange_id}")
        return see_other(f"/exchanges/{exchange_id}")

    @post("/{exchange_id:uuid}/confirm-expert", name="exchange_confirm")
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        data = ExpertConfirmationIn(confirmed=form.get("confirmed") == "1", version=form_version(form))
        try:
            await services.confirm_expert(db, principal, exchange_id, data)
        except ServiceError as exc:
            return refusal_page(request, exc, f"/exchanges/{exchange_id}")
        return see_other(f"/exchanges/{exchange_id}")


def values_of(exchange: ExchangeOut) -> dict[str, Any]:
    """The stored exchange as the form shows it (strings, blanks for nothing)."""
    values = {field: getattr(exchange, field) for field in FIELDS}
    values = {k: "" if v is None else str(v) for k, v in values.items()}
    values["version"] = exchange.version
    return values


routes = [ExchangeViews]
