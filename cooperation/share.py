"""Sharing a record with its partners: one explicit action. Agreements, visits, expert exchanges, programmes and
projects start as the department's own; a coordinator opens "Share with the partners…", reads who will gain access
(each partner institution taking part and its partner librarians' accounts), and confirms. Audited by the domain
that records it. Each domain registers what it shares (wiring.py `shareables`)."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit
from cooperation.auth.access import Principal, Role, require_manager
from cooperation.auth.models import User
from cooperation.db import table
from cooperation.errors import NotFoundError
from cooperation.files import Owner
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.web import render, see_other


@dataclass(frozen=True)
class Shareable:
    kind: str  # the URL segment: /share/<kind>/<id>
    owner: Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[Owner]]  # its label, page and partner institutions
    is_shared: Callable[[AsyncSession, uuid.UUID], Awaitable[bool]]
    share: Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[None]]  # writes, audits and commits


_kinds: dict[str, Shareable] = {}


def register(shareable: Shareable) -> None:
    _kinds[shareable.kind] = shareable


@dataclass(frozen=True)
class Gaining:
    """A partner institution that will see the record once shared, with the accounts of its partner librarians."""

    code: str
    name: str
    accounts: list[str]


async def who_gains_access(session: AsyncSession, partner_ids: tuple[uuid.UUID, ...]) -> list[Gaining]:
    """The partner institutions (not the home one) and their active partner librarians (two queries)."""
    i, u = table(Institution).c, table(User).c
    institutions = (
        await session.execute(select(i.id, i.code, i.name).where(i.id.in_(partner_ids), i.is_home.is_(False)).order_by(i.code))
    ).all()
    accounts: dict[uuid.UUID, list[str]] = {}
    for institution_id, name, email in await session.execute(
        select(u.institution_id, u.name, u.email)
        .where(u.institution_id.in_(partner_ids), u.role == Role.PARTNER.value, u.active.is_(True), u.archived_at.is_(None))
        .order_by(u.name)
    ):
        accounts.setdefault(institution_id, []).append(f"{name} <{email}>")
    return [Gaining(code=row.code, name=row.name, accounts=accounts.get(row.id, [])) for row in institutions]


async def _found(session: AsyncSession, principal: Principal, kind: str, record_id: uuid.UUID) -> tuple[Shareable, Owner]:
    shareable = _kinds.get(kind)
    if shareable is None:
        raise NotFoundError("record")
    owner = await shareable.owner(session, principal, record_id)  # 404 when this person may not see it
    require_manager(principal, N_("share records with partners"))
    return shareable, owner


@get("/share/{kind:str}/{record_id:uuid}", name="share_confirm")
async def confirm_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    kind: FromPath[str],
    record_id: FromPath[uuid.UUID],
) -> Template:
    shareable, owner = await _found(db, principal, kind, record_id)
    return render(
        request,
        "share.html",
        owner=owner,
        kind=kind,
        record_id=record_id,
        shared=await shareable.is_shared(db, record_id),
        gaining=await who_gains_access(db, owner.partner_ids),
    )


@post("/share/{kind:str}/{record_id:uuid}", name="share_submit")
async def share_submit(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], kind: FromPath[str], record_id: FromPath[uuid.UUID]
) -> Response[Any]:
    shareable, owner = await _found(db, principal, kind, record_id)
    await shareable.share(db, principal, record_id)
    return see_other(owner.url)


routes = [confirm_page, share_submit]


def flag(model: Any, entity_type: str) -> tuple[Callable[[AsyncSession, uuid.UUID], Awaitable[bool]], Callable[..., Awaitable[None]]]:
    """`is_shared` and `share` for a record kind with a `shared` column (its owner resolver has checked access)."""
    columns = table(model).c

    async def is_shared(session: AsyncSession, record_id: uuid.UUID) -> bool:
        return bool(await session.scalar(select(columns.shared).where(columns.id == record_id)))

    async def share(session: AsyncSession, principal: Principal, record_id: uuid.UUID) -> None:
        done = await session.execute(update(model).where(columns.id == record_id, columns.shared.is_(False)).values(shared=True))
        if done.rowcount:  # type: ignore[attr-defined]
            audit.record(session, principal, "share", entity_type, record_id, summary="Shared with the partners taking part")
        await session.commit()

    return is_shared, share


async def state(session: AsyncSession, kind: str, record_id: uuid.UUID) -> bool:
    """Whether a record (already found visible) is shared with its partners: for its page's badge."""
    return await _kinds[kind].is_shared(session, record_id)
