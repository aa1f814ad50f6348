"""Attachments: uploaded documents and images that belong to a record.

Uploads are size-capped, their type is sniffed from the content (the name and the browser's
claim are not trusted), they are stored outside the web root under a content hash, and they are
served as attachments with `nosniff`. Which records may hold attachments, and who may see or add
them, is said by each domain through `register_owner`.
"""

import asyncio
import base64
import codecs
import hashlib
import io
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast
from urllib.parse import quote, unquote, urlsplit

import filetype
import msgspec
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ReadTimeoutError as BotoReadTimeout
from litestar import Request, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import File, Stream
from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from cooperation import audit, i18n
from cooperation.apidoc import multipart
from cooperation.auth.access import Audience, Principal, piece_audience, piece_visible, require_manager
from cooperation.db import UTCDateTime, table, utcnow
from cooperation.errors import ForbiddenError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.records import RecordBase, nfc, row_to, update_versioned
from cooperation.settings import Settings
from cooperation.web import form_dict, form_version, see_other, too_large

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
    audience: str = Field(default=Audience.DEPARTMENT.value, max_length=20)  # access.piece_visible


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
    audience: str
    institution_id: uuid.UUID | None


@dataclass(frozen=True)
class Owner:
    """What a domain says about a record that holds attachments."""

    label: str
    url: str
    may_add: bool
    institution_id: uuid.UUID | None = None
    partner_ids: tuple[uuid.UUID, ...] = ()  # the partner institutions taking part: who "shared" pieces reach


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
    return _sniffed(content[:HEAD], filename, lambda: _text_check(io.BytesIO(content)))


HEAD = 8192  # what the type is recognised from (filetype reads the first 261 bytes)


def _text_check(handle: BinaryIO) -> bool | None:
    """True when the whole content is UTF-8 text without NUL bytes, False when it has a NUL, None when it is not UTF-8:
    read in chunks, never whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    handle.seek(0)
    clean = True
    try:
        while block := handle.read(CHUNK):
            decoder.decode(block)
            clean = clean and b"\x00" not in block
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    finally:
        handle.seek(0)
    return clean


def _sniffed(head: bytes, filename: str, text: Callable[[], bool | None]) -> str:
    extension = Path(filename).suffix.lower()
    kind = filetype.guess(head)
    mime = kind.mime if kind is not None else None
    if mime is None and extension in TEXT_EXTENSIONS:
        is_text = text()
        if is_text is None:
            raise ValidationFailed({"file": i18n.gettext("is named as text but is not UTF-8 text")})
        if is_text:
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


# ---- where the bytes are kept ------------------------------------------------------------------------------------
#
# Every stored file (documents, photos and their thumbnails, report PDFs) is named by the SHA-256 of its content, in a
# local directory (`file:///…`, the default: COOP_DATA_DIR/files) or an S3-compatible object store (`s3://bucket/prefix`:
# AWS S3, MinIO, Garage, Ceph RGW), chosen by COOP_STORAGE_URL. Either way a file is written once, checked against its
# name as it is written, and never changed; several application servers share an object store (docs/deploy.md).
#
# Downloads are streamed through the application, after the access check, rather than by presigned URL: the bucket
# need not be reachable from readers' browsers (often it is on the library's internal network), the response keeps its
# headers (attachment, nosniff, a CSP that runs nothing), and a link cannot be passed on to someone who may not read it.

CHUNK = 256 * 1024
DIGEST = re.compile(r"[0-9a-f]{64}")


class StorageError(RuntimeError):
    """The store refused or lost a file (its checksum does not match, the bucket is unreachable)."""


class Storage:
    """Content-addressed files: `put` once, read many times."""

    url: str

    def local_path(self, digest: str) -> Path | None:
        """The file on this machine's disk, when the store is a local directory (served without copying)."""
        return None

    async def exists(self, digest: str) -> bool:
        raise NotImplementedError

    async def put(self, digest: str, source: bytes | BinaryIO) -> None:
        """Keep the content under its digest (a no-op when it is there); StorageError when it is not that content."""
        raise NotImplementedError

    async def get(self, digest: str) -> bytes:
        """The whole content; FileNotFoundError when it is not stored."""
        raise NotImplementedError

    def chunks(self, digest: str) -> AsyncIterator[bytes]:
        """The content in chunks, for a streamed response; FileNotFoundError when it is not stored."""
        raise NotImplementedError

    def digests(self) -> AsyncIterator[str]:
        """Every stored file's digest."""
        raise NotImplementedError


