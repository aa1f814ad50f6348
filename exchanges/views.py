"""HTML pages for delegation visits: the list, and the visit summary that reads like the news item it comes from."""

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File, Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, comments, files, followups
from cooperation.auth.access import Principal
from cooperation.web import query_bool, query_int, query_str, query_uuid, render, see_other
from exchanges import photos, services
from exchanges.api import read_photo
from exchanges.schemas import Direction, VisitStatus


class VisitViews(Controller):
    path = "/visits"
    include_in_schema = False

    @get("/", name="visits")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        status = query_str(request, "status")
        direction = query_str(request, "direction")
        page = await services.list_visits(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            q=query_str(request, "q"),
            status=status if status in VisitStatus.__members__.values() else None,
            direction=direction if direction in Direction.__members__.values() else None,
            institution_id=query_uuid(request, "institution_id"),
            year=query_int(request, "year", 0) or None,
            archived=query_bool(request, "archived"),
        )
        return render(request, "exchanges/visit_list.html", page=page, statuses=list(VisitStatus), labels=services.LABELS)

    @get("/{visit_id:uuid}", name="visit")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Template:
        visit = await services.get_visit(db, principal, visit_id)
        history = await audit.history(db, "visit", visit_id) if principal.reads_everything else []
        owner = await files.resolve_owner(db, principal, "visit", visit_id)
        actions = await followups.list_for(db, "visit", visit_id)
        documents = await files.list_for(db, "visit", visit_id)
        comment_list = await comments.list_for(db, "visit", visit_id)
        photo_list = await photos.list_photos(db, visit_id)
        delegation = [p for p in visit.participants if p.side == "delegation"]
        hosts = [p for p in visit.participants if p.side == "host"]
        return render(
            request,
            "exchanges/visit_detail.html",
            visit=visit,
            delegation=delegation,
            hosts=hosts,
            history=history,
            labels=services.LABELS,
            actions=actions,
            photos=photo_list,
            documents=documents,
            comment_list=comment_list,
            may_contribute=owner.may_add,
            follow_up_statuses=list(followups.FollowUpStatus),
        )

    @post("/{visit_id:uuid}/photos", name="visit_photo_create")
    async def add_photo(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        filename, content, caption = await read_photo(request)
        await photos.add_photo(db, principal, request.app.state.settings, visit_id, filename=filename, content=content, caption=caption)
        return see_other(f"/visits/{visit_id}#photos")

    @get("/photos/{photo_id:uuid}/thumbnail", name="visit_photo_thumbnail")
    async def thumbnail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        photo_id: FromPath[uuid.UUID],
    ) -> File:
        path = await photos.thumbnail_path(db, principal, request.app.state.settings, photo_id)
        # A JPEG LibCoop made itself: safe to show inline.
        return File(path=path, media_type="image/jpeg", content_disposition_type="inline", headers={"X-Content-Type-Options": "nosniff"})


routes = [VisitViews]
