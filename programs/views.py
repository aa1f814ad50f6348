"""HTML pages for programmes (quotas and their use) and digitization projects (progress, chart, reports)."""

import uuid
from datetime import date
from typing import Any, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from agreements.services import commitment_choices, list_agreements
from cooperation import audience, audit, comments, csvfiles, files, i18n, share, versions
from cooperation.auth.access import Principal, require_manager
from cooperation.dashboard import Panel
from cooperation.errors import ConflictError, StaleVersionError, ValidationFailed
from cooperation.forms import listed, parse_form, parse_rows, stale_resubmission
from cooperation.i18n import N_
from cooperation.partners.services import institution_choices
from cooperation.web import form_dict, query_int, query_str, refusal_page, render, see_other
from programs import chart, harvest_services, project_services, services
from programs.project_schemas import (
    MilestoneIn,
    ParticipantRole,
    ProgressIn,
    ProjectIn,
    ProjectOut,
    ProjectParticipantIn,
    ProjectStatus,
    ProjectUpdate,
    Unit,
)
from programs.schemas import ProgrammeIn, ProgrammeOut, ProgrammeUpdate, QuotaIn

BLANK_ROWS = 3
QUOTA_FIELDS = ("direction", "max_per_year", "field_of_work")
PARTICIPANT_FIELDS = ("institution_id", "role", "target_titles", "target_volumes", "target_images")
MILESTONE_FIELDS = ("title", "due_on", "done_on")
G = TypeVar("G", bound=ProgrammeIn)
J = TypeVar("J", bound=ProjectIn)


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


async def _choices(db: AsyncSession, principal: Principal) -> dict[str, Any]:
    institutions = await institution_choices(db, principal)
    agreements = (await list_agreements(db, principal, per_page=100, sort="reference")).items
    return {
        "institutions": institutions,
        "agreements": agreements,
        "commitments": await commitment_choices(db, principal, [a.id for a in agreements]),
    }


async def _save_form(action: Any) -> tuple[Any, dict[str, str], int]:
    """Run a save; a refusal comes back as the form's errors (stale: 409, with what to do)."""
    try:
        return await action(), {}, 303
    except StaleVersionError as exc:
        return None, {"form": exc.detail}, 409
    except ValidationFailed as exc:
        return None, exc.errors, 422


# ---- programmes ---------------------------------------------------------------------------------


def programme_from_form(form: dict[str, Any], struct: type[G]) -> tuple[G | None, dict[str, str], list[dict[str, Any]]]:
    rows, errors, quotas = parse_rows(form, "quota", QUOTA_FIELDS, QuotaIn, "quotas")
    fields = {k: v for k, v in form.items() if not k.startswith(("quota-", "translation-"))}
    fields["quotas"] = []
    fields["institution_ids"] = listed(form.get("institution_ids"))
    try:
        data = parse_form(struct, fields, errors=errors)
    except ValidationFailed as exc:
        return None, exc.errors, rows
    data.quotas = quotas
    data.translations = versions.from_form(form)
    return data, {}, rows


def programme_values(programme: ProgrammeOut) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values: dict[str, Any] = {
        f: _blank(getattr(programme, f)) for f in ("name", "starts_on", "ends_on", "description", "budget_amount", "budget_currency")
    }
    values |= {
        "agreement_id": _blank(programme.agreement_id),
        "commitment_id": _blank(programme.commitment_id),
        "version": programme.version,
    }
    values["institution_ids"] = [str(i.id) for i in programme.institutions]
    values |= versions.to_form(programme.translations)
    quotas = [
        {"direction": q.direction.value, "max_per_year": str(q.max_per_year), "field_of_work": q.field_of_work or ""}
        for q in programme.quotas
    ]
    return values, quotas


