"""HTML pages for delegation visits: the list, and the visit summary that reads like the news item it comes from."""

import re
import uuid
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.services import commitment_choices, list_agreements
from cooperation import audience, audit, comments, files, followups, i18n, share, versions
from cooperation.auth.access import Principal, require_manager
from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.dashboard import Panel
from cooperation.errors import ConflictError, NotFoundError, ServiceError, StaleVersionError, ValidationFailed
from cooperation.forms import listed, parse_form, parse_rows, stale_resubmission
from cooperation.i18n import N_
from cooperation.partners.services import home_institution_place, institution_choices, people_of
from cooperation.web import form_dict, form_version, query_bool, query_int, query_str, query_uuid, refusal_page, render, see_other
from exchanges import expert_services, photos, services
from exchanges.schemas import (
    AgendaItemIn,
    DelegationMemberIn,
    Direction,
    GiftIn,
    NewPersonIn,
    OutcomeIn,
    ParticipantIn,
    ParticipantRole,
    PieceAudience,
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
        rows: dict[str, list[dict[str, Any]]],
        errors: dict[str, str],
        *,
        visit_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
        add_row: str | None = None,
    ) -> Template:
        """The form with the rows as typed and blank ones to fill (two on a new visit, one more for each "add")."""
        institutions = await institution_choices(db, principal)
        people = await people_of(db, principal, [i.id for i in institutions])
        agreements = (await list_agreements(db, principal, per_page=100, sort="reference")).items
        blanks = {kind: 1 if visit_id else 2 for kind in ROW_KINDS}
        if add_row:  # the rows that were on the page (blank ones too), and one more
            blanks[add_row] = max(0, _rows_posted(values, add_row) - len(rows.get(add_row, []))) + 1
        shown = {kind: rows.get(kind, []) + [{} for _ in range(blanks[kind])] for kind in ROW_KINDS}
        shown["agenda"] = [_as_lists(row, "presenters") for row in shown["agenda"]]
        return render(
            request,
            "exchanges/visit_form.html",
            meanwhile=meanwhile,
            status_code=status_code,
            values=values,
            errors=errors,
            visit_id=visit_id,
            rows=shown,
            focus_row=(add_row, len(shown[add_row]) - 1) if add_row else None,
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
        values, rows = form_values_of(visit)
        return await self._form(request, db, principal, values, rows, {}, visit_id=visit_id)

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
        data, errors, rows = visit_from_form(form, VisitUpdate)
        if (add_row := form.get("add_row")) in ROW_KINDS:  # "add another" without JavaScript: the form again, one row more
            return await self._form(request, db, principal, form, rows, {}, visit_id=visit_id, add_row=add_row)
        status_code = 422
        if data is not None:
            try:
                await services.update_visit(db, principal, visit_id, data)
                return see_other(f"/visits/{visit_id}")
            except StaleVersionError:
                # What was typed comes back with what changed meanwhile, and the stored version: saving again is a choice.
                await db.rollback()
                stored, _ = form_values_of(await services.get_visit(db, principal, visit_id))
                form, meanwhile = stale_resubmission(stored, form)
                return await self._form(request, db, principal, form, rows, {}, visit_id=visit_id, status_code=409, meanwhile=meanwhile)
            except (ValidationFailed, ConflictError) as exc:
                await db.rollback()
                errors = row_errors(exc.errors, rows) or {"form": exc.detail}
        return await self._form(request, db, principal, form, rows, errors, visit_id=visit_id, status_code=status_code)

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
            members=members + [dict.fromkeys(MEMBER_FIELDS, "") for _ in range(3)],
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
        home, city = await home_institution_place(db)
        values = {"direction": "incoming", "host_institution_id": str(home or ""), "city": city or ""}
        return await self._form(request, db, principal, values, {}, {})

    @post("/", name="visit_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        require_manager(principal, N_("record visits"))
        form = await form_dict(request)
        data, errors, rows = visit_from_form(form, VisitIn)
        if (add_row := form.get("add_row")) in ROW_KINDS:  # "add another" without JavaScript: the form again, one row more
            return await self._form(request, db, principal, form, rows, {}, add_row=add_row)
        if data is not None:
            if data.status is None:  # the form's "as its dates say": a visit whose last day has passed is logged done
                data.status = VisitStatus.COMPLETED if data.ends_on < date.today() else VisitStatus.PROPOSED
            try:
                visit_id = await services.create_visit(db, principal, data)
                return see_other(f"/visits/{visit_id}")
            except (ValidationFailed, ConflictError) as exc:
                await db.rollback()
                errors = row_errors(exc.errors, rows) or {"form": exc.detail}
        return await self._form(request, db, principal, form, rows, errors, status_code=422)

    @get("/rows/{kind:str}", name="visit_form_row")
    async def form_row(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], kind: FromPath[str]
    ) -> Template:
        """One more blank row of the form (htmx), and the "add" button that asks for the next one."""
        require_manager(principal, N_("record visits"))
        if kind not in ROW_KINDS:
            raise NotFoundError("page")
        index = max(0, min(query_int(request, "index", 0), MAX_ROWS))
        institutions = await institution_choices(db, principal)
        people = await people_of(db, principal, [i.id for i in institutions])
        return render(
            request,
            "exchanges/_visit_row.html",
            kind=kind,
            index=index,
            row={},
            errors={},
            institutions=institutions,
            people=people,
            roles=list(ParticipantRole),
        )

    @post("/paste/{kind:str}", name="visit_form_paste")
    async def form_paste(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal], kind: FromPath[str]) -> Template:
        """The rows pasted lines will add (htmx, as they are typed): seen before the form is saved."""
        require_manager(principal, N_("record visits"))
        if kind not in PASTE_KINDS:
            raise NotFoundError("page")
        form = await form_dict(request)
        rows = pasted_rows(kind, str(form.get(f"paste-{kind}") or ""), form)[:MAX_ROWS]
        return render(request, "exchanges/_paste_preview.html", kind=kind, rows=rows)

    @post("/overlaps", name="visit_form_overlaps")
    async def form_overlaps(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        """Beside the dates, as soon as dates and people are chosen: who is in another visit then (htmx)."""
        require_manager(principal, N_("record visits"))
        form = await form_dict(request)
        found: list[str] = []
        try:
            starts_on, ends_on = date.fromisoformat(str(form.get("starts_on"))), date.fromisoformat(str(form.get("ends_on")))
            people = {uuid.UUID(str(form[key])) for key in form if key.endswith("-person_id") and form[key]}
            visit_id = uuid.UUID(str(form["visit_id"])) if form.get("visit_id") else None
        except (ValueError, TypeError):
            pass  # dates or people not chosen yet: nothing to say
        else:
            if starts_on <= ends_on:
                found = await services.overlaps(db, people, starts_on, ends_on, visit_id)
        return render(request, "exchanges/_visit_overlaps.html", overlaps="; ".join(found))

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
    ) -> Template:
        visit = await services.get_visit(db, principal, visit_id)
        history = await audit.history(db, "visit", visit_id) if principal.reads_everything else []
        owner = await files.resolve_owner(db, principal, "visit", visit_id)
        actions = await followups.list_for(db, principal, "visit", visit_id)
        documents = await files.list_for(db, "visit", visit_id, principal=principal)
        comment_list = await comments.list_for(db, principal, "visit", visit_id)
        photo_list = await photos.list_photos(db, visit_id, principal)
        delegation = [p for p in visit.participants if p.side == "delegation"]
        hosts = [p for p in visit.participants if p.side == "host"]
        return render(
            request,
            "exchanges/visit_detail.html",
            status_code=status_code,
            photo_errors=photo_errors or {},
            visit=visit,
            delegation=delegation,
            hosts=hosts,
            history=history,
            labels=services.LABELS,
            actions=actions,
            photos=photo_list,
            documents=documents,
            comment_list=comment_list,
            audiences=await audience.of_record(db, owner.partner_ids),
            shared=await share.state(db, "visit", visit_id),
            may_contribute=owner.may_add,
            follow_up_statuses=list(followups.FollowUpStatus),
            follow_up_people=await followups.reachable(db, principal, [visit.host_institution_id, visit.visiting_institution_id]),
        )

    @post("/{visit_id:uuid}/photos", name="visit_photo_create")
    async def add_photo(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        visit_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """One photo or several at once (all or none); their captions are typed after, beside each photo. The page's
        script sends them one by one to show progress, and asks for no page back."""
        await services.ensure_visible(db, principal, visit_id)
        form = await request.form()
        uploads = [item for item in form.getall("file", []) if isinstance(item, UploadFile) and item.filename]
        caption = form.get("caption") if isinstance(form.get("caption"), str) else None
        audience = form.get("audience") if isinstance(form.get("audience"), str) else None
        try:
            if not uploads:
                raise ValidationFailed({"file": i18n.gettext("choose a photo to upload")})
            settings = request.app.state.settings
            for upload in uploads:
                content = await upload.read()
                try:
                    await photos.add_photo(
                        db,
                        principal,
                        settings,
                        visit_id,
                        filename=upload.filename,
                        content=content,
                        caption=caption,
                        audience=audience,
                        commit=False,
                    )
                except ValidationFailed as exc:  # which of the files, when there are several
                    if len(uploads) > 1:
                        raise ValidationFailed({"file": f"{upload.filename}: {'; '.join(exc.errors.values())}"}) from exc
                    raise
            await db.commit()
        except ValidationFailed as exc:  # the page again, the error beside the file field
            await db.rollback()
            if request.headers.get("x-photo-upload"):
                raise
            return await self._page(request, db, principal, visit_id, status_code=422, photo_errors=exc.errors)
        if request.headers.get("x-photo-upload"):
            return Response(content=b"", status_code=204)
        return see_other(f"/visits/{visit_id}?captions=1")  # no fragment: it would keep the first blank caption from focus

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
        ranked = [item for _, item in sorted(enumerate(items), key=lambda pair: (pair[1].order, pair[0]))]
        moved = None
        if (move := re.fullmatch(r"(\d+):(up|down)", str(form.get("move", "")))) is not None:  # the ↑ ↓ buttons, no script needed
            at = next((n for n, item in enumerate(ranked) if items.index(item) == int(move.group(1))), None)
            to = None if at is None else at - 1 if move.group(2) == "up" else at + 1
            if at is not None and to is not None and 0 <= to < len(ranked):
                ranked[at], ranked[to] = ranked[to], ranked[at]
                moved = ranked[to].id
        arrangement = [photos.PhotoArrangementIn(id=item.id, caption=item.caption) for item in ranked]
        await photos.arrange_photos(db, principal, visit_id, arrangement)
        return see_other(f"/visits/{visit_id}?captions=1#photo-{moved}" if moved else f"/visits/{visit_id}#photos")

    @get("/photos/{photo_id:uuid}/thumbnail", name="visit_photo_thumbnail")
    async def thumbnail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        photo_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        digest = await photos.thumbnail_digest(db, principal, photo_id)
        # A JPEG LibCoop made itself: safe to show inline.
        return await files.served(
            request.app.state.settings, digest, media_type="image/jpeg", inline=True, headers={"X-Content-Type-Options": "nosniff"}
        )


# Not under /portal/visits/: the portal's /portal/{section}/{id} would no longer be found (the router does not backtrack).
@get("/portal/photos/{photo_id:uuid}", opt={PUBLIC_OPT: True}, name="portal_visit_photo", include_in_schema=False)
async def portal_photo(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], photo_id: FromPath[uuid.UUID]) -> Response[Any]:
    """A photo of a public visit on the public portal (cooperation/portal.py): nobody signed in, nothing else shown."""
    settings = request.app.state.settings
    if not settings.portal:
        raise NotFoundError("portal")
    digest, content_type = await photos.public_photo(db, photo_id)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"}
    return await files.served(settings, digest, media_type=content_type, inline=True, headers=headers)


