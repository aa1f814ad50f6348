"""HTML pages for institutions and people."""

import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n, web
from cooperation.auth.access import Principal, may_change_part_of, require_admin, require_manager
from cooperation.errors import ForbiddenError, StaleVersionError, ValidationFailed
from cooperation.forms import parse_form, stale_resubmission
from cooperation.i18n import N_
from cooperation.partners import dormancy, services
from cooperation.partners.schemas import (
    AccountLinkIn,
    InstitutionIn,
    InstitutionKind,
    InstitutionOut,
    InstitutionUpdate,
    PersonIn,
    PersonOut,
    PersonUpdate,
)
from cooperation.reports.builders import partner_sections
from cooperation.web import form_dict, form_version, query_bool, query_int, query_str, query_uuid, render, see_other


def institution_values(institution: InstitutionOut) -> dict[str, Any]:
    """The stored institution as its edit form shows it."""
    return {f: getattr(institution, f) for f in ("code", "name", "name_native", "country", "city", "kind", "website", "active", "version")}


def person_values(person: PersonOut) -> dict[str, Any]:
    """The stored person as the edit form shows it."""
    values: dict[str, Any] = {f: getattr(person, f) for f in ("name", "name_native", "position", "department", "email", "phone", "version")}
    values["institution_id"] = str(person.institution_id)
    values["languages"] = ", ".join(person.languages)
    return values


