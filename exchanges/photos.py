"""Visit photos: images only, metadata (EXIF, GPS) stripped, a thumbnail made, shown in the order and with the
captions the coordinator gives them. The cleaned image is stored as the visit's attachment."""

import asyncio
import hashlib
import io
import uuid

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from cooperation import audit, files, i18n
from cooperation.auth.access import Principal
from cooperation.db import new_id, table
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.records import nfc
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


class PhotoOut(msgspec.Struct):
    id: uuid.UUID
    attachment_id: uuid.UUID
    caption: str
    position: int
    width: int
    height: int


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
    audit.record(session, principal, "add_photo", "visit", visit_id, summary=f"Photo added: {photo.caption[:200] or stem}")
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
    current = {row.id: row for row in await session.execute(select(p.id, p.caption, p.position).where(p.visit_id == visit_id))}
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
            await session.execute(update(VisitPhoto).where(p.id == item.id).values(caption=caption, position=position))
            changed += 1
    if changed:
        audit.record(session, principal, "arrange_photos", "visit", visit_id, summary=f"Photos arranged ({changed} changed)")
    await session.commit()


async def list_photos(session: AsyncSession, visit_id: uuid.UUID) -> list[PhotoOut]:
    """Callers have already checked that the visit is visible."""
    p = table(VisitPhoto).c
    a = table(files.Attachment).c
    rows = await session.execute(
        select(p.id, p.attachment_id, p.caption, p.position, p.width, p.height)
        .join(table(files.Attachment), a.id == p.attachment_id)
        .where(p.visit_id == visit_id, a.archived_at.is_(None))
        .order_by(p.position)
    )
    return [PhotoOut(*row) for row in rows]


async def thumbnail_digest(session: AsyncSession, principal: Principal, photo_id: uuid.UUID) -> str:
    """The stored thumbnail of a photo this person may see (404 otherwise)."""
    photo = await session.get(VisitPhoto, photo_id)
    if photo is None:
        raise NotFoundError("photo")
    await files.resolve_owner(session, principal, "visit", photo.visit_id)
    return photo.thumbnail_sha256


async def public_photo(session: AsyncSession, photo_id: uuid.UUID) -> tuple[str, str]:
    """(stored digest, content type) of a photo of a completed visit marked public, for the public portal; NotFound otherwise.
    The file is the cleaned image (no EXIF, no GPS): what the department sees."""
    p, a, v = table(VisitPhoto).c, table(files.Attachment).c, table(Visit).c
    row = (
        await session.execute(
            select(a.sha256, a.content_type)
            .join_from(table(VisitPhoto), table(files.Attachment), a.id == p.attachment_id)
            .join(table(Visit), v.id == p.visit_id)
            .where(p.id == photo_id, a.archived_at.is_(None))
            .where(v.public.is_(True), v.status == "completed", v.archived_at.is_(None))
        )
    ).first()
    if row is None:
        raise NotFoundError("photo")
    return row.sha256, row.content_type
