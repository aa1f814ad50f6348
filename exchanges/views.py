"""HTML pages for delegation visits: the list, and the visit summary that reads like the news item it comes from."""

import uuid
from datetime import date, timedelta
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File, Template
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.services import commitment_choices, list_agreements
from cooperation import audit, comments, files, followups, i18n, versions
from cooperation.auth.access import Principal, require_manager
from cooperation.dashboard import Panel
from cooperation.errors import ConflictError, ServiceError, StaleVersionError, ValidationFailed
from cooperation.forms import listed, parse_form, parse_rows, stale_resubmission
from cooperation.i18n import N_
from cooperation.partners.services import home_institution_id, institution_choices, people_of
from cooperation.web import form_dict, form_version, query_bool, query_int, query_str, query_uuid, refusal_page, render, see_other
from exchanges import expert_services, photos, services
from exchanges.api import read_photo
from exchanges.schemas import (
    AgendaItemIn,
    DelegationMemberIn,
    Direction,
    GiftDirection,
    GiftIn,
    ParticipantIn,
    ParticipantRole,
    Side,
    VisitIn,
    VisitOut,
    VisitStatus,
    VisitTransitionIn,
    VisitUpdate,
)


class VisitViews(Controller):
    path = "/visits"
    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        participants: list[dict[str, Any]],
        agenda: list[dict[str, Any]],
        errors: dict[str, str],
        *,
        visit_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        institutions = await institution_choices(db, principal)
        people = await people_of(db, principal, [i.id for i in institutions])
        agreements = (await list_agreements(db, principal, per_page=100, sort="reference")).items
        return render(
            request,
            "exchanges/visit_form.html",
            meanwhile=meanwhile,
            status_code=status_code,
            values=values,
            errors=errors,
            visit_id=visit_id,
            participants=participants + [dict.fromkeys(PARTICIPANT_FIELDS, "") for _ in range(BLANK_ROWS)],
            agenda=[_as_lists(row, "presenters") for row in agenda] + [dict.fromkeys(AGENDA_FIELDS, "") for _ in range(BLANK_ROWS)],
            chosen_commitments=listed(values.get("commitment_ids")),
            institutions=institutions,
            people=people,
            agreements=agreements,
            commitments=await commitment_choices(db, principal, [a.id for a in agreements]),
            roles=list(ParticipantRole),
        )

    @get("/{visit_id:uuid}/edit", name="visit_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Template:
        visit = await services.get_visit(db, principal, visit_id)
        require_manager(principal, N_("edit visits"))
        values, participants, agenda = form_values_of(visit)
        return await self._form(request, db, principal, values, participants, agenda, {}, visit_id=visit_id)

    @post("/{visit_id:uuid}", name="visit_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.ensure_visible(db, principal, visit_id)
        require_manager(principal, N_("edit visits"))
        form = await form_dict(request)
        data, errors, participants, agenda = visit_from_form(form, VisitUpdate)
        status_code = 422
        if data is not None:
            try:
                await services.update_visit(db, principal, visit_id, data)
                return see_other(f"/visits/{visit_id}")
            except StaleVersionError:
                # What was typed comes back with what changed meanwhile, and the stored version: saving again is a choice.
                await db.rollback()
                stored, _, _ = form_values_of(await services.get_visit(db, principal, visit_id))
                form, meanwhile = stale_resubmission(stored, form)
                return await self._form(
                    request, db, principal, form, participants, agenda, {}, visit_id=visit_id, status_code=409, meanwhile=meanwhile
                )
            except (ValidationFailed, ConflictError) as exc:
                await db.rollback()
                errors = exc.errors or {"form": exc.detail}
        return await self._form(request, db, principal, form, participants, agenda, errors, visit_id=visit_id, status_code=status_code)

    @post("/{visit_id:uuid}/transition", name="visit_transition")
    async def transition(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        try:
            await services.transition(db, principal, visit_id, parse_form(VisitTransitionIn, await form_dict(request)))
        except ServiceError as exc:
            return refusal_page(request, exc, f"/visits/{visit_id}")
        return see_other(f"/visits/{visit_id}")

    @get("/{visit_id:uuid}/delegation", name="visit_delegation")
    async def delegation(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Template:
        visit = await services.get_visit(db, principal, visit_id)
        members = [
            {field: str(getattr(p, field) or "") for field in MEMBER_FIELDS} for p in visit.participants if p.side == Side.DELEGATION.value
        ]
        return await self._delegation_form(request, db, principal, visit, members, {})

    async def _delegation_form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        visit: VisitOut,
        members: list[dict[str, Any]],
        errors: dict[str, str],
        *,
        version: int | None = None,
        status_code: int = 200,
    ) -> Template:
        services.check_delegation_open(principal, visit.visiting_institution_id, visit.status)
        institution = principal.institution_id if principal.is_partner and principal.institution_id else visit.visiting_institution_id
        people = await people_of(db, principal, [institution])
        return render(
            request,
            "exchanges/delegation_form.html",
            status_code=status_code,
            visit=visit,
            version=visit.version if version is None else version,
            members=members + [dict.fromkeys(MEMBER_FIELDS, "") for _ in range(BLANK_ROWS)],
            people=people,
            roles=[r for r in ParticipantRole if r is not ParticipantRole.CHAIR],
            errors=errors,
        )

    @post("/{visit_id:uuid}/delegation", name="visit_delegation_update")
    async def update_delegation(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        rows, errors, members = parse_rows(form, "member", MEMBER_FIELDS, DelegationMemberIn, "members")
        version = form_version(form)
        if not errors:
            try:
                await services.replace_delegation(db, principal, visit_id, members, version)
                return see_other(f"/visits/{visit_id}")
            except ValidationFailed as exc:
                await db.rollback()
                errors = exc.errors
            except ServiceError as exc:
                return refusal_page(request, exc, f"/visits/{visit_id}")
        visit = await services.get_visit(db, principal, visit_id)
        return await self._delegation_form(request, db, principal, visit, rows, errors, version=version, status_code=422)

    @get("/new", name="visit_new")
    async def new(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        require_manager(principal, N_("record visits"))
        home = await home_institution_id(db)
        return await self._form(request, db, principal, {"direction": "incoming", "host_institution_id": str(home or "")}, [], [], {})

    @post("/", name="visit_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        require_manager(principal, N_("record visits"))
        form = await form_dict(request)
        data, errors, participants, agenda = visit_from_form(form, VisitIn)
        if data is not None:
            try:
                visit_id = await services.create_visit(db, principal, data)
                return see_other(f"/visits/{visit_id}")
            except (ValidationFailed, ConflictError) as exc:
                await db.rollback()
                errors = exc.errors or {"form": exc.detail}
        return await self._form(request, db, principal, form, participants, agenda, errors, status_code=422)

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
        return await self._page(request, db, principal, visit_id)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        visit_id: uuid.UUID,
        *,
        status_code: int = 200,
        photo_errors: dict[str, str] | None = None,
        photo_caption: str | None = None,
    ) -> Template:
        visit = await services.get_visit(db, principal, visit_id)
        history = await audit.history(db, "visit", visit_id) if principal.reads_everything else []
        owner = await files.resolve_owner(db, principal, "visit", visit_id)
        actions = await followups.list_for(db, principal, "visit", visit_id)
        documents = await files.list_for(db, "visit", visit_id)
        comment_list = await comments.list_for(db, "visit", visit_id)
        photo_list = await photos.list_photos(db, visit_id)
        delegation = [p for p in visit.participants if p.side == "delegation"]
        hosts = [p for p in visit.participants if p.side == "host"]
        return render(
            request,
            "exchanges/visit_detail.html",
            status_code=status_code,
            photo_errors=photo_errors or {},
            photo_caption=photo_caption or "",
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
        await services.ensure_visible(db, principal, visit_id)
        filename, content, caption = await read_photo(request)
        try:
            await photos.add_photo(db, principal, request.app.state.settings, visit_id, filename=filename, content=content, caption=caption)
        except ValidationFailed as exc:  # the page again, the error beside the file field and the caption as typed
            await db.rollback()
            return await self._page(request, db, principal, visit_id, status_code=422, photo_errors=exc.errors, photo_caption=caption)
        return see_other(f"/visits/{visit_id}#photos")

    @post("/{visit_id:uuid}/photos/arrange", name="visit_photos_arrange")
    async def arrange_photos(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """Captions as typed, order by the number beside each photo (ties keep the shown order)."""
        form = await form_dict(request)
        _, errors, items = parse_rows(form, "photo", ("id", "caption", "order"), PhotoRowIn, "photos")
        if errors:
            raise ValidationFailed(errors)
        ranked = sorted(enumerate(items), key=lambda pair: (pair[1].order, pair[0]))
        arrangement = [photos.PhotoArrangementIn(id=item.id, caption=item.caption) for _, item in ranked]
        await photos.arrange_photos(db, principal, visit_id, arrangement)
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


class PhotoRowIn(msgspec.Struct, forbid_unknown_fields=True):
    id: uuid.UUID
    order: int
    caption: str = ""


V = TypeVar("V", bound=VisitIn)
PARTICIPANT_FIELDS = ("person_id", "side", "role", "position_at_time", "department_at_time")
AGENDA_FIELDS = ("day", "starts_at", "ends_at", "title", "place", "presenters", "notes")
MEMBER_FIELDS = ("person_id", "role", "position_at_time", "department_at_time")
BLANK_ROWS = 3


def _as_lists(row: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {**row, **{field: listed(row.get(field)) for field in fields}}


def _hhmm(value: Any) -> str:
    return value.strftime("%H:%M") if value else ""


def form_values_of(visit: VisitOut) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The stored visit as the form shows it: every field the record holds, so saving it unchanged changes nothing."""
    blank = lambda value: "" if value is None else str(value)  # noqa: E731
    values: dict[str, Any] = {
        field: blank(getattr(visit, field))
        for field in ("title", "direction", "host_institution_id", "visiting_institution_id", "starts_on", "ends_on", "city", "venue")
    }
    values |= {field: blank(getattr(visit, field)) for field in ("purpose", "theme", "budget_amount", "budget_currency", "report")}
    values["agreement_id"] = str(visit.agreement.id) if visit.agreement else ""
    values["commitment_ids"] = [str(c) for c in visit.commitment_ids]
    values["topics"] = ", ".join(visit.topics)
    values |= versions.to_form(visit.translations)
    values["outcomes"] = "\n".join(visit.outcomes)
    values["gifts"] = "\n".join(f"{i18n.label(g.direction).lower()}: {g.description}" for g in visit.gifts)
    values["version"] = visit.version
    participants = [{field: blank(getattr(p, field)) for field in PARTICIPANT_FIELDS} for p in visit.participants]
    agenda = [
        {
            "day": a.day.isoformat(),
            "starts_at": _hhmm(a.starts_at),
            "ends_at": _hhmm(a.ends_at),
            "title": a.title,
            "place": a.place or "",
            "presenters": [str(p) for p in a.presenter_ids],
            "notes": a.notes or "",
        }
        for a in visit.agenda
    ]
    return values, participants, agenda


def _lines(text: Any) -> list[str]:
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


def _gifts(text: Any) -> tuple[list[dict[str, str]], dict[str, str]]:
    """One gift per line, starting with "given:" or "received:" in any of LibCoop's languages (Chinese: "赠送：")."""
    gifts, errors = [], {}
    for number, line in enumerate(_lines(text), start=1):
        direction, _, description = line.replace("：", ":", 1).partition(":")
        value = i18n.value_of(direction, ("given", "received"))
        if value is None or not description.strip():
            given, received = i18n.label("given").lower(), i18n.label("received").lower()
            errors["gifts"] = i18n.gettext(
                "line %(number)s: write “%(given)s: …” or “%(received)s: …”", number=number, given=given, received=received
            )
            continue
        gifts.append({"direction": value, "description": description.strip()})
    return gifts, errors


def visit_from_form(form: dict[str, Any], struct: type[V]) -> tuple[V | None, dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    participant_rows, errors, participants = parse_rows(form, "participant", PARTICIPANT_FIELDS, ParticipantIn, "participants")
    agenda_rows, agenda_errors, agenda = parse_rows(form, "agenda", AGENDA_FIELDS, AgendaItemIn, "agenda")
    gifts, gift_errors = _gifts(form.get("gifts"))
    errors |= agenda_errors | gift_errors
    fields = {k: v for k, v in form.items() if not k.startswith(("participant-", "agenda-", "translation-"))}
    fields.update(participants=[], agenda=[], gifts=[], outcomes=_lines(form.get("outcomes")))
    try:
        data = parse_form(struct, fields, errors=errors)
    except ValidationFailed as exc:
        return None, exc.errors, participant_rows, agenda_rows
    data.participants, data.agenda = participants, agenda
    data.translations = versions.from_form(form)
    data.gifts = [GiftIn(direction=GiftDirection(g["direction"]), description=g["description"]) for g in gifts]
    return data, {}, participant_rows, agenda_rows


routes = [VisitViews]


COMING_UP_DAYS = 60


async def dashboard_panel(db: AsyncSession, principal: Principal) -> Panel:
    """Coming up: visits and expert stays under way or starting in the next 60 days (a visit eight days away is on the
    director's home page whatever the month), each with how soon it starts."""
    today = date.today()
    last = today + timedelta(days=COMING_UP_DAYS)
    events = [
        *await services.calendar_events(db, principal, today, last),
        *await expert_services.calendar_events(db, principal, today, last),
    ]
    events = sorted((e for e in events if e.end >= today and e.start <= last), key=lambda e: (e.start, e.summary))
    return Panel(
        title=i18n.gettext("Coming up: visits and expert stays in the next %(days)s days", days=COMING_UP_DAYS),
        template="exchanges/_dashboard.html",
        order=20,
        context={"events": [(event, (event.start - today).days) for event in events], "days": COMING_UP_DAYS},
    )
