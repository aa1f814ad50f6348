"""Sign-in and sign-out pages (local accounts; SSO plugs in beside them)."""

import secrets
import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cooperation import audit, i18n
from cooperation.auth import accounts, limits, revocation, sso, tokens, twofactor
from cooperation.auth.access import Principal, Role, require_admin
from cooperation.auth.api import base_url as api_base_url
from cooperation.auth.middleware import PUBLIC_OPT, SESSION_COOKIE
from cooperation.auth.models import User
from cooperation.auth.services import authenticate_password, end_session, is_loopback, set_viewing_as, start_session
from cooperation.errors import ConflictError, ValidationFailed
from cooperation.forms import parse_form
from cooperation.i18n import N_
from cooperation.settings import Settings
from cooperation.web import form_dict, form_version, public_base, query_int, query_uuid, render, safe_next, see_other


def _client_ip(request: Request[Any, Any, Any]) -> str:
    client = request.scope.get("client") or ("unknown", 0)
    return str(client[0])


def demo_allowed(request: Request[Any, Any, Any], settings: Settings) -> bool:
    """Demo sign-in only when enabled AND the server is bound to loopback AND the client is local."""
    server = request.scope.get("server") or (None, None)
    client = request.scope.get("client") or (None, None)
    return settings.demo_sign_in and is_loopback(server[0]) and is_loopback(client[0])


def _session_cookie(token: str, max_age: int, settings: Settings) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=max_age,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )


async def _demo_accounts(db: AsyncSession) -> list[dict[str, str]]:
    rows = await db.execute(
        select(col(User.email), col(User.name), col(User.role))
        .where(col(User.email).endswith("@demo.libcoop.test"), col(User.active).is_(True))
        .order_by(col(User.role), col(User.email))
    )
    return [{"email": r.email, "name": r.name, "role": r.role} for r in rows]


@get("/login", opt={PUBLIC_OPT: True}, name="login")
async def login_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    from cooperation import setup

    if await setup.needed(db):  # nobody can sign in yet: the first run comes first
        return Redirect(path="/setup", status_code=303)
    settings: Settings = request.app.state.settings
    demo = await _demo_accounts(db) if demo_allowed(request, settings) else []
    return render(
        request,
        "auth/login.html",
        next=safe_next(request.query_params.get("next")),
        demo_accounts=demo,
        email="",
        providers=await sso.enabled_choices(db),
    )


async def sign_in_response(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    user: User,
    next_path: str,
    *,
    method: str = "password",
    data: dict[str, Any] | None = None,
) -> Response[Any]:
    settings: Settings = request.app.state.settings
    enroll = settings.require_2fa_admin and user.role == Role.ADMIN.value and user.totp_enabled_at is None and bool(user.password_hash)
    if enroll:  # this session reaches nothing but the two-factor set-up (middleware.py)
        data = {**(data or {}), "enroll_only": True}
        next_path = "/account/two-factor"
    cookie = await _new_session(request, db, user, method, data)
    await db.commit()
    response: Response[Any] = Redirect(path=next_path, status_code=303)
    response.set_cookie(cookie)
    return response


async def _new_session(
    request: Request[Any, Any, Any], db: AsyncSession, user: User, method: str, data: dict[str, Any] | None = None
) -> Cookie:
    """A new session for this browser (its previous one ends), as the cookie to set; the caller commits."""
    settings: Settings = request.app.state.settings
    client = request.scope.get("client") or (None, None)
    new = await start_session(
        db,
        user,
        hours=settings.session_hours,
        previous_token=request.cookies.get(SESSION_COOKIE),
        ip_address=client[0],
        user_agent=request.headers.get("user-agent"),
        method=method,
        data=data,
    )
    return _session_cookie(new.token, new.expires_in_seconds, settings)


def _address_key(request: Request[Any, Any, Any]) -> str:
    return f"login:ip:{_client_ip(request)}"


