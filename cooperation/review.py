"""Waiting for publication: nothing reaches the public portal without a coordinator publishing it. Each domain says
what of its records waits (a public visit's photos and summary, a public project's progress) and how a decision
is recorded; this page lists them together, to publish or keep internal one at a time or several at once. A decision
is audited like any change, so the portal's kept pages give way to it at the next request (portal._last_change)."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import audit, i18n
from cooperation.auth.access import Principal, require_manager
from cooperation.errors import NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.web import form_dict, render, safe_next, see_other


@dataclass(frozen=True)
class Waiting:
    """One piece waiting for a decision, as the list shows it."""

    id: uuid.UUID
    record: str  # the record it belongs to, as its page names it
    url: str
    text: str  # a caption, a summary's first lines, a progress figure
    thumbnail: str | None = None
    blocked: str | None = None  # why it cannot be published yet (a photo without its caption)


@dataclass(frozen=True)
class Source:
    kind: str  # photo, summary, progress: the form's field name
    label: str  # N_ marked
    waiting: Callable[[AsyncSession], Awaitable[list[Waiting]]]
    decide: Callable[[AsyncSession, Principal, list[uuid.UUID], bool], Awaitable[int]]


_sources: dict[str, Source] = {}


def register_source(source: Source) -> None:
    _sources[source.kind] = source


async def decide(session: AsyncSession, principal: Principal, kind: str, ids: list[uuid.UUID], publish: bool) -> int:
    require_manager(principal, N_("publish on the portal"))
    source = _sources.get(kind)
    if source is None:
        raise NotFoundError("publication")
    if not ids:
        raise ValidationFailed({kind: i18n.gettext("choose at least one")})
    return await source.decide(session, principal, ids, publish)


@get("/publication", name="publication_waiting")
async def waiting_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
) -> Template:
    require_manager(principal, N_("publish on the portal"))
    groups = [(source, await source.waiting(db)) for source in sorted(_sources.values(), key=lambda s: s.kind)]
    return render(request, "review/waiting.html", groups=groups, total=sum(len(items) for _, items in groups))


@post("/publication/{kind:str}", name="publication_decide")
async def decide_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], kind: FromPath[str]
) -> Response[Any]:
    form = await form_dict(request)
    raw = form.get(kind) or []
    try:
        ids = [uuid.UUID(str(value)) for value in (raw if isinstance(raw, list) else [raw])]
    except ValueError:
        raise ValidationFailed({kind: i18n.gettext("is not one of the pieces listed")}) from None
    decision = str(form.get("decision") or "")
    if decision not in ("publish", "keep"):
        raise ValidationFailed({"decision": i18n.gettext("choose publish or keep internal")})
    await decide(db, principal, kind, ids, decision == "publish")
    return see_other(safe_next(str(form.get("back") or "")) if form.get("back") else "/publication")


routes = [waiting_page, decide_page]


async def record_decision(
    session: AsyncSession,
    principal: Principal,
    column: Any,
    rows: Sequence[Any],
    publish: bool,
    *,
    entity_type: str,
    what: str,
) -> int:
    """Write a publication decision on records already found (all or none: the caller refused what may not be
    published), audited per record ("Summary published on the portal"), and commit. Returns how many."""
    state = "published" if publish else "kept"
    await session.execute(update(column.table).where(column.table.c.id.in_([r.id for r in rows])).values({column.name: state}))
    for row in rows:
        audit.record(
            session, principal, "publish" if publish else "keep_internal", entity_type, row.id, summary=f"{what} {state} on the portal"
        )
    await session.commit()
    return len(rows)
