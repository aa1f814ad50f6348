"""First run: the home institution and the first administrator, on an empty, migrated database.

`coop setup` (cli.py) and, while no administrator exists and the server listens on a loopback address only, the
`/setup` page do the same thing once; afterwards `/setup` is 404 and `coop setup` says how to change the home
institution (an administrator, from its page or `PUT /api/v1/institutions/home`).
"""

import re
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n
from cooperation.auth.access import Role
from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.auth.models import User
from cooperation.auth.services import create_user, is_loopback
from cooperation.db import table
from cooperation.errors import ConflictError, NotFoundError, ValidationFailed
from cooperation.forms import parse_form
from cooperation.i18n import N_
from cooperation.partners.schemas import InstitutionIn
from cooperation.partners.services import create_home_institution
from cooperation.web import form_dict, render

SETUP_LOCK = 0x4C6962436F6F72  # two first runs at once: one sets up, the other finds it done
ALREADY = N_(
    "LibCoop is already set up: an administrator exists. To change the home institution, sign in as an administrator "
    "and choose “Make this the home institution” on the institution's page (or PUT /api/v1/institutions/home)."
)
U = table(User).c


class SetupIn(msgspec.Struct, forbid_unknown_fields=True):
    home_code: Annotated[str, msgspec.Meta(min_length=2, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    home_name: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    country: Annotated[str, msgspec.Meta(min_length=2, max_length=2)]
    admin_email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    admin_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    admin_password: Annotated[str, msgspec.Meta(max_length=1000)]
    home_name_native: Annotated[str, msgspec.Meta(max_length=300)] | None = None


async def needed(session: AsyncSession) -> bool:
    """True while no active administrator exists: the one state in which first run is allowed."""
    admin = await session.scalar(select(U.id).where(U.role == Role.ADMIN.value, U.active.is_(True), U.archived_at.is_(None)).limit(1))
    return admin is None


async def first_run(session: AsyncSession, data: SetupIn) -> User:
    """Create the home institution and the first administrator (who belongs to it), in one transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"SELECT pg_advisory_xact_lock({SETUP_LOCK})"))
    if not await needed(session):
        raise ConflictError(i18n.gettext(ALREADY))
    errors: dict[str, str] = {}
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", data.admin_email.strip()):
        errors["admin_email"] = i18n.gettext("must be an e-mail address such as name@library.gov.vn")
    institution = InstitutionIn(code=data.home_code, name=data.home_name, country=data.country, name_native=data.home_name_native)
    try:
        home = await create_home_institution(session, institution)
    except ValidationFailed as exc:
        errors |= {f"home_{k}" if k in ("code", "name", "name_native") else k: v for k, v in exc.errors.items()}
        home = None
    if errors:
        raise ValidationFailed(errors)
    try:
        user = await create_user(
            session, None, email=data.admin_email, name=data.admin_name, role=Role.ADMIN, password=data.admin_password, institution_id=home
        )
    except ValidationFailed as exc:
        raise ValidationFailed({f"admin_{k}": v for k, v in exc.errors.items()}) from None
    audit.record(session, None, "setup", "user", user.id, summary=f"First run: {data.home_code.upper()} and administrator {user.email}")
    await session.commit()
    return user


def _offered(request: Request[Any, Any, Any]) -> bool:
    """The web form exists only on a server bound to a loopback address (the operator's own machine or a tunnel):
    on a public address the first visitor would become administrator."""
    server = request.scope.get("server") or (None, None)
    return is_loopback(server[0])


async def _available(request: Request[Any, Any, Any], db: AsyncSession) -> None:
    if not (_offered(request) and await needed(db)):
        raise NotFoundError("page")


@get("/setup", opt={PUBLIC_OPT: True}, name="setup", include_in_schema=False)
async def setup_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Template:
    await _available(request, db)
    return render(request, "auth/setup.html", values={}, errors={})


@post("/setup", opt={PUBLIC_OPT: True}, name="setup_submit", include_in_schema=False)
async def setup_submit(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    from cooperation.auth.views import sign_in_response

    await _available(request, db)
    form = await form_dict(request)
    try:
        data = parse_form(SetupIn, form)
        # The password exactly as typed (forms otherwise trim their fields).
        user = await first_run(db, msgspec.structs.replace(data, admin_password=str(form.get("admin_password") or "")))
    except ValidationFailed as exc:
        await db.rollback()
        values = {k: v for k, v in form.items() if k != "admin_password"}
        return render(request, "auth/setup.html", status_code=422, values=values, errors=exc.errors)
    return await sign_in_response(request, db, user, "/", method="setup")


routes = [setup_page, setup_submit]
