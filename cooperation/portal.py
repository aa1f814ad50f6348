"""The public cooperation portal (`COOP_PORTAL=on`, off by default): pages anyone may read without signing in.

Only records marked public ever appear: agreements in force whose confidentiality is *public*, completed visits
marked public (with their news-style summary and captioned photos), digitization projects marked public with their
progress, and the partner institutions those records name — on a world map drawn here, from the shapes pygal's map
package ships (no tiles from the internet). Every domain says what it publishes through `register_section`; each
section selects its public records itself, so nothing else (not even a name on a non-public record) can reach a
portal page.

The portal is read by the library's website and its visitors, often many at once: what a page shows is kept for a
minute per language (rendering stays per request, with its own nonce), and answers say `Cache-Control: public`.
"""

import asyncio
import functools
import gzip
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import charts, i18n
from cooperation.audit import AuditEvent
from cooperation.auth.middleware import PUBLIC_OPT
from cooperation.db import table
from cooperation.errors import NotFoundError
from cooperation.partners.models import Institution
from cooperation.web import conditional, public_base, query_int, render

CACHE_SECONDS = 60
PAGE_SIZE = 20
HOME_ITEMS = 4
I = table(Institution).c  # noqa: E741

Listing = Callable[[AsyncSession, str, int, int], Awaitable[list[dict[str, Any]]]]  # (session, language, limit, offset)
Detail = Callable[[AsyncSession, str, uuid.UUID], Awaitable[dict[str, Any] | None]]  # None: not public (404)


@dataclass(frozen=True)
class FeedEntry:
    id: uuid.UUID
    title: str
    summary: str
    url: str  # the portal page, from the site root
    updated: datetime
    published: datetime


@dataclass(frozen=True)
class Section:
    """What a domain publishes. `institutions` selects the ids of the institutions its public records name."""

    name: str  # the URL segment: /portal/<name>
    label: str  # marked N_
    order: int
    listing: Listing
    institutions: Callable[[], Select[Any]]
    template: str  # the rows of the listing (an include receiving `items`)
    detail: Detail | None = None
    detail_template: str | None = None
    feed: Callable[[AsyncSession, str, int], Awaitable[list[FeedEntry]]] | None = None


_sections: dict[str, Section] = {}


def register_section(section: Section) -> None:
    _sections[section.name] = section


def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda s: s.order)


async def _last_change(session: AsyncSession) -> Any:
    """The latest change anywhere (every write is audited in its transaction; one indexed read): part of every kept
    page's key, so a photo unpublished or a record taken back is gone from the portal at the next request, on every
    server, not a minute later."""
    return await session.scalar(select(func.max(table(AuditEvent).c.occurred_at)))