@post("/login", opt={PUBLIC_OPT: True}, name="login_submit")
async def login_submit(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    form = await form_dict(request)
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""))
    keys = [_address_key(request), f"login:account:{email.lower()[:150]}"]
    await limits.check(db, keys, limit=limits.SIGN_IN[0], window_seconds=limits.SIGN_IN[1])
    user = await authenticate_password(db, email, password) if email and password else None
    if user is None:
        audit.record(db, None, "sign_in_failed", "user", None, summary=f"Failed password sign-in for {email[:200]!r}")
        await db.commit()
        for key in keys:
            await limits.count(db, key, window_seconds=limits.SIGN_IN[1])
        return render(
            request,
            "auth/login.html",
            status_code=401,
            next=next_path,
            email=email,
            demo_accounts=[],
            providers=await sso.enabled_choices(db),
            message=i18n.gettext("The e-mail address or password is not right, or the account is disabled."),
        )
    return await password_step_done(request, db, user, next_path)


async def password_step_done(
    request: Request[Any, Any, Any], db: AsyncSession, user: User, next_path: str, *, method: str = "password"
) -> Response[Any]:
    """Whoever proved their password — signing in, after a reset, in the demo — still owes the second step when
    two-factor sign-in is on: no way past the password alone."""
    if user.totp_enabled_at is not None:
        return await _second_step_needed(request, db, user, next_path)
    return await sign_in_response(request, db, user, next_path, method=method)


MFA_COOKIE = "coop_mfa"  # the password was right; the authenticator's code is still to come
MFA_MINUTES = 5


async def _second_step_needed(request: Request[Any, Any, Any], db: AsyncSession, user: User, next_path: str) -> Response[Any]:
    from datetime import timedelta

    from cooperation.auth.models import AuthSession
    from cooperation.auth.services import token_digest
    from cooperation.db import utcnow

    token = secrets.token_urlsafe(32)
    now = utcnow()
    data = {"mfa_user": str(user.id), "next": next_path}
    db.add(
        AuthSession(
            token_hash=token_digest(token), user_id=None, created_at=now, expires_at=now + timedelta(minutes=MFA_MINUTES), data=data
        )
    )
    await db.commit()
    settings: Settings = request.app.state.settings
    response: Response[Any] = Redirect(path="/login/two-factor", status_code=303)
    response.set_cookie(
        Cookie(
            key=MFA_COOKIE,
            value=token,
            max_age=MFA_MINUTES * 60,
            httponly=True,
            secure=settings.secure_cookies,
            samesite="strict",
            path="/login",
        )
    )
    return response


async def _pending_second_step(request: Request[Any, Any, Any], db: AsyncSession) -> Any:
    from cooperation.auth.models import AuthSession
    from cooperation.auth.services import token_digest
    from cooperation.db import utcnow

    token = request.cookies.get(MFA_COOKIE)
    if not token:
        return None
    pending = await db.scalar(
        select(AuthSession).where(col(AuthSession.token_hash) == token_digest(token), col(AuthSession.user_id).is_(None))
    )
    if pending is None or pending.expires_at < utcnow() or not (pending.data or {}).get("mfa_user"):
        return None
    return pending


@get("/login/two-factor", opt={PUBLIC_OPT: True}, name="login_two_factor", include_in_schema=False)
async def two_factor_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    if await _pending_second_step(request, db) is None:
        return Redirect(path="/login", status_code=303)
    return render(request, "auth/two_factor_code.html", errors={})


