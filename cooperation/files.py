"""Attachments: uploaded documents and images that belong to a record.

Uploads are size-capped, their type is sniffed from the content (the name and the browser's
claim are not trusted), they are stored outside the web root under a content hash, and they are
served as attachments with `nosniff`. Which records may hold attachments, and who may see or add
them, is said by each domain through `register_owner`.
"""

import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import filetype
import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from cooperation import audit, i18n
from cooperation.apidoc import multipart
from cooperation.auth.access import Principal
from cooperation.db import UTCDateTime, table, utcnow
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.records import RecordBase, nfc, row_to, update_versioned
from cooperation.settings import Settings
from cooperation.web import see_other, too_large

ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": N_("PDF"),
    "image/jpeg": N_("JPEG image"),
    "image/png": N_("PNG image"),
    "image/webp": N_("WebP image"),
    "image/gif": N_("GIF image"),
    "image/tiff": N_("TIFF image"),
    "application/msword": N_("Word document"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": N_("Word document"),
    "application/vnd.ms-excel": N_("Excel workbook"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": N_("Excel workbook"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": N_("PowerPoint presentation"),
    "application/vnd.oasis.opendocument.text": N_("OpenDocument text"),
    "application/vnd.oasis.opendocument.spreadsheet": N_("OpenDocument spreadsheet"),
    "text/plain": N_("text"),
    "text/csv": N_("CSV"),
}
TEXT_EXTENSIONS = {".txt": "text/plain", ".csv": "text/csv", ".md": "text/plain"}
# Extensions whose content must sniff as one of these types (a mismatch is refused).
EXTENSION_TYPES: dict[str, set[str]] = {
    ".pdf": {"application/pdf"},
    ".jpg": {"image/jpeg"},
    ".jpeg": {"image/jpeg"},
    ".png": {"image/png"},
    ".webp": {"image/webp"},
    ".gif": {"image/gif"},
    ".tif": {"image/tiff"},
    ".tiff": {"image/tiff"},
    ".docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    ".xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    ".doc": {"application/msword"},
    ".xls": {"application/vnd.ms-excel"},
}


class Attachment(RecordBase, table=True):
    __tablename__ = "attachment"

    owner_type: str = Field(max_length=40, index=True)
    owner_id: uuid.UUID = Field(index=True)
    title: str = Field(max_length=300)
    language: str | None = Field(default=None, max_length=12)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=120)
    size_bytes: int
    sha256: str = Field(max_length=64)
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institution.id", nullable=True)
    uploaded_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id", nullable=True)
    uploaded_by_name: str = Field(max_length=200)
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AttachmentOut(msgspec.Struct):
    id: uuid.UUID
    owner_type: str
    owner_id: uuid.UUID
    title: str
    language: str | None
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by_name: str
    uploaded_at: datetime
    archived: bool
    version: int


@dataclass(frozen=True)
class Owner:
    """What a domain says about a record that holds attachments."""

    label: str
    url: str
    may_add: bool
    institution_id: uuid.UUID | None = None


OwnerResolver = Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[Owner]]
_owners: dict[str, OwnerResolver] = {}


def register_owner(kind: str, resolver: OwnerResolver) -> None:
    _owners[kind] = resolver


async def resolve_owner(session: AsyncSession, principal: Principal, kind: str, owner_id: uuid.UUID) -> Owner:
    resolver = _owners.get(kind)
    if resolver is None:
        raise NotFoundError("record")
    return await resolver(session, principal, owner_id)  # raises NotFoundError when not visible


def sniff(content: bytes, filename: str) -> str:
    """The content type from the bytes themselves, or a ValidationFailed that says what is wrong."""
    extension = Path(filename).suffix.lower()
    kind = filetype.guess(content)
    mime = kind.mime if kind is not None else None
    if mime is None and extension in TEXT_EXTENSIONS:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed({"file": i18n.gettext("is named as text but is not UTF-8 text")}) from None
        if b"\x00" not in content:
            mime = TEXT_EXTENSIONS[extension]
    if mime is None or mime not in ALLOWED_TYPES:
        allowed = ", ".join(sorted({i18n.gettext(kind) for kind in ALLOWED_TYPES.values()}))
        found = (
            i18n.gettext("its content is %(type)s", type=mime)
            if mime
            else i18n.gettext("its content is not a recognised document or image")
        )
        raise ValidationFailed(
            {"file": i18n.gettext("%(file)s: %(found)s; allowed are %(allowed)s", file=filename, found=found, allowed=allowed)}
        )
    expected = EXTENSION_TYPES.get(extension)
    if expected is not None and mime not in expected:
        raise ValidationFailed(
            {
                "file": i18n.gettext(
                    "%(file)s is named %(extension)s but its content is %(type)s",
                    file=filename,
                    extension=extension,
                    type=i18n.gettext(ALLOWED_TYPES[mime]),
                )
            }
        )
    return mime