def _checked(digest: str, source: bytes | BinaryIO) -> BinaryIO:
    """The content as a file positioned at its start, after checking it hashes to `digest`."""
    handle: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    handle.seek(0)
    hasher = hashlib.sha256()
    while block := handle.read(CHUNK):
        hasher.update(block)
    if hasher.hexdigest() != digest:
        raise StorageError(f"the content does not match its name {digest[:12]}…")
    handle.seek(0)
    return handle


class LocalStorage(Storage):
    """A directory: `<root>/<first two hex digits>/<digest>`, each file written to a temporary name then renamed, so a
    crash never leaves half a file under its final name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()

    def local_path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(self.local_path(digest).exists)

    def _put(self, digest: str, source: bytes | BinaryIO) -> None:
        path = self.local_path(digest)
        if path.exists():
            return
        handle = _checked(digest, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.part")
        with temporary.open("wb") as out:
            shutil.copyfileobj(handle, out, CHUNK)
        os.replace(temporary, path)

    async def put(self, digest: str, source: bytes | BinaryIO) -> None:
        await asyncio.to_thread(self._put, digest, source)

    async def get(self, digest: str) -> bytes:
        return await asyncio.to_thread(self.local_path(digest).read_bytes)

    async def chunks(self, digest: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.local_path(digest).open, "rb")
        try:
            while block := await asyncio.to_thread(handle.read, CHUNK):
                yield block
        finally:
            handle.close()

    async def digests(self) -> AsyncIterator[str]:
        paths = await asyncio.to_thread(lambda: sorted(self.root.glob("??/*")) if self.root.exists() else [])
        for path in paths:
            if DIGEST.fullmatch(path.name):  # not a file being written (.part)
                yield path.name


class S3Storage(Storage):
    """A bucket of an S3-compatible store, keys `<prefix>/<first two hex digits>/<digest>`, through aioboto3. The
    SHA-256 is sent with each object (ChecksumSHA256), so the store itself refuses a body that arrived altered."""

    def __init__(self, url: str, *, endpoint: str | None, region: str | None, access_key: str | None, secret_key: str | None) -> None:
        parts = urlsplit(url)
        self.url, self.bucket, self.prefix = url, parts.netloc, parts.path.strip("/")
        self.endpoint, self.region = endpoint, region or "us-east-1"
        import aioboto3  # imported only where files go to an object store: a local store never loads it

        self._session = aioboto3.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=self.region)
        self._config = BotoConfig(
            connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}
        )

    def key(self, digest: str) -> str:
        return "/".join(part for part in (self.prefix, digest[:2], digest) if part)

    def client(self) -> Any:
        return self._session.client("s3", endpoint_url=self.endpoint, config=self._config)

    async def _exists(self, s3: Any, digest: str) -> bool:
        try:
            await s3.head_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def exists(self, digest: str) -> bool:
        async with self.client() as s3:
            return await self._exists(s3, digest)

    async def put(self, digest: str, source: bytes | BinaryIO) -> None:
        # One client for the check and the write: making one costs about 10 ms (bench/storage_throughput.py).
        async with self.client() as s3:
            if await self._exists(s3, digest):
                return
            handle = await asyncio.to_thread(_checked, digest, source)
            checksum = base64.b64encode(bytes.fromhex(digest)).decode()
            await s3.put_object(Bucket=self.bucket, Key=self.key(digest), Body=handle, ChecksumSHA256=checksum)

    async def _object(self, s3: Any, digest: str) -> Any:
        try:
            return await s3.get_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(digest) from exc
            raise

    async def get(self, digest: str) -> bytes:
        async with self.client() as s3:
            body = (await self._object(s3, digest))["Body"]
            try:
                return bytes(await body.read())
            finally:
                body.close()

    async def chunks(self, digest: str) -> AsyncIterator[bytes]:
        async with self.client() as s3:
            body = (await self._object(s3, digest))["Body"]
            try:
                async for block in body.iter_chunks(CHUNK):
                    yield block
            finally:
                body.close()

    async def digests(self) -> AsyncIterator[str]:
        async with self.client() as s3:
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
                for item in page.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if DIGEST.fullmatch(name):
                        yield name


def store_unavailable(exc: BaseException) -> bool:
    """The object store did not answer (down, unreachable, overloaded): a 503 to retry, not a defect."""
    if isinstance(exc, BotoConnectionError | BotoReadTimeout):
        return True
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return code in ("500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout")


def open_storage(url: str, settings: Settings) -> Storage:
    """The store an address names: `file:///path` or `s3://bucket/prefix` (endpoint, region and keys from settings)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3" and parts.netloc:
        return S3Storage(
            url,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
        )
    raise StorageError(f"a storage address is file:///… or s3://bucket/prefix, not {url!r}")