class PhotoRowIn(msgspec.Struct, forbid_unknown_fields=True):
    id: uuid.UUID
    order: int
    caption: str = ""


V = TypeVar("V", bound=VisitIn)
# A row of people: someone chosen from the register, or a new person typed in (their institution defaults to their side's).
PERSON_FIELDS = ("person_id", "name", "name_native", "institution_id", "role", "position", "department")
AGENDA_FIELDS = ("day", "starts_at", "ends_at", "title", "place", "presenters", "presenter_names", "notes", "notes_audience")
MEMBER_FIELDS = ("person_id", "role", "position_at_time", "department_at_time")
SIDES = ("delegation", "host")
ROW_KINDS = (*SIDES, "agenda", "outcome", "gift")
MAX_ROWS = 200


class OutcomeRowIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(max_length=2000)]
    audience: PieceAudience = "department"


class PersonRowIn(msgspec.Struct, forbid_unknown_fields=True):
    role: ParticipantRole
    person_id: uuid.UUID | None = None
    name: str | None = None
    name_native: str | None = None
    institution_id: uuid.UUID | None = None
    position: str | None = None
    department: str | None = None


def _as_lists(row: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {**row, **{field: listed(row.get(field)) for field in fields}}


def _hhmm(value: Any) -> str:
    return value.strftime("%H:%M") if value else ""


def form_values_of(visit: VisitOut) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
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
    values["public"] = "1" if visit.public else ""
    values |= versions.to_form(visit.translations)
    values["version"] = visit.version
    rows: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for p in visit.participants:
        position, department = blank(p.position_at_time), blank(p.department_at_time)
        rows[p.side].append({"person_id": str(p.person_id), "role": p.role, "position": position, "department": department})
    rows["agenda"] = [
        {
            "day": a.day.isoformat(),
            "starts_at": _hhmm(a.starts_at),
            "ends_at": _hhmm(a.ends_at),
            "title": a.title,
            "place": a.place or "",
            "presenters": [str(p) for p in a.presenter_ids],
            "notes": a.notes or "",
            "notes_audience": a.notes_audience,
        }
        for a in visit.agenda
    ]
    rows["outcome"] = [{"text": o.text, "audience": o.audience} for o in visit.outcomes]
    rows["gift"] = [{"direction": g.direction, "description": g.description, "id": str(g.id)} for g in visit.gifts]
    return values, rows


def _people_rows(form: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str], list[ParticipantIn]]:
    """The delegation's and the hosts' rows as typed, their errors keyed `side.position.field`, and the participants.

    A row counts once it names someone (chosen or typed): its role and institution come preset, so they alone do not."""
    rows: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    participants: list[ParticipantIn] = []
    for side in SIDES:
        rows[side] = []
        indexes = sorted({int(key.split("-")[1]) for key in form if key.startswith(f"{side}-") and key.split("-")[1].isdigit()})
        for index in indexes:
            row = {field: str(form.get(f"{side}-{index}-{field}", "")).strip() for field in PERSON_FIELDS}
            if not (row["person_id"] or row["name"] or row["name_native"]):
                continue
            key = f"{side}.{len(rows[side])}"
            rows[side].append(row)
            try:
                typed = parse_form(PersonRowIn, row)
            except ValidationFailed as exc:
                errors |= {f"{key}.{field}": message for field, message in exc.errors.items()}
                continue
            if typed.person_id and (typed.name or typed.name_native):
                errors[f"{key}.name"] = i18n.gettext("choose a person or type a new one's name, not both")
                continue
            if typed.person_id is None and not typed.name:
                errors[f"{key}.name"] = i18n.gettext("is required")
                continue
            new = None
            if typed.person_id is None:
                new = NewPersonIn(
                    name=typed.name or "",
                    name_native=typed.name_native,
                    institution_id=typed.institution_id,
                    position=typed.position,
                    department=typed.department,
                )
            participants.append(
                ParticipantIn(
                    side=Side(side),
                    role=typed.role,
                    person_id=typed.person_id,
                    new_person=new,
                    position_at_time=typed.position if typed.person_id else None,
                    department_at_time=typed.department if typed.person_id else None,
                )
            )
    return rows, errors, participants