@post("/login/two-factor", opt={PUBLIC_OPT: True}, name="login_two_factor_submit", include_in_schema=False)
async def two_factor_submit(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    pending = await _pending_second_step(request, db)
    if pending is None:
        return Redirect(path="/login", status_code=303)
    user_id = uuid.UUID(pending.data["mfa_user"])
    next_path = safe_next(pending.data.get("next"))
    keys = [_address_key(request), f"login:second-step:{user_id}"]
    await limits.check(db, keys, limit=limits.SIGN_IN[0], window_seconds=limits.SIGN_IN[1])
    form = await form_dict(request)
    user = await twofactor.second_step(db, user_id, request.app.state.settings.secret_keys, str(form.get("code") or ""))
    if user is None:
        for key in keys:
            await limits.count(db, key, window_seconds=limits.SIGN_IN[1])
        audit.record(db, None, "sign_in_failed", "user", user_id, summary="Wrong or used two-factor code")
        await db.commit()
        return render(
            request, "auth/two_factor_code.html", status_code=401, errors={"code": i18n.gettext("is not right, or was used already")}
        )
    await db.delete(pending)
    response = await sign_in_response(request, db, user, next_path, method="password and two-factor code")
    response.delete_cookie(MFA_COOKIE, path="/login")
    return response


@get("/account/two-factor", name="account_two_factor")
async def two_factor_settings(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    return await _two_factor_page(request, db, principal)


async def _two_factor_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    codes: list[str] | None = None,
    status_code: int = 200,
) -> Template:
    user = await db.get(User, principal.user_id)
    assert user is not None
    settings: Settings = request.app.state.settings
    return render(
        request,
        "auth/two_factor.html",
        status_code=status_code,
        enabled=user.totp_enabled_at is not None,
        has_password=bool(user.password_hash),
        enrollment=await twofactor.pending_enrollment(db, principal, settings.secret_keys),
        recovery_codes=codes,
        codes_left=await twofactor.recovery_codes_left(db, user.id),
        required=settings.require_2fa_admin and principal.is_admin,
        errors=errors or {},
    )


@post("/account/two-factor/start", name="account_two_factor_start")
async def two_factor_start(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    await twofactor.start(db, principal, request.app.state.settings.secret_keys)
    return await _two_factor_page(request, db, principal)


@post("/account/two-factor/confirm", name="account_two_factor_confirm")
async def two_factor_confirm(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Response[Any]:
    form = await form_dict(request)
    try:
        codes = await twofactor.confirm(db, principal, request.app.state.settings.secret_keys, str(form.get("code") or ""))
    except ValidationFailed as exc:
        await db.rollback()
        return await _two_factor_page(request, db, principal, errors=exc.errors, status_code=422)
    page = await _two_factor_page(request, db, principal, codes=codes)
    if principal.enroll_only:  # set up as required: a new session that may go everywhere replaces the restricted one
        user = await db.get(User, principal.user_id)
        assert user is not None
        cookie = await _new_session(request, db, user, "two-factor set-up")
        await revocation.announce(db)
        await db.commit()
        revocation.forget_here()
        page.set_cookie(cookie)
    return page


@post("/account/two-factor/disable", name="account_two_factor_disable")
async def two_factor_disable(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    form = await form_dict(request)
    if request.app.state.settings.require_2fa_admin and principal.is_admin:
        return await _two_factor_page(
            request, db, principal, errors={"code": i18n.gettext("administrators must keep two-factor sign-in here")}, status_code=409
        )
    try:
        await twofactor.disable(db, principal, request.app.state.settings.secret_keys, str(form.get("code") or ""))
    except ValidationFailed as exc:
        await db.rollback()
        return await _two_factor_page(request, db, principal, errors=exc.errors, status_code=422)
    return await _two_factor_page(request, db, principal)


@post("/login/demo", opt={PUBLIC_OPT: True}, name="login_demo")
async def login_demo(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    settings: Settings = request.app.state.settings
    if not demo_allowed(request, settings):
        raise NotFoundException()
    await limits.check(db, [_address_key(request)], limit=limits.SIGN_IN[0], window_seconds=limits.SIGN_IN[1])
    form = await form_dict(request)
    email = str(form.get("email") or "")
    if not email.endswith("@demo.libcoop.test"):
        raise NotFoundException()
    user = await db.scalar(select(User).where(col(User.email) == email, col(User.active).is_(True)))
    if user is None:
        raise NotFoundException()
    return await password_step_done(request, db, user, "/", method="demo")


@post("/logout", name="logout")
async def logout(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    """End the local session; after an SSO sign-in, also end it at the provider when it offers that."""
    recorded = await end_session(db, request.cookies.get(SESSION_COOKIE))
    await db.commit()
    target = "/login"
    sso_data = recorded.get("sso") or {}
    if sso_data.get("code") and sso_data.get("id_token"):
        discovery = await sso.discovery_for_code(db, sso_data["code"])
        target = (discovery and sso.end_session_url(discovery, sso_data["id_token"], _base_url(request) + "/login")) or target
    response: Response[Any] = Redirect(path=target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _base_url(request: Request[Any, Any, Any]) -> str:
    return public_base(request)


SSO_COOKIE = "coop_sso"  # the sign-in in progress with an identity provider, separate from the session
SSO_COOKIE_PATH = "/auth/sso/"


def _sso_cookie(token: str, max_age: int, settings: Settings) -> Cookie:
    # Lax: the provider's redirect back to the callback is a top-level GET from another site.
    return Cookie(
        key=SSO_COOKIE, value=token, max_age=max_age, httponly=True, secure=settings.secure_cookies, samesite="lax", path=SSO_COOKIE_PATH
    )


@get("/auth/sso/{code:str}", opt={PUBLIC_OPT: True}, name="sso_start")
async def sso_start(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], code: FromPath[str]) -> Response[Any]:
    settings: Settings = request.app.state.settings
    await limits.check(db, [_address_key(request)], limit=limits.SIGN_IN[0], window_seconds=limits.SIGN_IN[1])
    try:
        started = await sso.start(
            db, code, redirect_uri=_base_url(request) + sso.redirect_path(code.upper()), invitation=request.query_params.get("invitation")
        )
    except sso.SsoRefused as exc:
        return await _sso_failed(request, db, code, exc)
    response: Response[Any] = Redirect(path=started.authorization_url, status_code=303)
    response.set_cookie(_sso_cookie(started.session_token, started.max_age, settings))
    return response


async def _sso_failed(request: Request[Any, Any, Any], db: AsyncSession, code: str, exc: sso.SsoRefused) -> Response[Any]:
    await db.rollback()
    audit.record(db, None, "sign_in_failed", "identity_provider", None, summary=f"SSO through {code[:20]}: {exc.reason}"[:500])
    await db.commit()
    await limits.count(db, _address_key(request), window_seconds=limits.SIGN_IN[1])
    response = render(
        request,
        "auth/login.html",
        status_code=400,
        next="/",
        email="",
        demo_accounts=[],
        providers=await sso.enabled_choices(db),
        message=exc.message,
    )
    response.delete_cookie(SSO_COOKIE, path=SSO_COOKIE_PATH)  # the attempt is over; a signed-in session stays
    return response


@get("/auth/sso/{code:str}/callback", opt={PUBLIC_OPT: True}, name="sso_callback")
async def sso_callback(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], code: FromPath[str]) -> Response[Any]:
    settings: Settings = request.app.state.settings
    params = {k: v for k, v in request.query_params.items()}
    try:
        async with sso.http_client() as http:
            user, recorded = await sso.finish(db, settings.secret_keys, code, params, request.cookies.get(SSO_COOKIE), http)
    except sso.SsoRefused as exc:
        return await _sso_failed(request, db, code, exc)
    response = await sign_in_response(request, db, user, "/", method=f"SSO {recorded['code']}", data={"sso": recorded})
    response.delete_cookie(SSO_COOKIE, path=SSO_COOKIE_PATH)
    return response


@get("/account/tokens", name="account_tokens")
async def tokens_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    return render(request, "auth/tokens.html", tokens=await tokens.list_own(db, principal), created=None, errors={}, values={})


@post("/account/tokens", name="account_token_create")
async def token_create(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    form = await form_dict(request)
    await limits.hit(db, f"token:user:{principal.user_id}", limit=limits.TOKENS[0], window_seconds=limits.TOKENS[1])
    try:
        created = await tokens.create(db, principal, parse_form(tokens.TokenIn, form))
    except ValidationFailed as exc:
        return render(
            request,
            "auth/tokens.html",
            status_code=422,
            tokens=await tokens.list_own(db, principal),
            created=None,
            errors=exc.errors,
            values=form,
        )
    return render(request, "auth/tokens.html", tokens=await tokens.list_own(db, principal), created=created, errors={}, values={})


@post("/account/tokens/{token_id:uuid}/revoke", name="account_token_revoke")
async def token_revoke(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], token_id: FromPath[uuid.UUID]
) -> Response[Any]:
    await tokens.revoke(db, principal, token_id)
    return see_other("/account/tokens")


# ---- administration of identity providers ---------------------------------------------------------


def _provider_form(form: dict[str, Any]) -> dict[str, Any]:
    """The role mapping arrives as lines of `claim-value=role`."""
    mapping: dict[str, str] = {}
    for line in str(form.get("role_mapping") or "").splitlines():
        value, _, role = line.partition("=")
        if value.strip():
            mapping[value.strip()] = role.strip()
    return {**form, "role_mapping": mapping}


async def _providers_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Template:
    from cooperation.partners.services import institution_choices

    return render(
        request,
        "auth/identity_providers.html",
        status_code=status_code,
        providers=await sso.list_providers(db, principal),
        institutions=await institution_choices(db, principal),
        values=values,
        errors=errors,
        base_url=_base_url(request),
        roles=[r.value for r in Role],
    )


@get("/admin/identity-providers", name="identity_providers")
async def providers_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    return await _providers_page(
        request, db, principal, values={"scopes": "openid email profile", "default_role": "partner", "enabled": True}, errors={}
    )


@post("/admin/identity-providers", name="identity_provider_create")
async def provider_create(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Response[Any]:
    require_admin(principal, N_("register identity providers"))
    form = _provider_form(await form_dict(request))
    try:
        async with sso.http_client() as http:
            await sso.register_provider(db, principal, request.app.state.settings.secret_keys, parse_form(sso.ProviderIn, form), http)
    except ValidationFailed as exc:
        await db.rollback()
        form["role_mapping"] = "\n".join(f"{k}={v}" for k, v in form["role_mapping"].items())
        return await _providers_page(request, db, principal, values=form, errors=exc.errors, status_code=422)
    return see_other("/admin/identity-providers")


@post("/admin/identity-providers/{provider_id:uuid}/enabled", name="identity_provider_toggle")
async def provider_toggle(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    provider_id: FromPath[uuid.UUID],
) -> Response[Any]:
    form = await form_dict(request)
    await sso.set_enabled(db, principal, provider_id, enabled=form.get("enabled") == "1", version=form_version(form))
    return see_other("/admin/identity-providers")


# ---- accounts (administrators) and invitations (the person invited) -------------------------------------------------


async def _users_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    new_link: str | None = None,
    status_code: int = 200,
) -> Template:
    from cooperation.partners.services import institution_choices

    params = request.query_params
    role = params.get("role") or None
    active = {"yes": True, "no": False}.get(params.get("active") or "")
    institution_id = query_uuid(request, "institution_id")
    users = await accounts.list_users(
        db,
        principal,
        q=params.get("q") or None,
        role=Role(role) if role in {r.value for r in Role} else None,
        institution_id=institution_id,
        active=active,
        page=query_int(request, "page", 1),
        per_page=50,
        sort=params.get("sort"),
    )
    return render(
        request,
        "auth/users.html",
        status_code=status_code,
        users=users,
        invitations=await accounts.list_invitations(db, principal),
        mail_status=await accounts.mail_status(db, request.app.state.settings),
        institutions=[i for i in await institution_choices(db, principal) if not i.is_home],
        values=values,
        errors=errors,
        new_link=new_link,
        roles=list(Role),
        languages=accounts.LANGUAGES,
        filters={
            "q": params.get("q") or "",
            "role": role or "",
            "active": params.get("active") or "",
            "institution_id": str(institution_id or ""),
        },
        all_institutions=await institution_choices(db, principal),
    )


@get("/admin/users", name="admin_users")
async def users_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    require_admin(principal, N_("manage accounts"))
    values: dict[str, Any] = _invite_defaults(request)
    person_id = query_uuid(request, "person_id")
    if person_id is not None:  # "Invite to LibCoop" on a person's page: the form filled from the record
        from cooperation.partners.services import get_person, home_institution_id

        person = await get_person(db, principal, person_id)
        home = await home_institution_id(db)
        values |= {
            "name": person.name,
            "email": person.email or "",
            "person_id": str(person.id),
            "role": "coordinator" if person.institution_id == home else "partner",
            "institution_id": "" if person.institution_id == home else str(person.institution_id),
        }
    return await _users_page(request, db, principal, values=values, errors={})


@post("/admin/users/invite", name="admin_user_invite")
async def user_invite(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    require_admin(principal, N_("invite people"))
    form = await form_dict(request)
    try:
        invited = await accounts.invite(
            db, principal, request.app.state.settings, api_base_url(request), parse_form(accounts.InviteIn, form)
        )
    except ValidationFailed as exc:
        await db.rollback()
        return await _users_page(request, db, principal, values=form, errors=exc.errors, status_code=422)
    # The link is shown once, on this page (never in an address, a log or a later page).
    return await _users_page(request, db, principal, values=_invite_defaults(request), errors={}, new_link=invited.link)


@post("/admin/invitations/{invitation_id:uuid}/resend", name="admin_invitation_resend")
async def invitation_resend(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    invitation_id: FromPath[uuid.UUID],
) -> Template:
    sent = await accounts.resend(db, principal, request.app.state.settings, api_base_url(request), invitation_id)
    return await _users_page(request, db, principal, values=_invite_defaults(request), errors={}, new_link=sent.link)


@post("/admin/invitations/{invitation_id:uuid}/revoke", name="admin_invitation_revoke")
async def invitation_revoke(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], invitation_id: FromPath[uuid.UUID]
) -> Response[Any]:
    await accounts.revoke(db, principal, invitation_id)
    return see_other("/admin/users#invitations")


@post("/admin/users/{user_id:uuid}", name="admin_user_update")
async def user_update(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], user_id: FromPath[uuid.UUID]
) -> Response[Any]:
    form = await form_dict(request)
    change = accounts.UserChange(
        role=Role(form["role"]) if form.get("role") in {r.value for r in Role} else None,
        institution_id=query_like_uuid(form.get("institution_id")),
        active={"1": True, "0": False}.get(str(form.get("active", ""))),
    )
    try:
        await accounts.change_user(db, principal, user_id, change)
    except (ValidationFailed, ConflictError) as exc:
        await db.rollback()
        return await _users_page(request, db, principal, values=_invite_defaults(request), errors=exc.errors, status_code=exc.status_code)
    return see_other("/admin/users")


def query_like_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        raise ValidationFailed({"institution_id": i18n.gettext("is not a valid id")}) from None


@get("/invitations/{token:str}", opt={PUBLIC_OPT: True}, name="invitation", include_in_schema=False)
async def invitation_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], token: FromPath[str]) -> Template:
    invited = await accounts.pending(db, token)
    provider = next((p for p in await sso.enabled_choices(db) if p.code == invited.institution_code), None)
    return render(request, "auth/invitation.html", invited=invited, token=token, errors={}, provider=provider)


@post("/invitations/{token:str}", opt={PUBLIC_OPT: True}, name="invitation_accept", include_in_schema=False)
async def invitation_accept(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], token: FromPath[str]) -> Response[Any]:
    await limits.check(db, [_address_key(request)], limit=limits.SIGN_IN[0], window_seconds=limits.SIGN_IN[1])
    form = await form_dict(request)
    try:
        # The password exactly as typed (forms otherwise trim their fields).
        user = await accounts.accept(db, token, accounts.AcceptIn(password=str(form.get("password") or "")))
    except ValidationFailed as exc:
        await db.rollback()
        invited = await accounts.pending(db, token)
        return render(request, "auth/invitation.html", status_code=422, invited=invited, token=token, errors=exc.errors, provider=None)
    return await sign_in_response(request, db, user, "/", method="invitation")


FORGOT_ANSWER = N_("If an account exists for that address, an e-mail with a link to choose a new password is on its way.")


@get("/password/forgot", opt={PUBLIC_OPT: True}, name="password_forgot", include_in_schema=False)
async def forgot_page(request: Request[Any, Any, Any]) -> Template:
    return render(request, "auth/forgot.html", message=None, errors={})


@post("/password/forgot", opt={PUBLIC_OPT: True}, name="password_forgot_submit", include_in_schema=False)
async def forgot_submit(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Template:
    form = await form_dict(request)
    email = str(form.get("email") or "").strip().lower()
    # Limited per address and per client, and counted whatever the outcome: the answer is the same either way.
    keys = [_address_key(request), f"reset:{email}"]
    await limits.check(db, keys, limit=limits.SIGN_IN[0], window_seconds=limits.SIGN_IN[1])
    for key in keys:
        await limits.count(db, key, window_seconds=limits.SIGN_IN[1])
    if email:  # looked up and e-mailed after the answer: its time says nothing about the address
        state = request.app.state
        state.later.run(accounts.request_reset_later(state.session_factory, state.settings, api_base_url(request), email))
    return render(request, "auth/forgot.html", message=i18n.gettext(FORGOT_ANSWER), errors={})


@get("/password/reset/{token:str}", opt={PUBLIC_OPT: True}, name="password_reset", include_in_schema=False)
async def reset_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], token: FromPath[str]) -> Template:
    user = await accounts.reset_user(db, token)
    return render(request, "auth/reset.html", email=user.email, token=token, errors={})


