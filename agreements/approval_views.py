"""Approving an agreement between two paired instances: asking from the agreement's page, the page where a
partner's request is read side by side with our record and answered, the list of requests, and the signed endpoints
the other instance calls (under /federation/, checked by signature instead of a session)."""

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from agreements import approval_services as approvals
from cooperation import i18n
from cooperation.auth.access import Principal
from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.errors import ServiceError, ValidationFailed
from cooperation.peers.views import heard
from cooperation.web import form_dict, render, see_other


def _refused(request: Request[Any, Any, Any], exc: ServiceError, back: str) -> Template:
    """A request that could not be made or answered, explained on a page with its status (409, 422, 502…)."""
    return render(
        request,
        "error.html",
        status_code=exc.status_code,
        title=i18n.gettext("The other instance was not told"),
        detail=exc.detail,
        errors=exc.errors,
        back=back,
    )


def _form_uuid(form: dict[str, Any], name: str, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(form.get(name) or ""))
    except ValueError as exc:
        raise ValidationFailed({name: message}) from exc


@post("/agreements/{agreement_id:uuid}/approval", name="agreement_approval_ask")
async def ask(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    agreement_id: FromPath[uuid.UUID],
) -> Any:
    back = f"/agreements/{agreement_id}#approvals"
    await approvals.may_ask(db, principal, agreement_id)  # who may not is answered 404 or 403, whatever the form holds
    form = await form_dict(request)
    try:
        peer_id = _form_uuid(form, "peer_id", i18n.gettext("choose a paired instance"))
        await approvals.ask(db, principal, request.app.state.settings, agreement_id, peer_id)
    except ServiceError as exc:
        if exc.status_code in (403, 404):
            raise
        await db.rollback()
        return _refused(request, exc, back)
    return see_other(back)


@get("/approvals", name="approvals")
async def list_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]) -> Template:
    return render(request, "agreements/approvals.html", requests=await approvals.list_requests(db, principal))


async def _request_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    principal: Principal,
    approval_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    detail: str | None = None,
    status_code: int = 200,
) -> Template:
    found = await approvals.received(db, principal, approval_id)
    return render(
        request,
        "agreements/approval.html",
        status_code=status_code,
        found=found,
        errors=errors or {},
        detail=detail,
    )


@get("/approvals/{approval_id:uuid}", name="approval")
async def request_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    approval_id: FromPath[uuid.UUID],
) -> Template:
    return await _request_page(request, db, principal, approval_id)


@post("/approvals/{approval_id:uuid}/answer", name="approval_answer")
async def answer(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    approval_id: FromPath[uuid.UUID],
) -> Any:
    form = await form_dict(request)
    try:
        await approvals.answer(
            db,
            principal,
            request.app.state.settings,
            approval_id,
            decision=str(form.get("decision") or ""),
            sha256=str(form.get("sha256") or ""),
            comment=str(form.get("comment") or ""),
        )
    except ServiceError as exc:
        if exc.status_code in (403, 404):
            raise
        await db.rollback()
        return await _request_page(request, db, principal, approval_id, errors=exc.errors, detail=exc.detail, status_code=exc.status_code)
    return see_other(f"/approvals/{approval_id}")


@post("/approvals/{approval_id:uuid}/link", name="approval_link")
async def link(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    approval_id: FromPath[uuid.UUID],
) -> Any:
    await approvals.may_answer(db, principal, approval_id)
    form = await form_dict(request)
    try:
        if form.get("agreement_id") == "new":
            await approvals.create_draft(db, principal, approval_id)
        else:
            message = i18n.gettext("choose one of our agreements with both libraries as parties")
            await approvals.link(db, principal, approval_id, _form_uuid(form, "agreement_id", message))
    except ServiceError as exc:
        if exc.status_code in (403, 404):
            raise
        await db.rollback()
        return await _request_page(request, db, principal, approval_id, errors=exc.errors, detail=exc.detail, status_code=exc.status_code)
    return see_other(f"/approvals/{approval_id}")


# ---- what the other instance calls, signed ----------------------------------------------------------------------


@post("/federation/approvals", opt={PUBLIC_OPT: True}, name="peer_approval_request", include_in_schema=False, status_code=200)
async def request_received(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> dict[str, Any]:
    """A paired instance asks us to approve an agreement's conditions (the hash); we fetch the snapshot it means."""
    peer, body, message = await heard(request, db)
    return await approvals.receive_request(db, request.app.state.settings, peer, body, message)


@post(
    "/federation/approvals/{exchange_id:uuid}/snapshot",
    opt={PUBLIC_OPT: True},
    name="peer_approval_snapshot",
    include_in_schema=False,
    status_code=200,
)
async def snapshot_asked(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], exchange_id: FromPath[uuid.UUID]
) -> dict[str, Any]:
    """The snapshot we asked this paired instance to approve, to it alone."""
    peer, _, _ = await heard(request, db)
    found = await approvals.fetch_asked(db, peer, exchange_id)
    await db.commit()  # the nonce, kept
    return found


@post("/federation/approvals/answer", opt={PUBLIC_OPT: True}, name="peer_approval_answer", include_in_schema=False, status_code=200)
async def answer_received(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> dict[str, Any]:
    """The instance we asked approves the hash or comments back."""
    peer, body, message = await heard(request, db)
    return await approvals.receive_answer(db, peer, body, message)


routes = [ask, list_page, request_page, answer, link, request_received, snapshot_asked, answer_received]
