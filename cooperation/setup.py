"""First run: the home institution and the first administrator, on an empty, migrated database.

`coop setup` (cli.py) and, while no administrator exists, the `/setup` page do the same thing once; afterwards
`/setup` is 404 and `coop setup` says how to change the home institution (an administrator, from its page or
`PUT /api/v1/institutions/home`).

The page asks for a one-time setup code that only the operator can read: `coop serve` prints one at start while no
administrator exists, and so does `coop setup --print-code`. It is stored hashed (the latest printed is the one that
works) and used up by the first run. Whatever the addresses — a server on 127.0.0.1 behind a public proxy looks
local to itself — nobody else can make themselves the first administrator.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from cooperation import audit, i18n
from cooperation.auth import limits
from cooperation.auth.access import Role
from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.auth.models import User
from cooperation.auth.services import create_user
from cooperation.db import UTCDateTime, table, utcnow
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
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a terminal and typed


class SetupCode(SQLModel, table=True):
    """The one-time setup code's SHA-256 (one row at most): printed to the operator, never shown on a page."""

    __tablename__ = "setup_code"

    id: int = Field(default=1, primary_key=True)
    code_sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _digest(code: str) -> str:
    return hashlib.sha256(re.sub(r"[\s-]", "", code).upper().encode()).hexdigest()


async def issue_code(session: AsyncSession) -> str:
    """A new setup code (the previous one stops working), for the operator's terminal: `coop serve` and
    `coop setup --print-code`. Refused once an administrator exists."""
    if not await needed(session):
        raise ConflictError(i18n.gettext(ALREADY))
    code = "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(4))
    await session.execute(delete(SetupCode))
    session.add(SetupCode(code_sha256=_digest(code)))
    await session.commit()
    return code


async def _code_is_right(session: AsyncSession, code: str) -> bool:
    stored = await session.scalar(select(table(SetupCode).c.code_sha256))
    return stored is not None and bool(code.strip()) and hmac.compare_digest(stored, _digest(code))


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
    await session.execute(delete(SetupCode))  # used up with the first run
    audit.record(session, None, "setup", "user", user.id, summary=f"First run: {data.home_code.upper()} and administrator {user.email}")
    await session.commit()
    return user


async def _available(db: AsyncSession) -> None:
    if not await needed(db):
        raise NotFoundError("page")


@get("/setup", opt={PUBLIC_OPT: True}, name="setup", include_in_schema=False)
async def setup_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Template:
    await _available(db)
    return render(request, "auth/setup.html", values={}, errors={})


@post("/setup", opt={PUBLIC_OPT: True}, name="setup_submit", include_in_schema=False)
async def setup_submit(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    from cooperation.auth.views import sign_in_response

    await _available(db)
    form = await form_dict(request)
    client = (request.scope.get("client") or ("?", 0))[0]
    await limits.check(db, [f"setup:ip:{client}"], limit=limits.SIGN_IN[0], window_seconds=limits.SIGN_IN[1])
    try:
        if not await _code_is_right(db, str(form.get("setup_code") or "")):
            await limits.count(db, f"setup:ip:{client}", window_seconds=limits.SIGN_IN[1])
            raise ValidationFailed({"setup_code": i18n.gettext("is not the code `coop serve` printed on the server")})
        data = parse_form(SetupIn, form)
        # The password exactly as typed (forms otherwise trim their fields).
        user = await first_run(db, msgspec.structs.replace(data, admin_password=str(form.get("admin_password") or "")))
    except ValidationFailed as exc:
        await db.rollback()
        values = {k: v for k, v in form.items() if k not in ("admin_password", "setup_code")}
        return render(request, "auth/setup.html", status_code=422, values=values, errors=exc.errors)
    return await sign_in_response(request, db, user, "/", method="setup")


routes = [setup_page, setup_submit]