@post("/password/reset/{token:str}", opt={PUBLIC_OPT: True}, name="password_reset_submit", include_in_schema=False)
async def reset_submit(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], token: FromPath[str]) -> Response[Any]:
    form = await form_dict(request)
    try:
        user = await accounts.reset_password(db, token, str(form.get("password") or ""))
    except ValidationFailed as exc:
        await db.rollback()
        email = (await accounts.reset_user(db, token)).email
        return render(request, "auth/reset.html", status_code=422, email=email, token=token, errors=exc.errors)
    return await password_step_done(request, db, user, "/", method="password reset")


def _profile_page(
    request: Request[Any, Any, Any], values: dict[str, Any], errors: dict[str, str], *, status_code: int = 200, saved: str | None = None
) -> Template:
    from zoneinfo import available_timezones

    return render(
        request,
        "auth/profile.html",
        status_code=status_code,
        values=values,
        errors=errors,
        saved=saved,
        languages=accounts.LANGUAGES,
        time_zones=sorted(available_timezones()),
    )


async def _profile_values(db: AsyncSession, principal: Principal) -> dict[str, Any]:
    user = await db.get(User, principal.user_id)
    assert user is not None
    return {"name": user.name, "language": user.language, "time_zone": user.time_zone, "has_password": bool(user.password_hash)}


