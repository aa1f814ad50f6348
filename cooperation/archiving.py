"""Archive and restore routes, page and API, for a kind of record: nothing is ever deleted.

Each domain gives its own rule as `setter(session, principal, record_id, archived=..., version=...)`
(who may, what the record is called in the audit); the four routes around it are the same everywhere.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation.auth.access import Principal
from cooperation.records import VersionIn
from cooperation.web import form_dict, form_version, see_other

Setter = Callable[..., Awaitable[int]]


class ArchivedOut(msgspec.Struct):
    archived: bool
    version: int


def archive_routes(kind: str, prefix: str, setter: Setter, *, tag: str) -> list[Any]:
    """`/{prefix}/{id}/archive|restore` for the pages (back to the record) and under `/api/v1` (the new version)."""

    def page(archived: bool) -> Any:
        async def handler(
            request: Request[Any, Any, Any],
            db: NamedDependency[AsyncSession],
            principal: NamedDependency[Principal],
            record_id: FromPath[uuid.UUID],
        ) -> Response[Any]:
            await setter(db, principal, record_id, archived=archived, version=form_version(await form_dict(request)))
            return see_other(f"{prefix}/{record_id}")

        action = "archive" if archived else "restore"
        return post(f"{prefix}/{{record_id:uuid}}/{action}", name=f"{kind}_{action}", include_in_schema=False)(handler)

    def api(archived: bool) -> Any:
        async def handler(
            db: NamedDependency[AsyncSession],
            principal: NamedDependency[Principal],
            record_id: FromPath[uuid.UUID],
            data: JSONBody[VersionIn],
        ) -> ArchivedOut:
            version = await setter(db, principal, record_id, archived=archived, version=data.version)
            return ArchivedOut(archived=archived, version=version)

        action = "archive" if archived else "restore"
        handler.__doc__ = f"{action.capitalize()} the {kind.replace('_', ' ')} (`version` as last read; nothing is deleted)."
        return post(f"/api/v1{prefix}/{{record_id:uuid}}/{action}", name=f"api_{kind}_{action}", tags=[tag], status_code=200)(handler)

    return [page(True), page(False), api(True), api(False)]