@dataclass
class Migrated:
    copied: int = 0
    present: int = 0  # already in the target (an earlier, interrupted run copied them)
    bytes: int = 0
    damaged: list[str] | None = None  # in the source under a name their content does not have


async def migrate(source: Storage, target: Storage, *, report: Callable[[Migrated], None] | None = None) -> Migrated:
    """Copy every stored file from one store to the other (`coop storage migrate --to URL`). Resumable: what the target
    already holds is skipped (it was checked against its name when it was put there); each copy is checked against its
    name on both sides. A damaged source file is listed, not copied, and the others go on."""
    done = Migrated(damaged=[])
    async for digest in source.digests():
        if await target.exists(digest):
            done.present += 1
        else:
            content = await source.get(digest)
            try:
                await target.put(digest, content)
            except StorageError:
                assert done.damaged is not None
                done.damaged.append(digest)
                continue
            done.copied, done.bytes = done.copied + 1, done.bytes + len(content)
        if report is not None and (done.copied + done.present) % 100 == 0:
            report(done)
    return done


_stores: dict[tuple[Any, ...], Storage] = {}


def storage(settings: Settings) -> Storage:
    """The store of this configuration (one object per configuration: its client settings are made once)."""
    url = settings.storage_url or settings.files_dir.as_uri()
    key = (url, settings.s3_endpoint, settings.s3_region, settings.s3_access_key, settings.s3_secret_key)
    if key not in _stores:
        _stores[key] = open_storage(url, settings)
    return _stores[key]


async def served(
    settings: Settings, digest: str, *, media_type: str, headers: dict[str, str], filename: str | None = None, inline: bool = False
) -> Response[Any]:
    """A stored file as a response, after the caller's access check: the file itself from a local directory, streamed
    from an object store (checked there first, so a missing object is a 404, not a response cut short)."""
    store = storage(settings)
    disposition: Literal["inline", "attachment"] = "inline" if inline else "attachment"
    path = store.local_path(digest)
    if path is not None:
        if not path.exists():
            raise NotFoundError("document file")
        return File(path=path, filename=filename, media_type=media_type, content_disposition_type=disposition, headers=headers)
    if not await store.exists(digest):
        raise NotFoundError("document file")
    named = f"{disposition}; filename*=UTF-8''{quote(filename)}" if filename else disposition
    return Stream(store.chunks(digest), media_type=media_type, headers={**headers, "Content-Disposition": named})


def _size(handle: BinaryIO) -> int:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    return size


def _type_and_digest(handle: BinaryIO, filename: str) -> tuple[str, str]:
    """The sniffed type and the SHA-256 of a file's content, read in chunks."""
    head = handle.read(HEAD)
    handle.seek(0)
    mime = _sniffed(head, filename, lambda: _text_check(handle))
    hasher = hashlib.sha256()
    while block := handle.read(CHUNK):
        hasher.update(block)
    handle.seek(0)
    return mime, hasher.hexdigest()