class InstitutionViews(Controller):
    path = "/institutions"
    include_in_schema = False

    @get("/", name="institutions")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        page = await services.list_institutions(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            q=query_str(request, "q"),
            country=query_str(request, "country"),
            kind=query_str(request, "kind"),
            archived=query_bool(request, "archived"),
        )
        return render(
            request,
            "partners/institution_list.html",
            page=page,
            kinds=list(InstitutionKind),
            countries=i18n.country_names(i18n.current()),
            country_name=web.country,
        )

    @get("/new", name="institution_new")
    async def new(self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]) -> Template:
        require_manager(principal, N_("register institutions"))
        return self._form(request, {"kind": "national_library", "active": True}, {})

    def _form(
        self,
        request: Request[Any, Any, Any],
        values: dict[str, Any],
        errors: dict[str, str],
        *,
        institution_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        return render(
            request,
            "partners/institution_form.html",
            meanwhile=meanwhile,
            values=values,
            errors=errors,
            institution_id=institution_id,
            kinds=list(InstitutionKind),
            countries=i18n.country_names(i18n.current()),
            status_code=status_code,
        )

    @post("/", name="institution_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        form = await form_dict(request)
        try:
            institution_id = await services.create_institution(db, principal, parse_form(InstitutionIn, form))
        except ValidationFailed as exc:
            return self._form(request, form, exc.errors, status_code=422)
        return see_other(f"/institutions/{institution_id}")

    @get("/{institution_id:uuid}", name="institution")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
    ) -> Template:
        institution = await services.get_institution(db, principal, institution_id)
        people = await services.people_of(db, principal, [institution_id])
        history = await audit.history(db, "institution", institution_id) if principal.reads_everything else []
        # A partner's page is its dossier: what it shares with us, each record through its own visibility rule.
        dossier = {} if institution.is_home else await partner_sections(db, principal, institution_id, date.today())
        months = request.app.state.settings.dormant_months
        dormant = await dormancy.dormant_partners(db, principal, date.today(), months, only=institution_id)
        logo = await services.logo_uri(db, request.app.state.settings) if institution.is_home and principal.is_admin else None
        return render(
            request,
            "partners/institution_detail.html",
            institution=institution,
            logo=logo,
            people=people,
            history=history,
            dossier=dossier,
            dormant=dormant[0] if dormant else None,
            dormant_months=months,
            country_name=web.country,
        )

    @get("/{institution_id:uuid}/edit", name="institution_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
    ) -> Template:
        institution = await services.get_institution(db, principal, institution_id)
        require_manager(principal, N_("edit institutions"))
        return self._form(request, institution_values(institution), {}, institution_id=institution_id)

    @post("/{institution_id:uuid}", name="institution_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        await services.get_institution(db, principal, institution_id)
        try:
            await services.update_institution(db, principal, institution_id, parse_form(InstitutionUpdate, form))
        except StaleVersionError:
            await db.rollback()
            typed, meanwhile = stale_resubmission(institution_values(await services.get_institution(db, principal, institution_id)), form)
            return self._form(request, typed, {}, institution_id=institution_id, status_code=409, meanwhile=meanwhile)
        except ValidationFailed as exc:
            return self._form(request, form, exc.errors, institution_id=institution_id, status_code=422)
        return see_other(f"/institutions/{institution_id}")

    @post("/{institution_id:uuid}/archive", name="institution_archive")
    async def archive(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        await services.set_institution_archived(db, principal, institution_id, archived=True, version=form_version(form))
        return see_other(f"/institutions/{institution_id}")

    @post("/{institution_id:uuid}/home", name="institution_home")
    async def make_home(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], institution_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await services.set_home_institution(db, principal, institution_id)
        return see_other(f"/institutions/{institution_id}")

    @post("/{institution_id:uuid}/logo", name="institution_logo")
    async def logo(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        """The home institution's logo on the cover of reports: uploaded, replaced, or removed."""
        require_admin(principal, N_("set the logo on reports"))
        form = await request.form()
        upload = form.get("file")
        content = None if form.get("remove") == "1" else await upload.read() if isinstance(upload, UploadFile) else b""
        try:
            await services.set_logo(db, principal, request.app.state.settings, institution_id, content)
        except ValidationFailed as exc:
            await db.rollback()
            title = i18n.gettext("The logo was not changed")
            back = f"/institutions/{institution_id}#logo"
            return render(request, "error.html", status_code=422, title=title, detail=exc.detail, errors=exc.errors, back=back)
        return see_other(f"/institutions/{institution_id}#logo")

    @post("/{institution_id:uuid}/restore", name="institution_restore")
    async def restore(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        institution_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        await services.set_institution_archived(db, principal, institution_id, archived=False, version=form_version(form))
        return see_other(f"/institutions/{institution_id}")


class PersonViews(Controller):
    path = "/people"
    include_in_schema = False

    @get("/", name="people")
    async def index(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        page = await services.list_people(
            db,
            principal,
            page=query_int(request, "page", 1),
            per_page=query_int(request, "per_page", 25),
            sort=query_str(request, "sort"),
            q=query_str(request, "q"),
            institution_id=query_uuid(request, "institution_id"),
            archived=query_bool(request, "archived"),
        )
        institutions = await services.institution_choices(db, principal)
        return render(request, "partners/person_list.html", page=page, institutions=institutions)

    async def _form(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        values: dict[str, Any],
        errors: dict[str, str],
        *,
        person_id: uuid.UUID | None = None,
        status_code: int = 200,
        meanwhile: list[tuple[str, str, str]] | None = None,
    ) -> Template:
        institutions = await services.institution_choices(db, principal)
        return render(
            request,
            "partners/person_form.html",
            meanwhile=meanwhile,
            values=values,
            errors=errors,
            person_id=person_id,
            institutions=institutions,
            status_code=status_code,
        )

    @get("/new", name="person_new")
    async def new(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        institution_id = query_uuid(request, "institution_id") or principal.institution_id
        return await self._form(request, db, principal, {"institution_id": str(institution_id or "")}, {})

    @post("/", name="person_create")
    async def create(
        self, request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        form = await form_dict(request)
        try:
            person_id = await services.create_person(db, principal, parse_form(PersonIn, form))
        except ValidationFailed as exc:
            return await self._form(request, db, principal, form, exc.errors, status_code=422)
        return see_other(f"/people/{person_id}")

    @get("/{person_id:uuid}", name="person")
    async def show(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
    ) -> Template:
        person = await services.get_person(db, principal, person_id)
        history = await audit.history(db, "person", person_id) if principal.reads_everything else []
        accounts = await services.account_choices(db, principal, person)
        return render(request, "partners/person_detail.html", person=person, history=history, accounts=accounts)

    @get("/{person_id:uuid}/edit", name="person_edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
    ) -> Template:
        person = await services.get_person(db, principal, person_id)
        if not may_change_part_of(principal, person.institution_id):
            raise ForbiddenError(i18n.gettext("You may only edit people of your own institution."))
        return await self._form(request, db, principal, person_values(person), {}, person_id=person_id)

    @post("/{person_id:uuid}", name="person_update")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        await services.get_person(db, principal, person_id)
        try:
            await services.update_person(db, principal, person_id, parse_form(PersonUpdate, form))
        except StaleVersionError:
            await db.rollback()
            typed, meanwhile = stale_resubmission(person_values(await services.get_person(db, principal, person_id)), form)
            return await self._form(request, db, principal, typed, {}, person_id=person_id, status_code=409, meanwhile=meanwhile)
        except ValidationFailed as exc:
            return await self._form(request, db, principal, form, exc.errors, person_id=person_id, status_code=422)
        return see_other(f"/people/{person_id}")

    @post("/{person_id:uuid}/account", name="person_account")
    async def link_account(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        chosen = str(form.get("user_id") or "").strip()
        try:
            user_id = uuid.UUID(chosen) if chosen else None
        except ValueError:
            raise ValidationFailed({"user_id": i18n.gettext("choose an account from the list")}) from None
        await services.link_account(db, principal, person_id, AccountLinkIn(user_id=user_id, version=form_version(form)))
        return see_other(f"/people/{person_id}")

    @post("/{person_id:uuid}/archive", name="person_archive")
    async def archive(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        await services.set_person_archived(db, principal, person_id, archived=True, version=form_version(form))
        return see_other(f"/people/{person_id}")

    @post("/{person_id:uuid}/restore", name="person_restore")
    async def restore(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[uuid.UUID],
    ) -> Response[Any]:
        form = await form_dict(request)
        await services.set_person_archived(db, principal, person_id, archived=False, version=form_version(form))
        return see_other(f"/people/{person_id}")


routes = [InstitutionViews, PersonViews]
