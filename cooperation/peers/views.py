"""Pairing pages for administrators, the public well-known document, and the signed server-to-server endpoints."""

import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import i18n
from cooperation.auth import limits
from cooperation.auth.access import Principal, require_admin
from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.errors import ServiceError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.services import institution_choices
from cooperation.peers import services
from cooperation.peers.models import Peer
from cooperation.web import conditional, form_dict, public_base, refusal_page, render, see_other

MAX_BODY = 64 * 1024  # a pairing or a notice is a few hundred bytes


def own_url(request: Request[Any, Any, Any]) -> str:
    """The address this instance is reached at (web.public_base)."""
    return public_base(request)


def received_url(request: Request[Any, Any, Any]) -> str:
    """The request's address as this instance's own public address names it (not as its Host header says): a signature
    covers the authority it was sent to, so one made for another instance does not verify here."""
    base = urlsplit(own_url(request))
    return urlunsplit((base.scheme, base.netloc, request.url.path, request.url.query, ""))


async def _body(request: Request[Any, Any, Any]) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValidationFailed({"body": i18n.gettext("at most %(n)s bytes", n=f"{MAX_BODY:,}")})
    return body


async def heard(request: Request[Any, Any, Any], db: AsyncSession) -> tuple[Peer, bytes, dict[str, str]]:
    """A signed request from a paired instance, for the endpoints of other domains: who sent it, its body, and the
    signed message as it came (kept as proof). 401 for anything not signed by a paired instance, a replay included."""
    body = await _body(request)
    peer = await services.verify_peer(db, "POST", received_url(request), request.headers, body)
    return peer, body, services.proof(body, request.headers)


@get(services.WELL_KNOWN, opt={PUBLIC_OPT: True}, name="peer_well_known", include_in_schema=False)
async def well_known(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    """Who this instance is and the key it signs with: what a partner's instance reads to pair with it."""
    document = await services.well_known(db, request.app.state.settings, own_url(request))
    return conditional(request, msgspec.json.encode(document), "application/json", {"Cache-Control": "public, max-age=300"})


@post("/federation/pair", opt={PUBLIC_OPT: True}, name="peer_pair_request", include_in_schema=False, status_code=200)
async def pair_request(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> dict[str, Any]:
    """Another instance presents a pairing code we made, signed with the key it will sign with from now on. Refused
    attempts are counted per address and in all (a code is never guessed by trying, from one place or many)."""
    client = (request.scope.get("client") or ("?", 0))[0]
    per_address, in_all = f"pair:ip:{client}", "pair:all"
    await limits.check(db, [per_address], limit=PAIRING_TRIES[0], window_seconds=PAIRING_TRIES[2])
    await limits.check(db, [in_all], limit=PAIRING_TRIES[1], window_seconds=PAIRING_TRIES[2])
    body = await _body(request)
    try:
        return await services.accept_pairing(db, request.app.state.settings, own_url(request), received_url(request), request.headers, body)
    except services.PeerRefused:
        await db.rollback()
        for key in (per_address, in_all):
            await limits.count(db, key, window_seconds=PAIRING_TRIES[2])
        raise


PAIRING_TRIES = (10, 100, 900)  # refused pairing requests per address, in all, per window of seconds


@post("/federation/unpair", opt={PUBLIC_OPT: True}, name="peer_unpair_notice", include_in_schema=False, status_code=200)
async def unpair_notice(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> dict[str, Any]:
    """A paired instance tells us it unpaired: we trust its key no more either."""
    body = await _body(request)
    peer = await services.verify_peer(db, "POST", received_url(request), request.headers, body)
    await services.unpair(db, None, request.app.state.settings, peer.id, tell=False)
    return {"unpaired": True}


@post("/federation/ping", opt={PUBLIC_OPT: True}, name="peer_ping", include_in_schema=False, status_code=200)
async def ping(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> dict[str, Any]:
    """A paired instance checks the pairing still holds: answered only to a signature we trust."""
    body = await _body(request)
    peer = await services.verify_peer(db, "POST", received_url(request), request.headers, body)
    await db.commit()  # the nonce, kept
    return {"pong": True, "you_are": peer.their_code}


# ---- the administrator's page ----------------------------------------------------------------------------------


async def _page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    code: str | None = None,
    status_code: int = 200,
) -> Template:
    require_admin(principal, N_("pair with other instances"))
    institutions = [i for i in await institution_choices(db, principal) if not i.is_home]
    return render(
        request,
        "auth/peers.html",
        status_code=status_code,
        peers=await services.list_peers(db, principal),
        institutions=institutions,
        values=values or {},
        errors=errors or {},
        code=code,
        document=await services.well_known(db, request.app.state.settings, own_url(request)),
    )


@get("/admin/peers", name="peers", include_in_schema=False)
async def peers_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    return await _page(request, db, principal)


@post("/admin/peers/codes", name="peer_code_create", include_in_schema=False)
async def make_code(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    form = await form_dict(request)
    try:
        institution_id = uuid.UUID(str(form.get("institution_id") or ""))
    except ValueError:
        return await _page(
            request,
            db,
            principal,
            errors={"institution_id": i18n.gettext("choose the partner institution the other instance speaks for")},
            status_code=422,
        )
    try:
        code = await services.make_pairing_code(db, principal, institution_id)
    except ValidationFailed as exc:
        await db.rollback()
        return await _page(request, db, principal, errors=exc.errors, status_code=422)
    return await _page(request, db, principal, code=code)


@post("/admin/peers", name="peer_pair", include_in_schema=False)
async def pair(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Any:
    form = await form_dict(request)
    require_admin(principal, N_("pair with other instances"))
    try:
        institution_id = uuid.UUID(str(form.get("pair_institution_id") or ""))
    except ValueError:
        return await _page(
            request,
            db,
            principal,
            values=form,
            errors={"pair_institution_id": i18n.gettext("choose the partner institution the other instance speaks for")},
            status_code=422,
        )
    try:
        await services.pair_with(
            db,
            principal,
            request.app.state.settings,
            own_url(request),
            str(form.get("base_url") or ""),
            str(form.get("code") or ""),
            institution_id,
        )
    except ServiceError as exc:
        await db.rollback()
        return await _page(request, db, principal, values=form, errors=exc.errors or {"base_url": exc.detail}, status_code=exc.status_code)
    return see_other("/admin/peers")


@post("/admin/peers/{peer_id:uuid}/unpair", name="peer_unpair", include_in_schema=False)
async def unpair(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], peer_id: FromPath[uuid.UUID]
) -> Any:
    try:
        await services.unpair(db, principal, request.app.state.settings, peer_id)
    except ServiceError as exc:
        return refusal_page(request, exc, "/admin/peers")
    return see_other("/admin/peers")


routes = [well_known, pair_request, unpair_notice, ping, peers_page, make_code, pair, unpair]