def _rows_posted(form: dict[str, Any], kind: str) -> int:
    indexes = [int(key.split("-")[1]) for key in form if key.startswith(f"{kind}-") and key.split("-")[1].isdigit()]
    return min(max(indexes, default=-1) + 1, MAX_ROWS)


def row_errors(errors: dict[str, str], rows: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The service's `participants.N.field` said of the form's rows: the Nth person is in the delegation's rows, then
    the hosts'."""
    counts = [len(rows.get(side, [])) for side in SIDES]
    named = {"position_at_time": "position", "department_at_time": "department"}
    said: dict[str, str] = {}
    for key, message in errors.items():
        match = re.fullmatch(r"participants\.(\d+)\.(\w+)", key)
        if match is None:
            said[key] = message
            continue
        index, field = int(match.group(1)), named.get(match.group(2), match.group(2))
        side = SIDES[0] if index < counts[0] else SIDES[1]
        said[f"{side}.{index if side == SIDES[0] else index - counts[0]}.{field}"] = message
    return said


PASTE_KINDS = ("delegation", "host", "agenda", "outcome")
DASH = re.compile(r"\s+[—–]\s+|\s+--?\s+")  # "Title — Presenter": an em or en dash, or a hyphen, set apart by spaces
DAY = re.compile(r"^(?:(\d{4}-\d{2}-\d{2})|(\d{1,2})/(\d{1,2}))\s+")
TIME = re.compile(r"^(\d{1,2})[:h](\d{2})\s+")


def pasted_rows(kind: str, text: str, form: dict[str, Any], *, first: bool = True) -> list[dict[str, Any]]:
    """Lines pasted into a card of the visit's form, one row a line: "Name, position" for people, "[27/11] [09:00]
    Title — Presenter, Presenter" for the programme (the day defaults to the visit's first), a sentence for what was
    agreed. `first`: no row of that kind was typed above, so the first person pasted leads the side."""
    rows: list[dict[str, Any]] = []
    starts = str(form.get("starts_on") or "")
    for line in (raw.strip(" \t•-*·") for raw in str(text or "").splitlines()):
        if not line:
            continue
        if kind in SIDES:
            name, _, position = (part.strip() for part in line.partition(","))
            lead = "head_of_delegation" if kind == "delegation" else "chair"
            follower = "member" if kind == "delegation" else "participant"
            rows.append({"name": name, "position": position, "role": lead if first and not rows else follower})
        elif kind == "agenda":
            day = starts
            if found := DAY.match(line):
                line = line[found.end() :]
                if found[1]:
                    day = found[1]
                elif len(starts) == 10:
                    day = f"{starts[:4]}-{int(found[3]):02d}-{int(found[2]):02d}"
            starts_at = ""
            if found := TIME.match(line):
                line, starts_at = line[found.end() :], f"{int(found[1]):02d}:{found[2]}"
            title, *rest = DASH.split(line, maxsplit=1)
            names = [n.strip() for n in re.split(r",|\s+(?:and|et|và|和)\s+", rest[0]) if n.strip()] if rest else []
            rows.append({"day": day, "starts_at": starts_at, "title": title.strip(), "presenter_names": names})
        else:
            rows.append({"text": line})
    return rows


def expand_pastes(form: dict[str, Any]) -> dict[str, Any]:
    """The form with each card's pasted lines turned into rows after the ones typed (the paste boxes emptied): what
    the form shows again, every row editable, and what is saved."""
    expanded = {k: v for k, v in form.items() if not k.startswith("paste-")}
    for key, value in form.items():  # named presenters come back from the form as one field, comma-separated
        if key.startswith("agenda-") and key.endswith("-presenter_names") and isinstance(value, str):
            expanded[key] = [n.strip() for n in value.split(",") if n.strip()]
    for kind in PASTE_KINDS:
        prefix = "outcome" if kind == "outcome" else kind
        typed = sorted({int(k.split("-")[1]) for k in form if k.startswith(f"{prefix}-") and k.split("-")[1].isdigit()})
        named = [i for i in typed if any(str(form.get(f"{prefix}-{i}-{f}") or "").strip() for f in ("name", "person_id", "title", "text"))]
        following = (typed[-1] + 1) if typed else 0
        for offset, row in enumerate(pasted_rows(kind, str(form.get(f"paste-{kind}") or ""), form, first=not named)):
            for field, value in row.items():
                expanded[f"{prefix}-{following + offset}-{field}"] = value
    return expanded


def visit_from_form(form: dict[str, Any], struct: type[V]) -> tuple[V | None, dict[str, str], dict[str, list[dict[str, Any]]]]:
    form = expand_pastes(form)
    rows, errors, participants = _people_rows(form)
    # Who reads a row's notes or an outcome comes preset (department only): it does not make a row by itself.
    rows["agenda"], agenda_errors, agenda = parse_rows(form, "agenda", AGENDA_FIELDS, AgendaItemIn, "agenda", counted_by=AGENDA_FIELDS[:-1])
    rows["outcome"], outcome_errors, outcomes = parse_rows(
        form, "outcome", ("text", "audience"), OutcomeRowIn, "outcomes", counted_by=("text",)
    )
    # A gift's direction comes preset: the row counts once it says what the gift was.
    rows["gift"], gift_errors, gifts = parse_rows(
        form, "gift", ("direction", "description", "id"), GiftIn, "gifts", counted_by=("description",)
    )
    errors |= agenda_errors | outcome_errors | gift_errors
    fields = {k: v for k, v in form.items() if not k.startswith((*(f"{kind}-" for kind in ROW_KINDS), "translation-", "add_row"))}
    fields.update(participants=[], agenda=[], gifts=[], outcomes=[])
    try:
        data = parse_form(struct, fields, errors=errors)
    except ValidationFailed as exc:
        return None, exc.errors, rows
    data.participants, data.agenda, data.gifts = participants, agenda, gifts
    data.outcomes = [OutcomeIn(text=o.text.strip(), audience=o.audience) for o in outcomes if o.text.strip()]
    data.translations = versions.from_form(form)
    return data, {}, rows


routes = [VisitViews, portal_photo]


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
