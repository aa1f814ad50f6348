"""JSON API for programmes and digitization projects (under /api/v1)."""

import uuid

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import csvfiles
from cooperation.apidoc import multipart
from cooperation.auth.access import Principal
from cooperation.records import DEFAULT_PER_PAGE
from cooperation.web import PageNumber, PerPage
from programs import project_services, services
from programs.project_schemas import ProgressIn, ProjectIn, ProjectOut, ProjectPage, ProjectStatus, ProjectUpdate
from programs.schemas import ProgrammeIn, ProgrammeOut, ProgrammePage, ProgrammeUpdate


class ImportResult(msgspec.Struct):
    applied: int
    project: ProjectOut


class ProgrammeApi(Controller):
    path = "/api/v1/programmes"
    tags = ("programmes",)

    @get("/", name="api_programmes")
    async def list_programmes(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        sort: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
    ) -> ProgrammePage:
        """Expert-exchange programmes you may see, newest first, with the number of exchanges in each."""
        return await services.list_programmes(db, principal, page=page, per_page=per_page, sort=sort, q=q)

    @post("/", name="api_programme_create")
    async def create(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[ProgrammeIn]
    ) -> ProgrammeOut:
        """Set up a programme: participating institutions, period and yearly quotas per direction (optionally per field)."""
        programme_id = await services.create_programme(db, principal, data)
        return await services.get_programme(db, principal, programme_id)

    @get("/{programme_id:uuid}", name="api_programme")
    async def get_programme(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], programme_id: FromPath[uuid.UUID]
    ) -> ProgrammeOut:
        """The programme with its exchanges and the use of each quota in each year."""
        return await services.get_programme(db, principal, programme_id)

    @put("/{programme_id:uuid}", name="api_programme_update")
    async def update(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        programme_id: FromPath[uuid.UUID],
        data: JSONBody[ProgrammeUpdate],
    ) -> ProgrammeOut:
        """Change a programme (period, institutions, yearly quotas); `version` must be the one you read."""
        await services.update_programme(db, principal, programme_id, data)
        return await services.get_programme(db, principal, programme_id)


class ProjectApi(Controller):
    path = "/api/v1/projects"
    tags = ("digitization projects",)

    @get("/", name="api_projects")
    async def list_projects(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        sort: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        status: FromQuery[ProjectStatus | None] = None,
    ) -> ProjectPage:
        """Shared digitization projects you may see."""
        return await project_services.list_projects(
            db, principal, page=page, per_page=per_page, sort=sort, q=q, status=status.value if status else None
        )

    @post("/", name="api_project_create")
    async def create(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[ProjectIn]
    ) -> ProjectOut:
        """Set up a project: lead, participants with their own targets, agreements, milestones, targets in titles, volumes, images."""
        project_id = await project_services.create_project(db, principal, data)
        return await project_services.get_project(db, principal, project_id)

    @get("/{project_id:uuid}", name="api_project")
    async def get_project(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], project_id: FromPath[uuid.UUID]
    ) -> ProjectOut:
        """Overall and per-participant progress, totals over time, the 90-day rate and the completion date it implies,
        stale participants, late milestones, and who reported what."""
        return await project_services.get_project(db, principal, project_id)

    @put("/{project_id:uuid}", name="api_project_update")
    async def update(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ProjectUpdate],
    ) -> ProjectOut:
        """Change a digitization project (participants and their targets, milestones); `version` must be the one you read."""
        await project_services.update_project(db, principal, project_id, data)
        return await project_services.get_project(db, principal, project_id)

    @post("/{project_id:uuid}/progress", name="api_project_progress")
    async def report(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ProgressIn],
    ) -> ProjectOut:
        """Report cumulative counts as of a date (a partner: for its own institution). A figure lower than before,
        or a second report for the same date, needs `correction_note`."""
        await project_services.report_progress(db, principal, project_id, data, source="api")
        return await project_services.get_project(db, principal, project_id)

    @post(
        "/{project_id:uuid}/progress/csv",
        name="api_project_progress_csv",
        operation_class=multipart(
            "Progress as CSV: institution,as_of,titles,volumes,images,correction_note",
            {"file": "the CSV file, UTF-8, comma, semicolon or tab separated"},
            also_csv=True,
        ),
    )
    async def import_csv(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], project_id: FromPath[uuid.UUID]
    ) -> ImportResult:
        """A CSV file (body `text/csv`, or multipart field `file`) with the columns
        `institution,as_of,titles,volumes,images,correction_note`, one row per institution and date. Every bad row
        is reported by line number and nothing from the file is applied."""
        content = await csvfiles.read_upload(request)
        applied = await project_services.import_csv(db, principal, project_id, content)
        return ImportResult(applied, await project_services.get_project(db, principal, project_id))


routes = [ProgrammeApi, ProjectApi]
