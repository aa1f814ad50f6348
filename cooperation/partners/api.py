"""JSON API for institutions and people (under /api/v1)."""

import uuid

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation.auth.access import Principal
from cooperation.partners import services
from cooperation.partners.schemas import (
    AccountLinkIn,
    HomeIn,
    InstitutionIn,
    InstitutionKind,
    InstitutionOut,
    InstitutionPage,
    InstitutionUpdate,
    PersonIn,
    PersonOut,
    PersonPage,
    PersonUpdate,
)
from cooperation.records import DEFAULT_PER_PAGE, VersionIn
from cooperation.web import PageNumber, PerPage


class InstitutionApi(Controller):
    path = "/api/v1/institutions"
    tags = ("institutions",)

    @get("/", name="api_institutions")
    async def list_institutions(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        sort: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        country: FromQuery[str | None] = None,
        kind: FromQuery[InstitutionKind | None] = None,
        active: FromQuery[bool | None] = None,
        archived: FromQuery[bool] = False,
    ) -> InstitutionPage:
        """Institutions you may see. `sort` is a column name, `-name` for descending; `q` searches names and codes."""
        return await services.list_institutions(
            db,
            principal,
            page=page,
            per_page=per_page,
            sort=sort,
            q=q,
            country=country,
            kind=kind.value if kind else None,
            active=active,
            archived=archived,
        )

    @post("/", name="api_institution_create")
    async def create_institution(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[InstitutionIn]
    ) -> InstitutionOut:
        """Register a partner institution (`code` unique; the name in its own script in `name_native`)."""
        institution_id = await services.create_institution(db, principal, data)
        return await services.get_institution(db, principal, institution_id)

    @put("/home", name="api_institution_home")
    async def set_home(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[HomeIn]
    ) -> InstitutionOut:
        """Administrators: name the institution that runs this LibCoop (the previous one stops being it; the
        department's accounts move with it). Audited."""
        await services.set_home_institution(db, principal, data.institution_id)
        return await services.get_institution(db, principal, data.institution_id)

    @get("/{institution_id:uuid}", name="api_institution")
    async def get_institution(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], institution_id: FromPath[uuid.UUID]
    ) -> InstitutionOut:
        """One institution you may see."""
        return await services.get_institution(db, principal, institution_id)

    @put("/{institution_id:uuid}", name="api_institution_update")
    async def update_institution(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
        data: JSONBody[InstitutionUpdate],
    ) -> InstitutionOut:
        """Replace the institution's fields; `version` must be the one you read (409 otherwise)."""
        await services.update_institution(db, principal, institution_id, data)
        return await services.get_institution(db, principal, institution_id)

    @post("/{institution_id:uuid}/archive", name="api_institution_archive", status_code=200)
    async def archive_institution(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> InstitutionOut:
        """Archive an institution (not the home institution): kept, no longer listed."""
        await services.set_institution_archived(db, principal, institution_id, archived=True, version=data.version)
        return await services.get_institution(db, principal, institution_id)

    @post("/{institution_id:uuid}/restore", name="api_institution_restore", status_code=200)
    async def restore_institution(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> InstitutionOut:
        """Restore an archived institution."""
        await services.set_institution_archived(db, principal, institution_id, archived=False, version=data.version)
        return await services.get_institution(db, principal, institution_id)


class PersonApi(Controller):
    path = "/api/v1/people"
    tags = ("people",)

    @get("/", name="api_people")
    async def list_people(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        sort: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        institution_id: FromQuery[uuid.UUID | None] = None,
        archived: FromQuery[bool] = False,
    ) -> PersonPage:
        """People at the institutions you may see; `q` searches names (with or without diacritics), positions, e-mail."""
        return await services.list_people(
            db, principal, page=page, per_page=per_page, sort=sort, q=q, institution_id=institution_id, archived=archived
        )

    @post("/", name="api_person_create")
    async def create_person(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], data: JSONBody[PersonIn]
    ) -> PersonOut:
        """Record a person of an institution (a partner adds people of its own institution only)."""
        person_id = await services.create_person(db, principal, data)
        return await services.get_person(db, principal, person_id)

    @get("/{person_id:uuid}", name="api_person")
    async def get_person(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], person_id: FromPath[uuid.UUID]
    ) -> PersonOut:
        """One person you may see (the linked account is shown to staff and to its holder)."""
        return await services.get_person(db, principal, person_id)

    @put("/{person_id:uuid}", name="api_person_update")
    async def update_person(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
        data: JSONBody[PersonUpdate],
    ) -> PersonOut:
        """Change a person's record; `version` must be the one you read (409 otherwise)."""
        await services.update_person(db, principal, person_id, data)
        return await services.get_person(db, principal, person_id)

    @post("/{person_id:uuid}/archive", name="api_person_archive", status_code=200)
    async def archive_person(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> PersonOut:
        """Archive a person: kept in the records they took part in, no longer listed."""
        await services.set_person_archived(db, principal, person_id, archived=True, version=data.version)
        return await services.get_person(db, principal, person_id)

    @post("/{person_id:uuid}/restore", name="api_person_restore", status_code=200)
    async def restore_person(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
        data: JSONBody[VersionIn],
    ) -> PersonOut:
        """Restore an archived person."""
        await services.set_person_archived(db, principal, person_id, archived=False, version=data.version)
        return await services.get_person(db, principal, person_id)

    @put("/{person_id:uuid}/account", name="api_person_account")
    async def link_account(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
        data: JSONBody[AccountLinkIn],
    ) -> PersonOut:
        """Link the person to the account they sign in with (`user_id: null` unlinks); coordinators and administrators."""
        await services.link_account(db, principal, person_id, data)
        return await services.get_person(db, principal, person_id)


routes = [InstitutionApi, PersonApi]
