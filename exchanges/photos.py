"""Visit photos: images only, metadata (EXIF, GPS) stripped, a thumbnail made, shown in the order and with the
captions the coordinator gives them. The cleaned image is stored as the visit's attachment, whose audience is the
photo's (access.piece_visible). A photo reaches the public portal only once a coordinator has published it, with
its caption: `publication` is waiting until then, published after, or kept (internal) when they decided against."""

import asyncio
import hashlib
import io
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from cooperation import audit, files, i18n
from cooperation.auth.access import Audience, Principal, piece_audience, piece_visible, require_manager
from cooperation.db import UTCDateTime, new_id, table, utcnow
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.records import nfc, row_to
from cooperation.settings import Settings
from cooperation.web import too_large
from exchanges.models import Visit

THUMBNAIL_SIZE = (480, 480)
MAX_PIXELS = 60_000_000  # refuse decompression bombs well before Pillow's own limit
FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}


class VisitPhoto(SQLModel, table=True):
    __tablename__ = "visit_photo"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    visit_id: uuid.UUID = Field(foreign_key="visit.id", index=True)
    attachment_id: uuid.UUID = Field(foreign_key="attachment.id")
    caption: str = Field(default="", max_length=1000)
    position: int = 0
    width: int
    height: int
    thumbnail_sha256: str = Field(max_length=64)
    publication: str = Field(default="waiting", max_length=12)  # waiting, published, kept
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    published_by_name: str | None = Field(default=None, max_length=200)


class Publication(StrEnum):
    WAITING = "waiting"
    PUBLISHED = "published"
    KEPT = "kept"


class PhotoOut(msgspec.Struct):
    id: uuid.UUID
    attachment_id: uuid.UUID
    caption: str
    position: int
    width: int
    height: int
    audience: str = "department"
    institution_id: uuid.UUID | None = None
    publication: str = Publication.WAITING.value
    version: int = 1  # the attachment's: changing the audience is checked against it


class CleanImage(msgspec.Struct):
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes


def clean_image(content: bytes) -> CleanImage:
    """Decode, apply the EXIF orientation, re-encode without any metadata, and make a JPEG thumbnail.

    Raises ValidationFailed when the bytes are not an image we accept.
    """
    try:
        with Image.open(io.BytesIO(content)) as probe:
            kind = probe.format or ""
            if kind not in FORMATS:
                raise ValidationFailed({"file": i18n.gettext("is a %(kind)s image; photos must be JPEG, PNG or WebP", kind=kind or "file")})
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationFailed(
                    {
                        "file": i18n.gettext(
                            "is %(width)s×%(height)s pixels; at most %(limit)s megapixels",
                            width=probe.width,
                            height=probe.height,
                            limit=MAX_PIXELS // 1_000_000,
                        )
                    }
                )
            image = ImageOps.exif_transpose(probe)
            image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationFailed({"file": i18n.gettext("is not an image (photos must be JPEG, PNG or WebP)")}) from exc
    mime, extension = FORMATS[kind]
    if kind == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    cleaned = io.BytesIO()
    # Saved afresh with no exif/icc/xmp argument: EXIF (camera, GPS position, time) does not survive.
    image.save(cleaned, format=kind, **({"quality": 90} if kind in ("JPEG", "WEBP") else {}))
    thumb = image.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    if thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGB")
    small = io.BytesIO()
    thumb.save(small, format="JPEG", quality=82)
    return CleanImage(
        content=cleaned.getvalue(),
        content_type=mime,
        extension=extension,
        width=image.width,
        height=image.height,
        thumbnail=small.getvalue(),
    )


