"""JSON API for delegation visits (under /api/v1)."""

import uuid
from typing import Annotated

from litestar import Controller, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n
from cooperation.apidoc import multipart
from cooperation.auth.access import Principal
from cooperation.errors import NotFoundError, ValidationFailed
from cooperation.records import DEFAULT_PER_PAGE
from cooperation.web import PageNumber, PerPage
from exchanges import expert_services, photos, services
from exchanges.expert_schemas import (
    ExchangeIn,
    ExchangeOut,
    ExchangePage,
    ExchangeStatus,
    ExchangeTransitionIn,
    ExchangeUpdate,
    ExpertConfirmationIn,
)
from exchanges.schemas import DelegationIn, Direction, VisitIn, VisitOut, VisitPage, VisitStatus, VisitTransitionIn, VisitUpdate


class VisitApi(Controller):
    path = "/api/v1/visits"
    tags = ("visits",)

    @get("/", name="api_visits")
    async def list_visits(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        sort: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        status: FromQuery[VisitStatus | None] = None,
        direction: FromQuery[Direction | None] = None,
        institution_id: FromQuery[uuid.UUID | None] = None,
        year: Annotated[int | None, QueryParameter(ge=1900, le=2100)] = None,
        archived: FromQuery[bool] = False,
    ) -> VisitPage:
        """Delegation visits you may see, newest first; `q` searches title, theme, city, purpose and topics."""
        return await services.list_visits(
            db,
            principal,
            page=page,
            per_page=per_page,
            sort=sort,
            q=q,
            status=status.value if status else None,
            direction=direction.value if direction else None,
            institution_id=institution_id,
            year=year,
            archived=archived,
        )

    @post("/", name="api_visit_create")
    async def create_visit(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[VisitIn]
    ) -> VisitOut:
        """Record a visit with its delegation, hosts, agenda, outcomes and gifts. People already in another visit at
        overlapping dates answer 409 unless `confirm_overlaps` is true."""
        visit_id = await services.create_visit(db, principal, data)
        return await services.get_visit(db, principal, visit_id)

    @get("/{visit_id:uuid}", name="api_visit")
    async def get_visit(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], visit_id: FromPath[uuid.UUID]
    ) -> VisitOut:
        """One delegation visit you may see: delegation, hosts, agenda, outcomes, gifts, the agreement it implements."""
        return await services.get_visit(db, principal, visit_id)

    @put("/{visit_id:uuid}", name="api_visit_update")
    async def update_visit(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
        data: JSONBody[VisitUpdate],
    ) -> VisitOut:
        """Change a visit (every field, as on the edit page); `version` must be the one you read (409 otherwise)."""
        await services.update_visit(db, principal, visit_id, data)
        return await services.get_visit(db, principal, visit_id)

    @post("/{visit_id:uuid}/transition", name="api_visit_transition", status_code=200)
    async def transition(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
        data: JSONBody[VisitTransitionIn],
    ) -> VisitOut:
        """proposed → confirmed → under way → completed, or cancelled (with a note); a refused move answers 409."""
        await services.transition(db, principal, visit_id, data)
        return await services.get_visit(db, principal, visit_id)

    @put("/{visit_id:uuid}/delegation", name="api_visit_delegation")
    async def replace_delegation(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
        data: JSONBody[DelegationIn],
    ) -> VisitOut:
        """Set the delegation's members (the visiting institution's partners may, for their own people)."""
        await services.replace_delegation(db, principal, visit_id, data.members, data.version)
        return await services.get_visit(db, principal, visit_id)

    @get("/{visit_id:uuid}/history", name="api_visit_history")
    async def history(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], visit_id: FromPath[uuid.UUID]
    ) -> list[audit.AuditEntry]:
        """What changed on the visit, newest first (staff only)."""
        await services.get_visit(db, principal, visit_id)
        if not principal.reads_everything:
            raise NotFoundError("history")
        return await audit.history(db, "visit", visit_id)


