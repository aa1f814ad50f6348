"""Comments on a record: the discussion between the home institution's staff and its partners.

Who may read and add them follows the record (files.register_owner): everyone who may see the record
reads its comments; staff who manage records and the partners taking part may add them. An author
may archive their own comment; coordinators may archive any. Nothing is deleted.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from cooperation import audit, i18n
from cooperation.auth.access import Principal
from cooperation.db import table
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.files import resolve_owner
from cooperation.partners.dormancy import activity, day_of
from cooperation.partners.models import Institution
from cooperation.records import RecordBase, nfc, row_to
from cooperation.web import form_dict, form_version, see_other

MAX_LENGTH = 5000


class Comment(RecordBase, table=True):
    __tablename__ = "comment"

    owner_type: str = Field(max_length=40, index=True)
    owner_id: uuid.UUID = Field(index=True)
    body: str = Field(max_length=MAX_LENGTH)
    author_id: uuid.UUID = Field(foreign_key="app_user.id")
    author_name: str = Field(max_length=200)
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institution.id", nullable=True)


class CommentIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LENGTH)]


class CommentOut(msgspec.Struct):
    id: uuid.UUID
    body: str
    author_name: str
    institution_code: str | None
    created_at: datetime
    version: int


async def add(session: AsyncSession, principal: Principal, owner_type: str, owner_id: uuid.UUID, body: str) -> uuid.UUID:
    owner = await resolve_owner(session, principal, owner_type, owner_id)
    if not owner.may_add:
        raise ForbiddenError(i18n.gettext("You may read %(record)s but not comment on it.", record=owner.label))
    text = nfc(body.strip())
    if not text:
        raise ValidationFailed({"body": i18n.gettext("write something first")})
    if len(text) > MAX_LENGTH:
        raise ValidationFailed({"body": i18n.gettext("at most %(n)s characters", n=MAX_LENGTH)})
    comment = Comment(
        owner_type=owner_type,
        owner_id=owner_id,
        body=text,
        author_id=principal.user_id,
        author_name=principal.name,
        institution_id=principal.institution_id,
    )
    session.add(comment)
    await session.flush()
    audit.record(session, principal, "comment", owner_type, owner_id, summary=f"Comment: {text[:200]}")
    await session.commit()
    return comment.id


async def list_for(session: AsyncSession, owner_type: str, owner_id: uuid.UUID) -> list[CommentOut]:
    """Callers have already checked that the owner record is visible."""
    c = table(Comment).c
    i = table(Institution).c
    rows = await session.execute(
        select(c.id, c.body, c.author_name, i.code, c.created_at, c.version)
        .outerjoin(table(Institution), i.id == c.institution_id)
        .where(c.owner_type == owner_type, c.owner_id == owner_id, c.archived_at.is_(None))
        .order_by(c.created_at)
    )
    return [row_to(CommentOut, row) for row in rows]


async def archive(session: AsyncSession, principal: Principal, comment_id: uuid.UUID, version: int) -> str:
    comment = await session.get(Comment, comment_id)
    if comment is None:
        raise NotFoundError("comment")
    owner = await resolve_owner(session, principal, comment.owner_type, comment.owner_id)
    if not (principal.manages_records or comment.author_id == principal.user_id):
        raise ForbiddenError(i18n.gettext("Only its author or a coordinator may remove a comment."))
    await audit.archive_or_restore(
        session,
        principal,
        Comment,
        "comment",
        comment_id,
        archived=True,
        currently_archived=comment.archived_at is not None,
        version=version,
        label=f"comment on {owner.label}",
    )
    return owner.url


# ---- routes -------------------------------------------------------------------------------------


@get("/api/v1/comments/{owner_type:str}/{owner_id:uuid}", name="api_comments", tags=["comments"])
async def api_list(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], owner_type: FromPath[str], owner_id: FromPath[uuid.UUID]
) -> list[CommentOut]:
    """The comments on a record (e.g. owner_type `agreement`), oldest first."""
    await resolve_owner(db, principal, owner_type, owner_id)
    return await list_for(db, owner_type, owner_id)


@post("/api/v1/comments/{owner_type:str}/{owner_id:uuid}", name="api_comment_create", tags=["comments"])
async def api_add(
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
    data: JSONBody[CommentIn],
) -> CommentOut:
    """Comment on a record you may see (`owner_type`: agreement, visit, exchange, project)."""
    comment_id = await add(db, principal, owner_type, owner_id, data.body)
    return next(c for c in await list_for(db, owner_type, owner_id) if c.id == comment_id)


@post("/comments/{owner_type:str}/{owner_id:uuid}", name="comment_create")
async def page_add(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
) -> Response[Any]:
    form = await form_dict(request)
    await add(db, principal, owner_type, owner_id, str(form.get("body") or ""))
    owner = await resolve_owner(db, principal, owner_type, owner_id)
    return see_other(owner.url + "#comments")


@post("/comments/{comment_id:uuid}/archive", name="comment_archive")
async def page_archive(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    comment_id: FromPath[uuid.UUID],
) -> Response[Any]:
    url = await archive(db, principal, comment_id, form_version(await form_dict(request)))
    return see_other(url + "#comments")


routes = [api_list, api_add, page_add, page_archive]


def partner_activity() -> list[Any]:
    """A comment written by someone of the institution (cooperation/partners/dormancy.py)."""
    C = table(Comment).c
    return [activity(C.institution_id, "comment", day_of(C.created_at)).where(C.institution_id.is_not(None))]