async def add_photo(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    visit_id: uuid.UUID,
    *,
    filename: str,
    content: bytes,
    caption: str | None,
    audience: str | None = None,
    commit: bool = True,
) -> uuid.UUID:
    """One photo, cleaned and thumbnailed; with commit=False it waits for the caller's commit (several at once)."""
    owner = await files.resolve_owner(session, principal, "visit", visit_id)
    if not owner.may_add:
        raise ForbiddenError(i18n.gettext("You may not add photos to %(record)s.", record=owner.label))
    if not content:
        raise ValidationFailed({"file": i18n.gettext("choose a photo to upload")})
    if len(content) > settings.upload_max_bytes:
        raise ValidationFailed({"file": too_large(filename or i18n.gettext("The photo"), len(content), settings.upload_max_bytes)})
    image = await asyncio.to_thread(clean_image, content)  # decoding a large photo must not stall other requests
    stem = (filename.rsplit(".", 1)[0] or "photo")[:200]
    attachment_id = await files.add_attachment(
        session,
        principal,
        settings,
        owner_type="visit",
        owner_id=visit_id,
        filename=stem + image.extension,
        content=image.content,
        title=(caption or stem)[:300],
        language=None,
        audience=audience,
        commit=False,
    )
    thumb_digest = hashlib.sha256(image.thumbnail).hexdigest()
    await files.storage(settings).put(thumb_digest, image.thumbnail)
    position = int(await session.scalar(select(func.count()).select_from(VisitPhoto).where(table(VisitPhoto).c.visit_id == visit_id)) or 0)
    photo = VisitPhoto(
        visit_id=visit_id,
        attachment_id=attachment_id,
        caption=nfc((caption or "").strip()),
        position=position,
        width=image.width,
        height=image.height,
        thumbnail_sha256=thumb_digest,
    )
    session.add(photo)
    audit.record(
        session,
        principal,
        "add_photo",
        "visit",
        visit_id,
        summary=f"Photo added: {photo.caption[:200] or stem}",
        changes={"audience": [None, piece_audience(principal, audience).value]},
    )
    if commit:
        await session.commit()
    else:
        await session.flush()  # the next photo's position counts this one
    return photo.id


class PhotoArrangementIn(msgspec.Struct, forbid_unknown_fields=True):
    id: uuid.UUID
    caption: str = msgspec.field(default="")


async def arrange_photos(session: AsyncSession, principal: Principal, visit_id: uuid.UUID, photos: list[PhotoArrangementIn]) -> None:
    """Set the order (as listed) and captions of a visit's photos; the list names each of its photos exactly once."""
    owner = await files.resolve_owner(session, principal, "visit", visit_id)
    if not principal.manages_records:
        raise ForbiddenError(i18n.gettext("Only the cooperation department arranges the photos of %(record)s.", record=owner.label))
    p = table(VisitPhoto).c
    current = {
        row.id: row
        for row in await session.execute(select(p.id, p.caption, p.position, p.publication, p.attachment_id).where(p.visit_id == visit_id))
    }
    listed = [item.id for item in photos]
    errors: dict[str, str] = {}
    if len(set(listed)) != len(listed):
        errors["photos"] = i18n.gettext("a photo is listed twice")
    elif set(listed) != set(current):
        errors["photos"] = i18n.gettext("list each of the visit's %(count)s photos exactly once", count=len(current))
    for index, item in enumerate(photos):
        if len(item.caption) > 1000:
            errors[f"photos.{index}.caption"] = i18n.gettext("is longer than 1000 characters")
    if errors:
        raise ValidationFailed(errors)
    changed = 0
    for position, item in enumerate(photos):
        caption = nfc(item.caption.strip())
        if (current[item.id].caption, current[item.id].position) != (caption, position):
            values: dict[str, object] = {"caption": caption, "position": position}
            if not caption and current[item.id].publication == Publication.PUBLISHED.value:
                values |= {"publication": Publication.WAITING.value}  # no photo on the portal without its caption
                await files.unpublish(session, current[item.id].attachment_id)
            await session.execute(update(VisitPhoto).where(p.id == item.id).values(**values))
            changed += 1
    if changed:
        audit.record(session, principal, "arrange_photos", "visit", visit_id, summary=f"Photos arranged ({changed} changed)")
    await session.commit()


_P, _A = table(VisitPhoto).c, table(files.Attachment).c
_PHOTO_COLUMNS = (
    _P.id,
    _P.attachment_id,
    _P.caption,
    _P.position,
    _P.width,
    _P.height,
    _A.audience,
    _A.institution_id,
    _P.publication,
    _A.version,
)


async def list_photos(session: AsyncSession, visit_id: uuid.UUID, principal: Principal | None = None) -> list[PhotoOut]:
    """Callers have already checked that the visit is visible; given a `principal`, only the photos whose audience
    includes them (without: every photo, for the department's own uses). The portal asks `published_photos`."""
    statement = (
        select(*_PHOTO_COLUMNS)
        .join(table(files.Attachment), _A.id == _P.attachment_id)
        .where(_P.visit_id == visit_id, _A.archived_at.is_(None))
        .order_by(_P.position)
    )
    if principal is not None:
        statement = statement.where(piece_visible(principal, _A.audience, _A.institution_id))
    return [row_to(PhotoOut, row) for row in await session.execute(statement)]