async def add_attachment(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    owner_type: str,
    owner_id: uuid.UUID,
    filename: str,
    content: bytes | BinaryIO,
    title: str | None,
    language: str | None,
    audience: str | None = None,
    commit: bool = True,
) -> uuid.UUID:
    """Store a document for a record: its bytes, or a file holding them (an upload, read in chunks). `commit=False`
    leaves the transaction open for a caller adding more rows. `audience` as its uploader chose it (department only
    when they chose nothing; a partner's file is the department's and its own institution's)."""
    owner = await resolve_owner(session, principal, owner_type, owner_id)
    if not owner.may_add:
        raise ForbiddenError(i18n.gettext("You may not add documents to %(record)s.", record=owner.label))
    chosen = piece_audience(principal, audience)
    filename = nfc(Path(filename or "").name.strip())
    # An upload stays in its spooled file (on disk past a megabyte): measured, typed, hashed and stored in chunks.
    handle: BinaryIO = io.BytesIO(content) if isinstance(content, bytes) else content
    size = await asyncio.to_thread(_size, handle)
    errors: dict[str, str] = {}
    if not filename:
        errors["file"] = i18n.gettext("choose a file to upload")
    elif not size:
        errors["file"] = i18n.gettext("%(file)s is empty", file=filename)
    elif size > settings.upload_max_bytes:
        errors["file"] = too_large(filename, size, settings.upload_max_bytes)
    if language and len(language) > 12:
        errors["language"] = i18n.gettext("must be a language code such as vi, zh or en")
    if errors:
        raise ValidationFailed(errors)
    mime, digest = await asyncio.to_thread(_type_and_digest, handle, filename)
    await storage(settings).put(digest, handle)
    attachment = Attachment(
        owner_type=owner_type,
        owner_id=owner_id,
        title=nfc((title or "").strip()) or filename,
        language=(language or "").strip().lower() or None,
        filename=filename,
        content_type=mime,
        size_bytes=size,
        sha256=digest,
        institution_id=principal.institution_id if principal.is_partner else owner.institution_id,
        uploaded_by_id=principal.user_id,
        uploaded_by_name=principal.name,
        audience=chosen.value,
    )
    session.add(attachment)
    await session.flush()
    audit.record(
        session,
        principal,
        "upload",
        owner_type,
        owner_id,
        summary=f"Attached {filename} ({size} bytes, {mime})",
        changes={"attachment": [None, str(attachment.id)], "audience": [None, chosen.value]},
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
    _A.audience,
    _A.institution_id,
)


async def list_for(
    session: AsyncSession,
    owner_type: str,
    owner_id: uuid.UUID,
    *,
    archived: bool = False,
    principal: Principal | None = None,
    shared_only: bool = False,
) -> list[AttachmentOut]:
    """Callers have already checked that the owner record is visible; given a `principal`, only the documents whose
    audience includes them (without, every document: for the department's own checks); `shared_only`, only those
    the department shared with all the record's partners (what every party, and its instance, may be told of)."""
    statement = (
        select(*_COLUMNS)
        .where(_A.owner_type == owner_type, _A.owner_id == owner_id)
        .where(_A.archived_at.is_not(None) if archived else _A.archived_at.is_(None))
        .order_by(_A.uploaded_at)
    )
    if principal is not None:
        statement = statement.where(piece_visible(principal, _A.audience, _A.institution_id))
    if shared_only:
        home = select(table(Institution).c.id).where(table(Institution).c.is_home.is_(True)).scalar_subquery()
        statement = statement.where(_A.audience != Audience.DEPARTMENT.value, or_(_A.institution_id.is_(None), _A.institution_id == home))
    return [row_to(AttachmentOut, row) for row in await session.execute(statement)]


async def get_attachment(session: AsyncSession, principal: Principal, attachment_id: uuid.UUID) -> tuple[AttachmentOut, Owner]:
    """A document this person may read: its record visible to them and its audience including them (404 otherwise)."""
    row = (
        await session.execute(select(*_COLUMNS).where(_A.id == attachment_id, piece_visible(principal, _A.audience, _A.institution_id)))
    ).first()
    if row is None:
        raise NotFoundError("document")
    attachment = row_to(AttachmentOut, row)
    owner = await resolve_owner(session, principal, attachment.owner_type, attachment.owner_id)
    return attachment, owner