class VisitPhotoApi(Controller):
    path = "/api/v1/visits/{visit_id:uuid}/photos"
    tags = ("visits",)

    @get("/", name="api_visit_photos")
    async def list_photos(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], visit_id: FromPath[uuid.UUID]
    ) -> list[photos.PhotoOut]:
        """The visit's photos in their order, with captions; the image itself is the attachment `attachment_id`."""
        await services.get_visit(db, principal, visit_id)
        return await photos.list_photos(db, visit_id, principal)

    @post(
        "/",
        name="api_visit_photo_create",
        operation_class=multipart(
            "A photo of the visit",
            {
                "file": "JPEG, PNG or WebP (EXIF and GPS removed)",
                "caption": "what the photo shows",
                "audience": "department (the default for staff) or partners; public only by publication",
            },
        ),
    )
    async def add_photo(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], visit_id: FromPath[uuid.UUID]
    ) -> photos.PhotoOut:
        """Upload a photo (multipart `file`, optional `caption` and `audience`): JPEG, PNG or WebP; EXIF and GPS
        metadata are removed. It reaches the public portal only when a coordinator publishes it."""
        filename, content, caption, audience = await read_photo(request)
        photo_id = await photos.add_photo(
            db, principal, request.app.state.settings, visit_id, filename=filename, content=content, caption=caption, audience=audience
        )
        return next(p for p in await photos.list_photos(db, visit_id, principal) if p.id == photo_id)

    @put("/", name="api_visit_photos_arrange")
    async def arrange(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
        data: JSONBody[list[photos.PhotoArrangementIn]],
    ) -> list[photos.PhotoOut]:
        """Order and caption the photos: list every photo of the visit once, in the order they should appear."""
        await photos.arrange_photos(db, principal, visit_id, data)
        return await photos.list_photos(db, visit_id, principal)


async def read_photo(request: Request) -> tuple[str, bytes, str | None, str | None]:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed({"file": i18n.gettext("choose a photo to upload")})
    caption, audience = form.get("caption"), form.get("audience")
    return (
        upload.filename or "photo",
        await upload.read(),
        caption if isinstance(caption, str) else None,
        audience if isinstance(audience, str) and audience else None,
    )


class ExpertExchangeApi(Controller):
    path = "/api/v1/exchanges"
    tags = ("expert exchanges",)

    @get("/", name="api_exchanges")
    async def list_exchanges(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        sort: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        status: FromQuery[ExchangeStatus | None] = None,
    ) -> ExchangePage:
        """Individual expert exchanges you may see, newest first."""
        return await expert_services.list_exchanges(
            db, principal, page=page, per_page=per_page, sort=sort, q=q, status=status.value if status else None
        )

    @post("/", name="api_exchange_create")
    async def propose(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[ExchangeIn]
    ) -> ExchangeOut:
        """Propose an expert's stay (a partner: one of its own experts, confirmed by proposing)."""
        exchange_id = await expert_services.propose(db, principal, data)
        return await expert_services.get(db, principal, exchange_id)

    @get("/{exchange_id:uuid}", name="api_exchange")
    async def get_exchange(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], exchange_id: FromPath[uuid.UUID]
    ) -> ExchangeOut:
        """One expert exchange you may see, with the statuses you may move it to."""
        return await expert_services.get(db, principal, exchange_id)

    @put("/{exchange_id:uuid}", name="api_exchange_update")
    async def update(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
        data: JSONBody[ExchangeUpdate],
    ) -> ExchangeOut:
        """Change an expert exchange; `version` must be the one you read (409 otherwise)."""
        await expert_services.update(db, principal, exchange_id, data)
        return await expert_services.get(db, principal, exchange_id)

    @post("/{exchange_id:uuid}/confirm-expert", name="api_exchange_confirm", status_code=200)
    async def confirm(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
        data: JSONBody[ExpertConfirmationIn],
    ) -> ExchangeOut:
        """The expert's own institution confirms (or withdraws) the expert."""
        await expert_services.confirm_expert(db, principal, exchange_id, data)
        return await expert_services.get(db, principal, exchange_id)

    @post("/{exchange_id:uuid}/transition", name="api_exchange_transition", status_code=200)
    async def transition(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        exchange_id: FromPath[uuid.UUID],
        data: JSONBody[ExchangeTransitionIn],
    ) -> ExchangeOut:
        """proposed → approved (expert confirmed) → under way → completed (outcome recorded), or cancelled with a note."""
        await expert_services.transition(db, principal, exchange_id, data)
        return await expert_services.get(db, principal, exchange_id)


routes = [VisitApi, VisitPhotoApi, ExpertExchangeApi]