def portal_visit_rule(v: Any) -> tuple[ColumnElement[bool], ...]:
    """SQL: a visit the portal shows — marked public, completed, not archived, its summary published by a coordinator."""
    return (v.public.is_(True), v.status == "completed", v.archived_at.is_(None), v.summary_publication == Publication.PUBLISHED.value)


def published() -> tuple[ColumnElement[bool], ...]:
    """SQL: a photo (joined to its attachment) that a coordinator published and nobody has taken back."""
    return (_P.publication == Publication.PUBLISHED.value, _A.audience == Audience.PUBLIC.value, _A.archived_at.is_(None))


async def published_photos(session: AsyncSession, visit_id: uuid.UUID) -> list[PhotoOut]:
    """The photos of a visit that the public portal shows: published ones, in their order."""
    statement = (
        select(*_PHOTO_COLUMNS)
        .join(table(files.Attachment), _A.id == _P.attachment_id)
        .where(_P.visit_id == visit_id, *published())
        .order_by(_P.position)
    )
    return [row_to(PhotoOut, row) for row in await session.execute(statement)]


async def thumbnail_digest(session: AsyncSession, principal: Principal, photo_id: uuid.UUID) -> str:
    """The stored thumbnail of a photo this person may see (404 otherwise: its visit or its audience hides it)."""
    row = (
        await session.execute(
            select(_P.visit_id, _P.thumbnail_sha256)
            .join_from(table(VisitPhoto), table(files.Attachment), _A.id == _P.attachment_id)
            .where(_P.id == photo_id, piece_visible(principal, _A.audience, _A.institution_id))
        )
    ).first()
    if row is None:
        raise NotFoundError("photo")
    await files.resolve_owner(session, principal, "visit", row.visit_id)
    return str(row.thumbnail_sha256)


async def set_publication(session: AsyncSession, principal: Principal, photo_ids: list[uuid.UUID], publish: bool) -> int:
    """A coordinator publishes photos to the portal (each needs its caption) or keeps them internal; a published
    photo kept internal leaves the portal on the next request. All or none; audited per visit. Returns how many."""
    require_manager(principal, N_("publish photos"))
    rows = (
        await session.execute(
            select(_P.id, _P.visit_id, _P.caption, _P.attachment_id, _P.publication, _A.filename)
            .join_from(table(VisitPhoto), table(files.Attachment), _A.id == _P.attachment_id)
            .where(_P.id.in_(photo_ids), _A.archived_at.is_(None))
        )
    ).all()
    if len(rows) != len(set(photo_ids)):
        raise NotFoundError("photo")
    uncaptioned = [row.filename for row in rows if publish and not row.caption.strip()]
    if uncaptioned:
        raise ValidationFailed(
            {"photos": i18n.gettext("a photo needs its caption before it is published: %(files)s", files=", ".join(uncaptioned[:5]))}
        )
    now = utcnow()
    for row in rows:
        if publish:
            values = {"publication": Publication.PUBLISHED.value, "published_at": now, "published_by_name": principal.name}
            await session.execute(update(files.Attachment).where(_A.id == row.attachment_id).values(audience=Audience.PUBLIC.value))
        else:
            values = {"publication": Publication.KEPT.value, "published_at": None, "published_by_name": None}
            if row.publication == Publication.PUBLISHED.value:
                await files.unpublish(session, row.attachment_id)
        await session.execute(update(VisitPhoto).where(_P.id == row.id).values(**values))
        audit.record(
            session,
            principal,
            "publish" if publish else "keep_internal",
            "visit",
            row.visit_id,
            summary=f"Photo {row.filename} {'published on the portal' if publish else 'kept internal'}",
        )
    await session.commit()
    return len(rows)


async def public_photo(session: AsyncSession, photo_id: uuid.UUID) -> tuple[str, str]:
    """(stored digest, content type) of a photo of a completed visit marked public, for the public portal; NotFound otherwise.
    The file is the cleaned image (no EXIF, no GPS): what the department sees."""
    v = table(Visit).c
    row = (
        await session.execute(
            select(_A.sha256, _A.content_type)
            .join_from(table(VisitPhoto), table(files.Attachment), _A.id == _P.attachment_id)
            .join(table(Visit), v.id == _P.visit_id)
            .where(_P.id == photo_id, *published())
            .where(*portal_visit_rule(v))
        )
    ).first()
    if row is None:
        raise NotFoundError("photo")
    return row.sha256, row.content_type