class Kept:
    """What a portal page shows, per language and state of the records (_last_change), for CACHE_SECONDS at most
    (process-local: every server keeps its own)."""

    def __init__(self) -> None:
        self._values: dict[tuple[Any, ...], tuple[float, Any]] = {}

    async def get(self, key: tuple[Any, ...], make: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        kept = self._values.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        value = await make()
        if len(self._values) > 2_000:  # bounded: page numbers are many, memory is not
            self._values = {k: v for k, v in self._values.items() if v[0] > now}
        self._values[key] = (now + CACHE_SECONDS, value)
        return value

    def clear(self) -> None:
        self._values.clear()


def _enabled(request: Request[Any, Any, Any]) -> Kept:
    """The portal's cache of this application (each app its own: a test's database is not another's), or 404 when the
    portal is off."""
    if not request.app.state.settings.portal:
        raise NotFoundError("portal")
    state = request.app.state
    if getattr(state, "portal_cache", None) is None:
        state.portal_cache = Kept()
    return state.portal_cache


def _public(response: Response[Any]) -> Response[Any]:
    response.headers["Cache-Control"] = "public, no-cache"  # a browser or proxy asks again: unpublished means gone
    return response


async def _partners(session: AsyncSession) -> list[dict[str, Any]]:
    """The institutions public records name (not the home institution), by country then name."""
    if not _sections:
        return []
    named = or_(*(I.id.in_(s.institutions()) for s in sections()))  # no UNION of UNIONs: SQLite refuses them
    rows = await session.execute(
        select(I.id, I.code, I.name, I.name_native, I.country, I.city, I.website)
        .where(named, I.is_home.is_(False), I.archived_at.is_(None))
        .order_by(I.country, I.name)
    )
    return [dict(r._mapping) for r in rows]


async def _home_name(session: AsyncSession) -> dict[str, Any]:
    row = (await session.execute(select(I.name, I.name_native, I.country).where(I.is_home.is_(True)))).first()
    return dict(row._mapping) if row else {"name": "LibCoop", "name_native": None, "country": None}


@get("/portal", opt={PUBLIC_OPT: True}, name="portal_home", include_in_schema=False)
async def home(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    kept = _enabled(request)
    language = i18n.current()

    async def make() -> dict[str, Any]:
        listed = {s.name: await s.listing(db, language, HOME_ITEMS, 0) for s in sections()}
        return {"listed": listed, "partners": await _partners(db), "home": await _home_name(db)}

    values = await kept.get((await _last_change(db), "home", language), make)
    return _public(render(request, "portal/home.html", sections=sections(), **values))


@get("/portal/partners", opt={PUBLIC_OPT: True}, name="portal_partners", include_in_schema=False)
async def partners(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    kept = _enabled(request)
    language = i18n.current()

    async def make() -> dict[str, Any]:
        return {"partners": await _partners(db), "home": await _home_name(db)}

    values = await kept.get((await _last_change(db), "partners", language), make)
    return _public(render(request, "portal/partners.html", sections=sections(), **values))


@functools.lru_cache(maxsize=32)
def world_map(countries: tuple[str, ...], title: str) -> bytes:
    """The partners' countries on a world map (pygal's country shapes, drawn here: nothing fetched from elsewhere),
    compressed. It depends on nothing else, so it is drawn once per set of countries and language (80 ms)."""
    charts.pygal_module()
    from pygal_maps_world.maps import World  # pygal.maps.world is this, through an import hook Python 3.12 drops

    chart = World(**charts.options(width=800, height=420, title=title, show_legend=False, print_values=False))
    chart.add(title, dict.fromkeys((c.lower() for c in countries), 1))
    return gzip.compress(chart.render(is_unicode=True).encode(), 6)


@get("/portal/map.svg", opt={PUBLIC_OPT: True}, name="portal_map", include_in_schema=False)
async def partner_map(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    """An image (the page says the countries in its text too): 800 KB of shapes, 270 KB compressed."""
    kept = _enabled(request)
    language = i18n.current()

    async def make() -> bytes:
        countries = tuple(sorted({p["country"] for p in await _partners(db) if p["country"]}))
        return await asyncio.to_thread(world_map, countries, i18n.gettext("Partner countries"))

    compressed = await kept.get((await _last_change(db), "map", language), make)
    if "gzip" in request.headers.get("accept-encoding", ""):
        response = Response(compressed, media_type="image/svg+xml", headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    else:
        response = Response(gzip.decompress(compressed), media_type="image/svg+xml", headers={"Vary": "Accept-Encoding"})
    return _public(response)


@get("/portal/feed.atom", opt={PUBLIC_OPT: True}, name="portal_feed", include_in_schema=False)
async def feed(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession]) -> Response[Any]:
    """An Atom feed (RFC 4287) of the public visits, newest first, for the library's website."""
    kept = _enabled(request)
    language = i18n.current()

    async def make() -> bytes:
        entries = [e for s in sections() if s.feed for e in await s.feed(db, language, 30)]
        entries.sort(key=lambda e: e.published, reverse=True)
        return atom(base, (await _home_name(db))["name"], language, entries)

    base = public_base(request)  # COOP_BASE_URL in production, where no other host is even answered
    changed = await _last_change(db)
    body = await kept.get((changed, "feed", language, base), make)
    return _public(conditional(request, body, "application/atom+xml; charset=utf-8", {}, changed))


def atom(base: str, library: str, language: str, entries: list[FeedEntry]) -> bytes:
    namespace = "http://www.w3.org/2005/Atom"
    ElementTree.register_namespace("", namespace)

    def child(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, f"{{{namespace}}}{tag}", attributes)
        element.text = text
        return element

    root = ElementTree.Element(f"{{{namespace}}}feed", {"xml:lang": language.replace("_", "-")})
    child(root, "id", f"{base}/portal/feed.atom")
    child(root, "title", i18n.gettext("%(library)s: international cooperation", library=library))
    child(root, "link", href=f"{base}/portal/feed.atom", rel="self", type="application/atom+xml")
    child(root, "link", href=f"{base}/portal", rel="alternate", type="text/html")
    newest = max((e.updated for e in entries), default=datetime(2000, 1, 1, tzinfo=UTC))
    child(root, "updated", newest.isoformat())
    child(child(root, "author"), "name", library)
    for e in entries:
        entry = child(root, "entry")
        child(entry, "id", f"urn:uuid:{e.id}")  # stable whatever the site's address becomes
        child(entry, "title", e.title)
        child(entry, "link", href=f"{base}{e.url}", rel="alternate", type="text/html")
        child(entry, "published", e.published.isoformat())
        child(entry, "updated", e.updated.isoformat())
        child(entry, "summary", e.summary)
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


@get("/portal/{section:str}", opt={PUBLIC_OPT: True}, name="portal_section", include_in_schema=False)
async def section_page(request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], section: FromPath[str]) -> Response[Any]:
    kept = _enabled(request)
    chosen = _sections.get(section)
    if chosen is None:
        raise NotFoundError("portal section")
    language, page = i18n.current(), min(max(query_int(request, "page", 1), 1), 500)

    async def make() -> list[dict[str, Any]]:
        return await chosen.listing(db, language, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)  # one more: is there a next page?

    items = await kept.get((await _last_change(db), section, language, page), make)
    return _public(
        render(
            request,
            "portal/section.html",
            sections=sections(),
            section=chosen,
            items=items[:PAGE_SIZE],
            page=page,
            more=len(items) > PAGE_SIZE,
            home=await kept.get(
                (
                    await _last_change(db),
                    "home-name",
                ),
                lambda: _home_name(db),
            ),
        )
    )


@get("/portal/{section:str}/{record_id:uuid}", opt={PUBLIC_OPT: True}, name="portal_record", include_in_schema=False)
async def record_page(
    request: Request[Any, Any, Any], db: NamedDependency[AsyncSession], section: FromPath[str], record_id: FromPath[uuid.UUID]
) -> Template:
    kept = _enabled(request)
    chosen = _sections.get(section)
    if chosen is None or chosen.detail is None or chosen.detail_template is None:
        raise NotFoundError("portal page")
    detail, language = chosen.detail, i18n.current()
    record = await kept.get((await _last_change(db), section, language, record_id), lambda: detail(db, language, record_id))
    if record is None:
        raise NotFoundError(section)
    response = render(
        request,
        chosen.detail_template,
        sections=sections(),
        section=chosen,
        record=record,
        home=await kept.get(
            (
                await _last_change(db),
                "home-name",
            ),
            lambda: _home_name(db),
        ),
    )
    return _public(response)  # type: ignore[return-value]


routes = [home, partners, partner_map, feed, section_page, record_page]