async def set_audience(session: AsyncSession, principal: Principal, attachment_id: uuid.UUID, audience: str, version: int) -> Owner:
    """Coordinators share a document (or photo) with the record's partners or take it back to the department; making
    one public is a publication (exchanges/photos.py), not this."""
    attachment, owner = await get_attachment(session, principal, attachment_id)
    require_manager(principal, N_("change who sees a document"))
    if audience not in (Audience.DEPARTMENT.value, Audience.PARTNERS.value):
        raise ValidationFailed({"audience": i18n.gettext("choose the department only or shared with the partners")})
    await update_versioned(session, Attachment, attachment_id, version, {"audience": audience}, what="document")
    audit.record(
        session,
        principal,
        "audience",
        attachment.owner_type,
        attachment.owner_id,
        summary=f"Document {attachment.filename} of {owner.label}: {attachment.audience} → {audience}",
        changes={"audience": [attachment.audience, audience]},
    )
    await session.commit()
    return owner


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


async def _read_upload(request: Request[Any, Any, Any]) -> tuple[str, BinaryIO, str | None, str | None, str | None]:
    """The uploaded file as Litestar spooled it while parsing (in memory up to a megabyte, then on disk), not read."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed({"file": i18n.gettext("choose a file to upload")})
    title, language, audience = (value if isinstance(value := form.get(key), str) else None for key in ("title", "language", "audience"))
    handle = cast(BinaryIO, upload.file)
    return upload.filename or "", handle, title, language, audience or None


@post("/attachments/{owner_type:str}/{owner_id:uuid}", name="attachment_upload")
async def upload_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
) -> Response[Any]:
    filename, content, title, language, audience = await _read_upload(request)
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
        audience=audience,
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
        {
            "file": "the document",
            "title": "its title (default: the file name)",
            "language": "its language code, e.g. vi, zh, fr",
            "audience": "department (the default for staff) or partners",
        },
    ),
)
async def upload_api(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    owner_type: FromPath[str],
    owner_id: FromPath[uuid.UUID],
) -> AttachmentOut:
    """Upload a document (multipart field `file`, optional `title`, `language` and `audience`) to a record."""
    filename, content, title, language, audience = await _read_upload(request)
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
        audience=audience,
    )
    attachment, _ = await get_attachment(db, principal, attachment_id)
    return attachment


async def _download(request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, attachment_id: uuid.UUID) -> Response[Any]:
    attachment, _owner = await get_attachment(db, principal, attachment_id)
    return await served(
        request.app.state.settings,
        attachment.sha256,
        filename=attachment.filename,
        media_type=attachment.content_type,
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"},
    )


@get("/attachments/{attachment_id:uuid}", name="attachment_download")
async def download_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    attachment_id: FromPath[uuid.UUID],
) -> Response[Any]:
    return await _download(request, db, principal, attachment_id)


@get("/api/v1/attachments/{attachment_id:uuid}/content", name="api_attachment_download", tags=["documents"])
async def download_api(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    attachment_id: FromPath[uuid.UUID],
) -> Response[Any]:
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


class AudienceIn(msgspec.Struct, forbid_unknown_fields=True):
    audience: Audience
    version: int


@post("/attachments/{attachment_id:uuid}/audience", name="attachment_audience")
async def audience_page(
    request: Request[Any, Any, Any],
    db: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    attachment_id: FromPath[uuid.UUID],
) -> Response[Any]:
    form = await form_dict(request)
    owner = await set_audience(db, principal, attachment_id, str(form.get("audience") or ""), form_version(form))
    return see_other(owner.url + "#documents")


@patch("/api/v1/attachments/{attachment_id:uuid}", name="api_attachment_audience", tags=["documents"])
async def audience_api(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], attachment_id: FromPath[uuid.UUID], data: JSONBody[AudienceIn]
) -> AttachmentOut:
    """Change who sees a document or photo (coordinators): `department` or `partners`, with its `version`."""
    await set_audience(db, principal, attachment_id, data.audience.value, data.version)
    attachment, _ = await get_attachment(db, principal, attachment_id)
    return attachment


routes = [upload_page, upload_api, download_page, download_api, archive_page, audience_page, audience_api]


async def unpublish(session: AsyncSession, attachment_id: uuid.UUID) -> None:
    """A photo taken off the portal goes back to its narrowest audience: the department's, or for a partner's own
    upload the department and that partner (who must keep seeing what they gave). The caller commits."""
    await session.execute(
        update(Attachment)
        .where(_A.id == attachment_id)
        .values(audience=case((_A.institution_id.is_(None), Audience.DEPARTMENT.value), else_=Audience.PARTNERS.value))
    )
