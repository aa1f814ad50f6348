"""Comments on a record: the discussion between the home institution's staff and its partners.

Who may add them follows the record (files.register_owner): staff who manage records and the partners taking part.
Who reads each one is its audience (access.piece_visible), chosen beside the save button: the department only by
default for staff; a partner's comment is read by the department and that partner's institution. Coordinators may
change an audience later (audited). An author may archive their own comment; coordinators may archive any. Nothing
is deleted.
"""

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from cooperation import audit, i18n
from cooperation.auth.access import Audience, Principal, piece_audience, piece_visible, require_manager
from cooperation.db import table
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.files import resolve_owner
from cooperation.i18n import N_
from cooperation.partners.dormancy import activity, day_of
from cooperation.partners.models import Institution
from cooperation.records import RecordBase, nfc, row_to, update_versioned
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
    audience: str = Field(default=Audience.DEPARTMENT.value, max_length=20)


class CommentIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LENGTH)]
    # department: the home institution's staff only (the default for staff); partners: also the record's partners.
    # A partner's comment is always read by the department and the partner's own institution.
    audience: Audience | None = None


class CommentAudienceIn(msgspec.Struct, forbid_unknown_fields=True):
    audience: Audience
    version: int


class CommentOut(msgspec.Struct):
    id: uuid.UUID
    body: str
    author_name: str
    institution_code: str | None
    created_at: datetime
    version: int
    audience: str
    institution_id: uuid.UUID | None


async def add(
    session: AsyncSession, principal: Principal, owner_type: str, owner_id: uuid.UUID, body: str, audience: str | None = None
) -> uuid.UUID:
    owner = await resolve_owner(session, principal, owner_type, owner_id)
    if not owner.may_add:
        raise ForbiddenError(i18n.gettext("You may read %(record)s but not comment on it.", record=owner.label))
    chosen = piece_audience(principal, audience)
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
        audience=chosen.value,
    )
    session.add(comment)
    await session.flush()
    audit.record(
        session,
        principal,
        "comment",
        owner_type,
        owner_id,
        summary=f"Comment ({chosen.value}): {text[:200]}",
        changes={"audience": [None, chosen.value]},  # a webhook for a partner never hears of a department-only piece
    )
    await session.commit()
    return comment.id


async def list_for(session: AsyncSession, principal: Principal, owner_type: str, owner_id: uuid.UUID) -> list[CommentOut]:
    """The comments on a record this person reads; callers have already checked that the record is visible."""
    c = table(Comment).c
    i = table(Institution).c
    rows = await session.execute(
        select(c.id, c.body, c.author_name, i.code, c.created_at, c.version, c.audience, c.institution_id)
        .outerjoin(table(Institution), i.id == c.institution_id)
        .where(c.owner_type == owner_type, c.owner_id == owner_id, c.archived_at.is_(None))
        .where(piece_visible(principal, c.audience, c.institution_id))
        .order_by(c.created_at)
    )
    return [row_to(CommentOut, row) for row in rows]


async def _visible_comment(session: AsyncSession, principal: Principal, comment_id: uuid.UUID) -> tuple[Comment, Any]:
    """A comment and its record, when this person reads both (404 otherwise: a hidden comment does not exist)."""
    comment = await session.get(Comment, comment_id)
    if comment is None:
        raise NotFoundError("comment")
    owner = await resolve_owner(session, principal, comment.owner_type, comment.owner_id)
    c = table(Comment).c
    if await session.scalar(select(c.id).where(c.id == comment_id, piece_visible(principal, c.audience, c.institution_id))) is None:
        raise NotFoundError("comment")
    return comment, owner


async def set_audience(session: AsyncSession, principal: Principal, comment_id: uuid.UUID, audience: str, version: int) -> str:
    """Coordinators share a comment with the record's partners or take it back to the department (audited)."""
    comment, owner = await _visible_comment(session, principal, comment_id)
    require_manager(principal, N_("change who reads a comment"))
    if audience not in (Audience.DEPARTMENT.value, Audience.PARTNERS.value):
        raise ValidationFailed({"audience": i18n.gettext("choose the department only or shared with the partners")})
    before = comment.audience
    await update_versioned(session, Comment, comment_id, version, {"audience": audience}, what="comment")
    audit.record(
        session,
        principal,
        "audience",
        comment.owner_type,
        comment.owner_id,
        summary=f"Comment by {comment.author_name} on {owner.label}: {before} → {audience}",
        changes={"comment": [str(comment_id), str(comment_id)], "audience": [before, audience]},
    )
    await session.commit()
    return owner.url


async def archive(session: AsyncSession, principal: Principal, comment_id: uuid.UUID, version: int) -> str:
    comment, owner = await _visible_comment(session, principal, comment_id)
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
    return await list_for(db, principal, owner_type, owner_id)


@post("/api/v1/comments/{owner_type:str}/{owner_id:uuid}", name="api_comment_create", tags=["comments"])
async def api_add(
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
    data: JSONBody[CommentIn],
) -> CommentOut:
    """Comment on a record you may see (`owner_type`: agreement, visit, exchange, project). `audience`: `department`
    (the default for staff) or `partners`; a partner's comment is read by the department and its own institution."""
    comment_id = await add(db, principal, owner_type, owner_id, data.body, data.audience)
    return next(c for c in await list_for(db, principal, owner_type, owner_id) if c.id == comment_id)


@patch("/api/v1/comments/{comment_id:uuid}", name="api_comment_audience", tags=["comments"])
async def api_set_audience(
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    comment_id: FromPath[uuid.UUID],
    data: JSONBody[CommentAudienceIn],
) -> CommentOut:
    """Change who reads a comment (coordinators): `department` or `partners`, with the comment's `version`."""
    await set_audience(db, principal, comment_id, data.audience.value, data.version)
    c = table(Comment).c
    owner_type, owner_id = (await db.execute(select(c.owner_type, c.owner_id).where(c.id == comment_id))).one()
    return next(item for item in await list_for(db, principal, owner_type, owner_id) if item.id == comment_id)


@post("/comments/{owner_type:str}/{owner_id:uuid}", name="comment_create")
async def page_add(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
) -> Response[Any]:
    form = await form_dict(request)
    await add(db, principal, owner_type, owner_id, str(form.get("body") or ""), str(form.get("audience") or "") or None)
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


@post("/comments/{comment_id:uuid}/audience", name="comment_audience")
async def page_audience(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    comment_id: FromPath[uuid.UUID],
) -> Response[Any]:
    form = await form_dict(request)
    url = await set_audience(db, principal, comment_id, str(form.get("audience") or ""), form_version(form))
    return see_other(url + f"#comment-{comment_id}")


routes = [api_list, api_add, api_set_audience, page_add, page_archive, page_audience]


def partner_activity() -> list[Any]:
    """A comment written by someone of the institution (cooperation/partners/dormancy.py)."""
    C = table(Comment).c
    return [activity(C.institution_id, "comment", day_of(C.created_at)).where(C.institution_id.is_not(None))]