@get("/account/profile", name="account_profile")
async def profile_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    return _profile_page(request, await _profile_values(db, principal), {})


@post("/account/profile", name="account_profile_update")
async def profile_update(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    form = await form_dict(request)
    try:
        await accounts.update_profile(db, principal, parse_form(accounts.ProfileIn, form))
    except ValidationFailed as exc:
        await db.rollback()
        return _profile_page(request, {**await _profile_values(db, principal), **form}, exc.errors, status_code=422)
    return _profile_page(request, await _profile_values(db, principal), {}, saved=i18n.gettext("Your profile is saved."))


@post("/account/password", name="account_password")
async def password_change(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    form = await form_dict(request)
    try:
        ended = await accounts.change_password(
            db,
            principal,
            str(form.get("current_password") or ""),
            str(form.get("password") or ""),
            keep_token=request.cookies.get(SESSION_COOKIE),
        )
    except ValidationFailed as exc:
        await db.rollback()
        return _profile_page(request, await _profile_values(db, principal), exc.errors, status_code=422)
    saved = i18n.ngettext(
        "Your password is changed. %(num)d other session of your account was signed out.",
        "Your password is changed. %(num)d other sessions of your account were signed out.",
        ended,
    )
    return _profile_page(
        request, await _profile_values(db, principal), {}, saved=saved if ended else i18n.gettext("Your password is changed.")
    )


def _invite_defaults(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The invitation form as it opens: a coordinator, invited in the instance's language."""
    settings: Settings = request.app.state.settings
    return {"role": "coordinator", "language": settings.default_language}


@post("/view-as", name="view_as_start")
async def view_as_start(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Response[Any]:
    """A coordinator or administrator opens pages as a partner institution sees them (this browser only)."""
    form = await form_dict(request)
    try:
        institution_id = uuid.UUID(str(form.get("institution_id") or ""))
    except ValueError:
        raise ValidationFailed({"institution_id": i18n.gettext("choose a partner institution")}) from None
    await set_viewing_as(db, principal, request.cookies.get(SESSION_COOKIE) or "", institution_id)
    return see_other(safe_next(str(form.get("next") or "/")))


@post("/view-as/stop", name="view_as_stop")
async def view_as_stop(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Response[Any]:
    form = await form_dict(request)
    await set_viewing_as(db, principal, request.cookies.get(SESSION_COOKIE) or "", None)
    return see_other(safe_next(str(form.get("next") or "/")))


@post("/language", opt={PUBLIC_OPT: True}, name="language_switch", include_in_schema=False)
async def language_switch(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    """The switcher on every page: remembered in a cookie, and in the profile of whoever is signed in."""
    from cooperation import i18n
    from cooperation.auth.services import principal_for_token

    form = await form_dict(request)
    language = i18n.supported(str(form.get("language") or ""))
    response: Response[Any] = Redirect(path=safe_next(str(form.get("next") or "/")), status_code=303)
    if language is None:
        return response
    token = request.cookies.get(SESSION_COOKIE)
    signed_in = await principal_for_token(db, token) if token else None
    if signed_in is not None:
        await accounts.choose_language(db, signed_in, language)
    settings: Settings = request.app.state.settings
    response.set_cookie(
        Cookie(
            key=i18n.COOKIE,
            value=language,
            max_age=365 * 24 * 3600,
            httponly=True,
            secure=settings.secure_cookies,
            samesite="lax",
            path="/",
        )
    )
    return response


routes = [
    language_switch,
    view_as_start,
    view_as_stop,
    two_factor_page,
    two_factor_submit,
    two_factor_settings,
    two_factor_start,
    two_factor_confirm,
    two_factor_disable,
    forgot_page,
    forgot_submit,
    reset_page,
    reset_submit,
    profile_page,
    profile_update,
    password_change,
    users_page,
    user_invite,
    invitation_resend,
    invitation_revoke,
    user_update,
    invitation_page,
    invitation_accept,
    login_page,
    login_submit,
    login_demo,
    logout,
    sso_start,
    sso_callback,
    tokens_page,
    token_create,
    token_revoke,
    providers_page,
    provider_create,
    provider_toggle,
]