class ProgrammeViews(Controller):
    path = "/programmes"
    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        quotas: list[dict[str, Any]],
        errors: dict[str, str],
        *,
        programme_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        return render(
            request,
            "programs/programme_form.html",
            status_code=status_code,
            meanwhile=meanwhile,
            values=values,
            chosen_institutions=listed(values.get("institution_ids")),
            quotas=quotas + [dict.fromkeys(QUOTA_FIELDS, "") for _ in range(BLANK_ROWS)],
            errors=errors,
            programme_id=programme_id,
            **await _choices(db, principal),
        )

    @get("/", name="programmes")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        page = await services.list_programmes(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            q=query_str(request, "q"),
        )
        return render(request, "programs/programme_list.html", page=page)

    @get("/new", name="programme_new")
    async def new(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        require_manager(principal, N_("set up programmes"))
        return await self._form(request, db, principal, {}, [], {})

    @post("/", name="programme_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        require_manager(principal, N_("set up programmes"))
        form = await form_dict(request)
        data, errors, quotas = programme_from_form(form, ProgrammeIn)
        status_code = 422
        if data is not None:
            programme_id, errors, status_code = await _save_form(lambda: services.create_programme(db, principal, data))
            if programme_id is not None:
                return see_other(f"/programmes/{programme_id}")
            await db.rollback()
        return await self._form(request, db, principal, form, quotas, errors, status_code=status_code)

    @get("/{programme_id:uuid}", name="programme")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        programme_id: FromPath[uuid.UUID],
    ) -> Template:
        programme = await services.get_programme(db, principal, programme_id)
        years = sorted({u.year for u in programme.use})
        owner = await services.programme_owner(db, principal, programme_id)
        return render(
            request,
            "programs/programme_detail.html",
            programme=programme,
            years=years,
            audiences=await audience.of_record(db, owner.partner_ids),
            shared=await share.state(db, "programme", programme_id),
            history=await audit.history(db, "programme", programme_id) if principal.reads_everything else [],
        )

    @get("/{programme_id:uuid}/edit", name="programme_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        programme_id: FromPath[uuid.UUID],
    ) -> Template:
        programme = await services.get_programme(db, principal, programme_id)
        require_manager(principal, N_("change programmes"))
        values, quotas = programme_values(programme)
        return await self._form(request, db, principal, values, quotas, {}, programme_id=programme_id)

    @post("/{programme_id:uuid}", name="programme_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        programme_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await services.ensure_visible(db, principal, programme_id)
        require_manager(principal, N_("change programmes"))
        form = await form_dict(request)
        data, errors, quotas = programme_from_form(form, ProgrammeUpdate)
        status_code = 422
        if data is not None:
            version, errors, status_code = await _save_form(lambda: services.update_programme(db, principal, programme_id, data))
            if version is not None:
                return see_other(f"/programmes/{programme_id}")
            await db.rollback()
            if status_code == 409:  # what was typed comes back, with what changed meanwhile and the stored version
                stored, _ = programme_values(await services.get_programme(db, principal, programme_id))
                typed, meanwhile = stale_resubmission(stored, form)
                return await self._form(
                    request, db, principal, typed, quotas, {}, programme_id=programme_id, status_code=409, meanwhile=meanwhile
                )
        return await self._form(request, db, principal, form, quotas, errors, programme_id=programme_id, status_code=status_code)


# ---- digitization projects ----------------------------------------------------------------------


def project_from_form(form: dict[str, Any], struct: type[J]) -> tuple[J | None, dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    participant_rows, errors, participants = parse_rows(form, "participant", PARTICIPANT_FIELDS, ProjectParticipantIn, "participants")
    milestone_rows, milestone_errors, milestones = parse_rows(form, "milestone", MILESTONE_FIELDS, MilestoneIn, "milestones")
    errors |= milestone_errors
    fields = {k: v for k, v in form.items() if not k.startswith(("participant-", "milestone-", "translation-"))}
    fields.update(participants=[], milestones=[], agreement_ids=listed(form.get("agreement_ids")))
    try:
        data = parse_form(struct, fields, errors=errors)
    except ValidationFailed as exc:
        return None, exc.errors, participant_rows, milestone_rows
    data.participants, data.milestones = participants, milestones
    data.translations = versions.from_form(form)
    return data, {}, participant_rows, milestone_rows


def project_values(project: ProjectOut) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    values: dict[str, Any] = {
        f: _blank(getattr(project, f))
        for f in (
            "name",
            "name_native",
            "lead_institution_id",
            "starts_on",
            "ends_on",
            "platform_url",
            "status",
            "description",
            "consortium_size",
            "consortium_area",
            "stale_after_days",
            "commitment_id",
            "commitment_unit",
        )
    }
    # The project's own targets (the form leaves them blank when they are only the sum of the participants').
    values |= {f"target_{unit}": _blank(getattr(project.own_target, unit)) for unit in ("titles", "volumes", "images")}
    values["agreement_ids"] = [str(a.id) for a in project.agreements]
    values["public"] = "1" if project.public else ""
    values |= versions.to_form(project.translations)
    values["version"] = project.version
    participants = [
        {
            "institution_id": str(p.institution_id),
            "role": p.role,
            "target_titles": _blank(p.target.titles),
            "target_volumes": _blank(p.target.volumes),
            "target_images": _blank(p.target.images),
        }
        for p in project.participants
    ]
    milestones = [{"title": m.title, "due_on": m.due_on.isoformat(), "done_on": _blank(m.done_on)} for m in project.milestones]
    return values, participants, milestones


class ProjectViews(Controller):
    path = "/projects"
    include_in_schema = False

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        participants: list[dict[str, Any]],
        milestones: list[dict[str, Any]],
        errors: dict[str, str],
        *,
        project_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        return render(
            request,
            "programs/project_form.html",
            status_code=status_code,
            meanwhile=meanwhile,
            values=values,
            chosen_agreements=listed(values.get("agreement_ids")),
            participants=participants + [dict.fromkeys(PARTICIPANT_FIELDS, "") for _ in range(BLANK_ROWS)],
            milestones=milestones + [dict.fromkeys(MILESTONE_FIELDS, "") for _ in range(BLANK_ROWS)],
            errors=errors,
            project_id=project_id,
            statuses=list(ProjectStatus),
            roles=list(ParticipantRole),
            units=list(Unit),
            **await _choices(db, principal),
        )

    async def _page(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        *,
        progress_values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        harvest_values: dict[str, Any] | None = None,
        harvest_errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        project = await project_services.get_project(db, principal, project_id)
        target = getattr(project.target, project.main_unit)
        svg = await chart.progress_svg_async(
            project.series, project.main_unit, target, title=f"{project.main_unit.capitalize()} digitized", ends_on=project.ends_on
        )
        owner = await files.resolve_owner(db, principal, "project", project_id)
        return render(
            request,
            "programs/project_detail.html",
            status_code=status_code,
            project=project,
            chart_svg=svg,
            reporting_for=[p for p in project.participants if p.may_report],
            progress_values=progress_values or {"as_of": date.today().isoformat()},
            errors=errors or {},
            documents=await files.list_for(db, "project", project_id, principal=principal),
            comment_list=await comments.list_for(db, principal, "project", project_id),
            audiences=await audience.of_record(db, owner.partner_ids),
            shared=await share.state(db, "project", project_id),
            may_contribute=owner.may_add,
            history=await audit.history(db, "project", project_id) if principal.reads_everything else [],
            harvest_sources=await harvest_services.sources_of(db, principal, project_id),
            harvest_values=harvest_values or {"manifests_as": "volumes"},
            harvest_errors=harvest_errors or {},
        )

    @get("/", name="projects")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        status = query_str(request, "status")
        page = await project_services.list_projects(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            q=query_str(request, "q"),
            status=status if status in ProjectStatus.__members__.values() else None,
        )
        return render(request, "programs/project_list.html", page=page, statuses=list(ProjectStatus))

    @get("/new", name="project_new")
    async def new(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        require_manager(principal, N_("set up digitization projects"))
        return await self._form(request, db, principal, {"status": "active", "stale_after_days": "60"}, [], [], {})

    @post("/", name="project_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        require_manager(principal, N_("set up digitization projects"))
        form = await form_dict(request)
        data, errors, participants, milestones = project_from_form(form, ProjectIn)
        status_code = 422
        if data is not None:
            project_id, errors, status_code = await _save_form(lambda: project_services.create_project(db, principal, data))
            if project_id is not None:
                return see_other(f"/projects/{project_id}")
            await db.rollback()
        return await self._form(request, db, principal, form, participants, milestones, errors, status_code=status_code)

    @get("/{project_id:uuid}", name="project")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
    ) -> Template:
        return await self._page(request, db, principal, project_id)

    @get("/{project_id:uuid}/edit", name="project_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
    ) -> Template:
        project = await project_services.get_project(db, principal, project_id)
        require_manager(principal, N_("change digitization projects"))
        values, participants, milestones = project_values(project)
        return await self._form(request, db, principal, values, participants, milestones, {}, project_id=project_id)

    @post("/{project_id:uuid}", name="project_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await project_services.ensure_visible(db, principal, project_id)
        require_manager(principal, N_("change digitization projects"))
        form = await form_dict(request)
        data, errors, participants, milestones = project_from_form(form, ProjectUpdate)
        status_code = 422
        if data is not None:
            version, errors, status_code = await _save_form(lambda: project_services.update_project(db, principal, project_id, data))
            if version is not None:
                return see_other(f"/projects/{project_id}")
            await db.rollback()
            if status_code == 409:  # what was typed comes back, with what changed meanwhile and the stored version
                stored, _, _ = project_values(await project_services.get_project(db, principal, project_id))
                typed, meanwhile = stale_resubmission(stored, form)
                return await self._form(
                    request, db, principal, typed, participants, milestones, {}, project_id=project_id, status_code=409, meanwhile=meanwhile
                )
        return await self._form(
            request, db, principal, form, participants, milestones, errors, project_id=project_id, status_code=status_code
        )

    @post("/{project_id:uuid}/harvest", name="project_harvest_source")
    async def harvest_source(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """A participant names (or changes) its IIIF Change Discovery endpoint."""
        form = await form_dict(request)
        try:
            try:
                institution_id = uuid.UUID(str(form.get("institution_id") or ""))
            except ValueError as exc:
                await project_services.ensure_visible(db, principal, project_id)
                raise ValidationFailed({"institution_id": i18n.gettext("choose the participant")}) from exc
            await harvest_services.set_source(
                db,
                principal,
                project_id,
                institution_id,
                str(form.get("endpoint") or ""),
                manifests_as=str(form.get("manifests_as") or ""),
                count_canvases=form.get("count_canvases") == "1",
            )
        except ValidationFailed as exc:
            await db.rollback()
            return await self._page(request, db, principal, project_id, harvest_values=form, harvest_errors=exc.errors, status_code=422)
        return see_other(f"/projects/{project_id}#harvest")

    @post("/{project_id:uuid}/harvest/{source_id:uuid}/run", name="project_harvest_run")
    async def harvest_run(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
        source_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """Harvest now, within a short budget: what is left waits for the next harvest (the page says so)."""
        try:
            await harvest_services.harvest_now(
                db,
                principal,
                request.app.state.session_factory,
                request.app.state.settings,
                project_id,
                source_id,
                today=date.today(),
            )
        except ConflictError as exc:
            return refusal_page(request, exc, f"/projects/{project_id}#harvest")
        return see_other(f"/projects/{project_id}#harvest")

    @post("/{project_id:uuid}/harvest/{source_id:uuid}/remove", name="project_harvest_remove")
    async def harvest_remove(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
        source_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        await harvest_services.remove_source(db, principal, project_id, source_id)
        return see_other(f"/projects/{project_id}#harvest")

    @post("/{project_id:uuid}/progress", name="project_progress")
    async def report(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        try:
            await project_services.report_progress(db, principal, project_id, parse_form(ProgressIn, form), source="page")
        except ValidationFailed as exc:
            await db.rollback()
            return await self._page(request, db, principal, project_id, progress_values=form, errors=exc.errors, status_code=422)
        return see_other(f"/projects/{project_id}#progress")

    @post("/{project_id:uuid}/progress/csv", name="project_progress_csv")
    async def import_csv(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        try:
            await project_services.import_csv(db, principal, project_id, await csvfiles.read_upload(request))
        except ValidationFailed as exc:
            await db.rollback()
            errors = {"csv": exc.detail, **exc.errors}
            return await self._page(request, db, principal, project_id, errors=errors, status_code=422)
        return see_other(f"/projects/{project_id}#progress")


# ---- dashboard ----------------------------------------------------------------------------------


async def dashboard_panel(db: AsyncSession, principal: Principal) -> Panel | None:
    """This year's quota use of running programmes, and the digitization projects at risk."""
    today = date.today()
    quota_use = await services.quota_use_between(db, principal, today, today, limit=10)
    health = await project_services.project_health(db, principal, today=today)
    if not quota_use and not health:
        return None
    return Panel(
        title=i18n.gettext("Programmes and projects"),
        template="programs/_dashboard.html",
        order=30,
        context={"quota_use": quota_use, "at_risk": [h for h in health if h.risks], "on_track": [h for h in health if not h.risks]},
    )


routes = [ProgrammeViews, ProjectViews]