def storage_path(settings: Settings, digest: str) -> Path:
    return settings.files_dir / digest[:2] / digest


def store(settings: Settings, content: bytes, digest: str) -> None:
    """Content-addressed and written atomically: a crash never leaves a half file under the final name."""
    path = storage_path(settings, digest)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{uuid.uuid4().hex}.part")
    temporary.write_bytes(content)
    os.replace(temporary, path)


async def add_attachment(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    owner_type: str,
    owner_id: uuid.UUID,
    filename: str,
    content: bytes,
    title: str | None,
    language: str | None,
    commit: bool = True,
) -> uuid.UUID:
    """Store a document for a record. `commit=False` leaves the transaction open for a caller adding more rows."""
    owner = await resolve_owner(session, principal, owner_type, owner_id)
    if not owner.may_add:
        raise ForbiddenError(i18n.gettext("You may not add documents to %(record)s.", record=owner.label))
    filename = nfc(Path(filename or "").name.strip())
    errors: dict[str, str] = {}
    if not filename:
        errors["file"] = i18n.gettext("choose a file to upload")
    elif not content:
        errors["file"] = i18n.gettext("%(file)s is empty", file=filename)
    elif len(content) > settings.upload_max_bytes:
        errors["file"] = too_large(filename, len(content), settings.upload_max_bytes)
    if language and len(language) > 12:
        errors["language"] = i18n.gettext("must be a language code such as vi, zh or en")
    if errors:
        raise ValidationFailed(errors)
    mime = sniff(content, filename)
    digest = hashlib.sha256(content).hexdigest()
    store(settings, content, digest)
    attachment = Attachment(
        owner_type=owner_type,
        owner_id=owner_id,
        title=nfc((title or "").strip()) or filename,
        language=(language or "").strip().lower() or None,
        filename=filename,
        content_type=mime,
        size_bytes=len(content),
        sha256=digest,
        institution_id=principal.institution_id if principal.is_partner else owner.institution_id,
        uploaded_by_id=principal.user_id,
        uploaded_by_name=principal.name,
    )
    session.add(attachment)
    await session.flush()
    audit.record(
        session,
        principal,
        "upload",
        owner_type,
        owner_id,
        summary=f"Attached {filename} ({len(content)} bytes, {mime})",
        changes={"attachment": [None, str(attachment.id)]},
    )
    if commit:
        await session.commit()
    return attachment.id


_A = table(Attachment).c
_COLUMNS = (
    _A.id,
    _A.owner_type,
    _A.owner_id,
    _A.title,
    _A.language,
    _A.filename,
    _A.content_type,
    _A.size_bytes,
    _A.sha256,
    _A.uploaded_by_name,
    _A.uploaded_at,
    _A.archived_at.is_not(None),
    _A.version,
)


async def list_for(session: AsyncSession, owner_type: str, owner_id: uuid.UUID, *, archived: bool = False) -> list[AttachmentOut]:
    """Callers have already checked that the owner record is visible."""
    rows = await session.execute(
        select(*_COLUMNS)
        .where(_A.owner_type == owner_type, _A.owner_id == owner_id)
        .where(_A.archived_at.is_not(None) if archived else _A.archived_at.is_(None))
        .order_by(_A.uploaded_at)
    )
    return [row_to(AttachmentOut, row) for row in rows]


async def get_attachment(session: AsyncSession, principal: Principal, attachment_id: uuid.UUID) -> tuple[AttachmentOut, Owner]:
    row = (await session.execute(select(*_COLUMNS).where(_A.id == attachment_id))).first()
    if row is None:
        raise NotFoundError("document")
    attachment = row_to(AttachmentOut, row)
    owner = await resolve_owner(session, principal, attachment.owner_type, attachment.owner_id)
    return attachment, owner


async def set_archived(session: AsyncSession, principal: Principal, attachment_id: uuid.UUID, *, archived: bool, version: int) -> Owner:
    attachment, owner = await get_attachment(session, principal, attachment_id)
    uploaded_by_self = await session.scalar(select(_A.uploaded_by_id).where(_A.id == attachment_id)) == principal.user_id
    if not (principal.manages_records or (owner.may_add and uploaded_by_self)):
        raise ForbiddenError(i18n.gettext("Only a coordinator or the person who uploaded it may archive this document."))
    await update_versioned(session, Attachment, attachment_id, version, {"archived_at": utcnow() if archived else None}, what="document")
    audit.record(
        session,
        principal,
        "archive" if archived else "restore",
        attachment.owner_type,
        attachment.owner_id,
        summary=f"{'Archived' if archived else 'Restored'} document {attachment.filename}",
    )
    await session.commit()
    return owner


# ---- routes -------------------------------------------------------------------------------------


async def _read_upload(request: Request[Any, Any, Any]) -> tuple[str, bytes, str | None, str | None]:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed({"file": i18n.gettext("choose a file to upload")})
    content = await upload.read()
    title = form.get("title")
    language = form.get("language")
    return upload.filename or "", content, title if isinstance(title, str) else None, language if isinstance(language, str) else None


@post("/attachments/{owner_type:str}/{owner_id:uuid}", name="attachment_upload")
async def upload_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
) -> Response[Any]:
    filename, content, title, language = await _read_upload(request)
    await add_attachment(
        db,
        principal,
        request.app.state.settings,
        owner_type=owner_type,
        owner_id=owner_id,
        filename=filename,
        content=content,
        title=title,
        language=language,
    )
    owner = await resolve_owner(db, principal, owner_type, owner_id)
    return see_other(owner.url + "#documents")


@post(
    "/api/v1/attachments/{owner_type:str}/{owner_id:uuid}",
    name="api_attachment_upload",
    tags=["documents"],
    status_code=201,
    operation_class=multipart(
        "A document of the record",
        {"file": "the document", "title": "its title (default: the file name)", "language": "its language code, e.g. vi, zh, fr"},
    ),
)
async def upload_api(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
) -> AttachmentOut:
    """Upload a document (multipart field `file`, optional `title` and `language`) to a record."""
    filename, content, title, language = await _read_upload(request)
    attachment_id = await add_attachment(
        db,
        principal,
        request.app.state.settings,
        owner_type=owner_type,
        owner_id=owner_id,
        filename=filename,
        content=content,
        title=title,
        language=language,
    )
    attachment, _ = await get_attachment(db, principal, attachment_id)
    return attachment


async def _download(request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, attachment_id: uuid.UUID) -> File:
    attachment, _owner = await get_attachment(db, principal, attachment_id)
    settings: Settings = request.app.state.settings
    path = storage_path(settings, attachment.sha256)
    if not path.exists():
        raise NotFoundError("document file")
    return File(
        path=path,
        filename=attachment.filename,
        media_type=attachment.content_type,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"},
    )


@get("/attachments/{attachment_id:uuid}", name="attachment_download")
async def download_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    attachment_id: FromPath[uuid.UUID],
) -> File:
    return await _download(request, db, principal, attachment_id)


@get("/api/v1/attachments/{attachment_id:uuid}/content", name="api_attachment_download", tags=["documents"])
async def download_api(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    attachment_id: FromPath[uuid.UUID],
) -> File:
    """The document's bytes, as an attachment."""
    return await _download(request, db, principal, attachment_id)


@post("/attachments/{attachment_id:uuid}/archive", name="attachment_archive")
async def archive_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    attachment_id: FromPath[uuid.UUID],
) -> Response[Any]:
    form = await request.form()
    try:
        version = int(str(form.get("version") or "0"))
    except ValueError:
        raise ValidationFailed({"version": i18n.gettext("must be a whole number")}) from None
    owner = await set_archived(db, principal, attachment_id, archived=form.get("restore") != "1", version=version)
    return see_other(owner.url + "#documents")


routes = [upload_page, upload_api, download_page, download_api, archive_page]
