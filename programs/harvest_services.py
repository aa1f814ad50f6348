"""Partners' digitization progress, harvested from their IIIF Change Discovery endpoints.

A participant names its endpoint: an IIIF Change Discovery API 1.0 collection (an Activity Streams OrderedCollection
whose pages list Create, Update, Delete… activities on IIIF manifests, oldest first). A harvest walks it as the
specification tells consumers to — from the `last` page backwards along `prev`, newest activity first, down to what
the last finished walk knew — and keeps which manifests exist: a manifest's newest activity decides (a Create or an
Update makes it present, a Delete or the origin of a Move absent), so an older one met later, or an activity read
twice, changes nothing. Where asked, it fetches each new or updated manifest to count its canvases as images. When the
walk is finished it records a progress report with source "harvest", through the same checks as any report (a figure
that goes down carries a note saying why); a stream that could not be read records nothing.

Harvests are bounded (pages, bytes and seconds per run — the seconds while an answer is read too — and a size limit
per answer), resumable (the page and the place in it are kept after each page, so the next run goes on from there),
visible on the project's page (last run, counts, error), and go through cooperation/outbound.py, which refuses
private, loopback and link-local addresses unless COOP_OUTBOUND_ALLOW names their network.
"""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cooperation import audit, i18n, outbound
from cooperation.auth.access import Principal, harvester, may_change_part_of, require_manager
from cooperation.db import table, utcnow
from cooperation.errors import ConflictError, NotFoundError, ValidationFailed
from cooperation.i18n import N_
from cooperation.partners.models import Institution
from cooperation.settings import Settings
from programs import project_services
from programs.models import DigitizationProject, HarvestedManifest, HarvestSource, ProgressReport, ProjectParticipant
from programs.project_schemas import ProgressIn

HS, HM, PP, R, I, DP = (  # noqa: E741
    table(m).c for m in (HarvestSource, HarvestedManifest, ProjectParticipant, ProgressReport, Institution, DigitizationProject)
)
log = structlog.get_logger("harvest")


@dataclass(frozen=True)
class Budget:
    """How much one harvest may read before it stops, to resume at the next run."""

    pages: int = 50
    bytes: int = 50 * 1024 * 1024
    seconds: float = 120.0
    answer_bytes: int = 5 * 1024 * 1024  # one page or one manifest
    timeout: float = 15.0


DEFAULT_BUDGET = Budget()
ASKED_BUDGET = Budget(pages=20, seconds=30.0)  # a harvest someone waits for on the page
CLAIM_FOR = timedelta(minutes=10)  # a harvest that died keeps its source for this long, then another may take it
PRESENT = {"Create", "Update", "Add", "Refresh"}
ABSENT = {"Delete", "Remove"}
MANIFEST_TYPES = {"Manifest", "sc:Manifest"}


class HarvestError(Exception):
    """Why a harvest stopped early: shown on the project's page as its last error."""


# ---- the participant names its endpoint ----------------------------------------------------------------------


def _clean_endpoint(endpoint: str) -> str:
    endpoint = endpoint.strip()
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(endpoint) > 500:
        raise ValidationFailed({"endpoint": i18n.gettext("give the address of an IIIF Change Discovery collection (https://…)")})
    return endpoint


async def _participant(session: AsyncSession, principal: Principal, project_id: uuid.UUID, institution_id: uuid.UUID) -> None:
    """The project is visible (404 otherwise), the institution takes part in it, and this person may act for it."""
    await project_services.ensure_visible(session, principal, project_id)
    taking_part = await session.scalar(select(PP.id).where(PP.project_id == project_id, PP.institution_id == institution_id))
    if taking_part is None:
        raise ValidationFailed({"institution_id": i18n.gettext("this institution does not take part in the project")})
    if not (principal.manages_records or may_change_part_of(principal, institution_id)):
        require_manager(principal, N_("name a participant's harvest endpoint"))


async def set_source(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    institution_id: uuid.UUID,
    endpoint: str,
    *,
    manifests_as: str,
    count_canvases: bool,
) -> uuid.UUID:
    """Name (or change) the participant's endpoint; a new address starts from the beginning of its collection."""
    await _participant(session, principal, project_id, institution_id)
    endpoint = _clean_endpoint(endpoint)
    if manifests_as not in ("titles", "volumes"):
        raise ValidationFailed({"manifests_as": i18n.gettext("a manifest counts as titles or as volumes")})
    source = (
        (await session.execute(select(HarvestSource).where(HS.project_id == project_id, HS.institution_id == institution_id)))
        .scalars()
        .first()
    )
    if source is None:
        source = HarvestSource(project_id=project_id, institution_id=institution_id, endpoint=endpoint, created_by=principal.name)
        session.add(source)
        await session.flush()
    elif source.endpoint != endpoint or source.removed_at is not None:  # start again: what was read no longer counts
        await session.execute(delete(HarvestedManifest).where(HM.source_id == source.id))
        source.endpoint, source.resume_page, source.resume_index, source.walk_newest = endpoint, None, 0, None
        source.manifests, source.canvases, source.newest_activity, source.last_status = 0, 0, None, None
        source.removed_at = None
    source.manifests_as, source.count_canvases = manifests_as, count_canvases
    audit.record(session, principal, "harvest_source", "project", project_id, summary=f"Harvest endpoint: {endpoint}")
    await session.commit()
    return source.id


async def remove_source(session: AsyncSession, principal: Principal, project_id: uuid.UUID, source_id: uuid.UUID) -> None:
    """Harvest it no more (the reports it recorded stay, as any report). Naming an endpoint again brings it back."""
    source = await _source(session, principal, project_id, source_id)
    if source.removed_at is None:
        source.removed_at = utcnow()
        summary = f"Harvest endpoint removed: {source.endpoint}"
        audit.record(session, principal, "harvest_source_removed", "project", project_id, summary=summary)
    await session.commit()


async def _source(session: AsyncSession, principal: Principal, project_id: uuid.UUID, source_id: uuid.UUID) -> HarvestSource:
    await project_services.ensure_visible(session, principal, project_id)
    source = await session.get(HarvestSource, source_id)
    if source is None or source.project_id != project_id:
        raise NotFoundError("record")
    await _participant(session, principal, project_id, source.institution_id)
    return source


@dataclass
class SourceLine:
    """A source as the project's page shows it."""

    id: uuid.UUID
    institution_id: uuid.UUID
    code: str
    endpoint: str
    manifests_as: str
    count_canvases: bool
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_pages: int
    last_activities: int
    manifests: int
    canvases: int
    may_change: bool = False


async def sources_of(session: AsyncSession, principal: Principal, project_id: uuid.UUID) -> list[SourceLine]:
    """The project's harvested endpoints (the project is already known visible to `principal`)."""
    rows = await session.execute(
        select(
            HS.id,
            HS.institution_id,
            I.code,
            HS.endpoint,
            HS.manifests_as,
            HS.count_canvases,
            HS.last_run_at,
            HS.last_status,
            HS.last_error,
            HS.last_pages,
            HS.last_activities,
            HS.manifests,
            HS.canvases,
        )
        .join(table(Institution), I.id == HS.institution_id)
        .where(HS.project_id == project_id, HS.removed_at.is_(None))
        .order_by(I.code)
    )
    lines = [SourceLine(*r) for r in rows]  # type: ignore[call-arg]  # the columns, in the fields' order
    for line in lines:
        line.may_change = principal.manages_records or may_change_part_of(principal, line.institution_id)
    return lines


# ---- reading the collection ------------------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    """An Activity Streams reference: a string, or an object with `id` (IIIF 3) or `@id` (older documents)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id") or value.get("@id")
        return found if isinstance(found, str) else None
    return None


def _type(value: Any) -> str:
    found = value.get("type") or value.get("@type") if isinstance(value, dict) else None
    return found if isinstance(found, str) else ""


def canvases_in(manifest: Any) -> int:
    """The canvases (images) of a IIIF manifest: `items` in Presentation 3, `sequences[0].canvases` in 2."""
    if not isinstance(manifest, dict):
        return 0
    items = manifest.get("items")
    if isinstance(items, list):
        return sum(1 for item in items if _type(item) == "Canvas")
    sequences = manifest.get("sequences")
    if isinstance(sequences, list) and sequences and isinstance(sequences[0], dict):
        canvases = sequences[0].get("canvases")
        return len(canvases) if isinstance(canvases, list) else 0
    return 0


@dataclass
class Reader:
    """The outbound side of one harvest: every address checked, every answer bounded, the run's budget counted — its
    time too while an answer is being read (cooperation/outbound.py: one deadline for the whole exchange)."""

    budget: Budget
    client: outbound.Client
    started: float = field(default_factory=time.monotonic)
    pages: int = 0
    bytes: int = 0
    unreadable: int = 0  # manifests that could not be read for their canvases

    def exhausted(self, *, within_page: bool = False) -> str | None:
        """Why the run stops here, if it does; in the middle of a page only bytes and time count (a page read is read)."""
        if self.pages >= self.budget.pages and not within_page:
            return i18n.gettext("stopped after %(n)s pages; the next harvest goes on from there", n=self.pages)
        if self.bytes >= self.budget.bytes:
            return i18n.gettext("stopped after %(n)s bytes; the next harvest goes on from there", n=f"{self.bytes:,}")
        if self.remaining() <= 0:
            return i18n.gettext("stopped after %(n)s seconds; the next harvest goes on from there", n=int(self.budget.seconds))
        return None

    def remaining(self) -> float:
        return self.budget.seconds - (time.monotonic() - self.started)

    async def json(self, url: str) -> Any:
        """One JSON document, read up to the size limit for one answer, within what is left of the run's time."""
        try:
            answer = await self.client.request(
                "GET",
                url,
                headers={"Accept": "application/ld+json, application/json"},
                deadline=min(self.budget.timeout, self.remaining()),
                max_bytes=self.budget.answer_bytes,
            )
        except outbound.OutboundError as exc:
            raise HarvestError(i18n.gettext("%(url)s cannot be read: %(error)s", url=url[:200], error=str(exc))) from exc
        if answer.status != 200:
            raise HarvestError(i18n.gettext("%(url)s answered %(status)s", url=url[:200], status=answer.status))
        self.bytes += len(answer.body)
        try:
            return json.loads(answer.body)
        except ValueError as exc:
            raise HarvestError(i18n.gettext("%(url)s is not JSON", url=url[:200])) from exc


@dataclass
class Outcome:
    """What one harvest did."""

    status: str  # complete / partial / failed / busy
    pages: int = 0
    activities: int = 0
    manifests: int = 0
    canvases: int = 0
    error: str | None = None
    reported: bool = False


async def _claim(factory: async_sessionmaker[AsyncSession], source_id: uuid.UUID) -> bool:
    """One harvest of a source at a time (two schedulers, a click during the nightly run): the row is claimed."""
    async with factory() as session:
        now = utcnow()
        claimed = await session.execute(
            update(HarvestSource)
            .where(HS.id == source_id, (HS.running_since.is_(None)) | (HS.running_since < now - CLAIM_FOR))
            .values(running_since=now)
        )
        await session.commit()
        return claimed.rowcount == 1  # type: ignore[attr-defined]


async def harvest(
    factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    source_id: uuid.UUID,
    *,
    today: date,
    budget: Budget = DEFAULT_BUDGET,
) -> Outcome:
    """Read the source's new activities, within the budget; record progress when the newest page was reached."""
    if not await _claim(factory, source_id):
        return Outcome(status="busy")
    outcome = Outcome(status="failed")
    client = outbound.Client(settings, deadline=budget.timeout, max_bytes=budget.answer_bytes)
    reader = Reader(budget, client)
    try:
        async with factory() as session:
            source = await session.get(HarvestSource, source_id)
            if source is None:  # removed since it was listed
                return Outcome(status="failed", error="removed")
            try:
                reached_end = await _walk(session, source, reader, outcome)
                outcome.status = "complete" if reached_end else "partial"
            except HarvestError as exc:
                await session.rollback()
                outcome.error = str(exc)[:1000]
            source = await session.get(HarvestSource, source_id)
            assert source is not None
            totals = (
                await session.execute(
                    select(func.count(), func.coalesce(func.sum(HM.canvases), 0)).where(HM.source_id == source_id, HM.present.is_(True))
                )
            ).one()
            outcome.manifests, outcome.canvases = int(totals[0]), int(totals[1])
            outcome.pages = reader.pages
            if outcome.status == "partial":
                outcome.error = reader.exhausted()
            if reader.unreadable:
                unread = i18n.ngettext(
                    "%(num)d manifest could not be read: its images are not counted",
                    "%(num)d manifests could not be read: their images are not counted",
                    reader.unreadable,
                )
                outcome.error = f"{outcome.error}; {unread}" if outcome.error else unread
            if outcome.status == "complete":
                outcome.reported = await _report(session, source, outcome, today)
            source.last_run_at, source.last_status, source.last_error = utcnow(), outcome.status, outcome.error
            source.last_pages, source.last_activities, source.last_bytes = reader.pages, outcome.activities, reader.bytes
            source.manifests, source.canvases, source.running_since = outcome.manifests, outcome.canvases, None
            await session.commit()
    finally:
        await client.aclose()
        async with factory() as session:  # the claim goes whatever happened
            await session.execute(update(HarvestSource).where(HS.id == source_id).values(running_since=None))
            await session.commit()
    return outcome


async def _walk(session: AsyncSession, source: HarvestSource, reader: Reader, outcome: Outcome) -> bool:
    """Read the stream as IIIF Change Discovery 1.0 tells consumers to: from the collection's `last` page backwards
    along `prev`, each page's activities newest first, until an activity the last finished walk already knew (its
    newest) or the stream's beginning. An object's newest activity decides its state, so an older one met later in
    the walk changes nothing. Each page's work is committed as it is read; a walk stopped by its budget goes on from
    there next time. True when the walk is finished (the figures then stand for the whole stream)."""
    horizon = source.newest_activity
    page_url, done, top = source.resume_page, source.resume_index, source.walk_newest
    if page_url is None:
        collection = await reader.json(source.endpoint)
        if not isinstance(collection, dict) or _type(collection) != "OrderedCollection":
            raise HarvestError(i18n.gettext("%(url)s is not an Activity Streams OrderedCollection", url=source.endpoint[:200]))
        page_url, done, top = _id(collection.get("last")), 0, None
        if page_url is None:  # the specification requires `last`: without it, nothing can be read, and nothing recorded
            if collection.get("totalItems") in (0, None) and collection.get("first") is None:
                return True  # an empty stream
            raise HarvestError(i18n.gettext("%(url)s names no last page (IIIF Change Discovery requires one)", url=source.endpoint[:200]))
    while True:
        if reader.exhausted():
            return False
        page = await reader.json(page_url)
        reader.pages += 1
        items = page.get("orderedItems") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise HarvestError(i18n.gettext("%(url)s is not an OrderedCollectionPage", url=page_url[:200]))
        known = False
        for activity in list(reversed(items))[done:]:
            if reader.exhausted(within_page=True):  # fetching manifests may take the budget in the middle of a page
                break
            when = _when(activity)
            if horizon is not None and when is not None and when <= horizon:
                known = True  # from here on, the last finished walk read it all
                break
            top = max(top, when) if top and when else top or when
            await _apply(session, source, reader, activity)
            outcome.activities += 1
            done += 1
        previous = _id(page.get("prev"))
        finished = known or (done >= len(items) and previous is None)
        if finished:
            source.newest_activity = top or horizon
            source.resume_page, source.resume_index, source.walk_newest = None, 0, None
        elif done >= len(items):
            source.resume_page, source.resume_index, source.walk_newest = previous, 0, top
        else:
            source.resume_page, source.resume_index, source.walk_newest = page_url, done, top
        await session.commit()
        if finished:
            return True
        if done < len(items):
            return False
        assert previous is not None
        page_url, done = previous, 0


def _when(activity: Any) -> str | None:
    when = activity.get("endTime") if isinstance(activity, dict) else None
    return when[:40] if isinstance(when, str) else None


async def _apply(session: AsyncSession, source: HarvestSource, reader: Reader, activity: Any) -> None:
    """One activity's effect on the manifests known, unless a newer activity already decided the manifest's state (the
    walk goes from the newest backwards); the same activity twice changes nothing."""
    if not isinstance(activity, dict):
        return
    kind, target = _type(activity), activity.get("object")
    url, when = _id(target), _when(activity)
    if url is None or (_type(target) and _type(target) not in MANIFEST_TYPES):
        return  # a collection or another kind of resource: not a manifest
    if not await _newer(session, source.id, url, when):
        return
    if kind == "Move":
        await _mark(session, source.id, url, present=False, when=when)
        moved_to = _id(activity.get("target"))
        if moved_to and await _newer(session, source.id, moved_to, when):
            await _mark(session, source.id, moved_to, present=True, when=when, canvases=await _canvases(source, reader, moved_to))
    elif kind in ABSENT:
        await _mark(session, source.id, url, present=False, when=when)
    elif kind in PRESENT:
        await _mark(session, source.id, url, present=True, when=when, canvases=await _canvases(source, reader, url))


async def _newer(session: AsyncSession, source_id: uuid.UUID, url: str, when: str | None) -> bool:
    """Whether an activity of `when` may still decide this manifest's state: nothing newer has decided it."""
    decided = await session.scalar(select(HM.changed_at).where(HM.source_id == source_id, HM.url == url[:1000]))
    return decided is None or when is None or when > decided


async def _canvases(source: HarvestSource, reader: Reader, url: str) -> int | None:
    """The manifest's canvases, when they are counted; a manifest that cannot be read (gone since, too large, at a
    refused address) is still counted as present, its images not: one broken manifest does not stop the stream."""
    if not source.count_canvases:
        return None
    try:
        return canvases_in(await reader.json(url))
    except HarvestError:
        reader.unreadable += 1
        return None


async def _mark(
    session: AsyncSession, source_id: uuid.UUID, url: str, *, present: bool, when: str | None, canvases: int | None = None
) -> None:
    url = url[:1000]
    known = await session.scalar(select(HM.id).where(HM.source_id == source_id, HM.url == url))
    values: dict[str, Any] = {"present": present, "changed_at": when[:40] if when else None}
    if canvases is not None:
        values["canvases"] = canvases
    if known is None:  # an absent one is kept too: an older Create met later in the walk must not bring it back
        session.add(HarvestedManifest(source_id=source_id, url=url, **values))
        await session.flush()
    else:
        await session.execute(update(HarvestedManifest).where(HM.id == known).values(**values))


async def _report(session: AsyncSession, source: HarvestSource, outcome: Outcome, today: date) -> bool:
    """A progress report with source "harvest" when the figures differ from the participant's latest report; a lower
    figure says why (manifests withdrawn at the source), as any report must."""
    unit = source.manifests_as
    figures: dict[str, int] = {unit: outcome.manifests}
    if source.count_canvases:
        figures["images"] = outcome.canvases
    latest = (
        await session.execute(
            select(R.as_of, R.titles, R.volumes, R.images, R.source)
            .where(R.project_id == source.project_id, R.institution_id == source.institution_id)
            .order_by(R.as_of.desc())
            .limit(1)
        )
    ).first()
    if latest is not None and all(getattr(latest, u) == v for u, v in figures.items()):
        return False  # nothing new since
    notes = []
    if latest is not None and latest.as_of == today:
        notes.append(i18n.gettext("harvested again the same day"))
    fallen = [u for u, v in figures.items() if latest is not None and getattr(latest, u) is not None and v < getattr(latest, u)]
    if fallen:
        notes.append(
            i18n.gettext(
                "manifests withdrawn at the source (IIIF Delete activities), read by the harvest of %(day)s", day=today.isoformat()
            )
        )
    data = ProgressIn(
        institution_id=source.institution_id,
        as_of=today,
        correction_note="; ".join(notes)[:1000] or None,
        note_audience="partners",
        **figures,
    )
    try:
        await project_services.report_progress(session, harvester(), source.project_id, data, source="harvest", today=today)
    except (ValidationFailed, ConflictError) as exc:  # as any report: a report the rules refuse is not recorded
        await session.rollback()
        outcome.error = i18n.gettext(
            "the harvested figures were not recorded: %(reason)s", reason="; ".join(exc.errors.values()) or exc.detail
        )
        return False
    return True


# ---- when it runs ---------------------------------------------------------------------------------------------


async def harvest_now(
    session: AsyncSession,
    principal: Principal,
    factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    project_id: uuid.UUID,
    source_id: uuid.UUID,
    *,
    today: date,
    budget: Budget = ASKED_BUDGET,
) -> Outcome:
    """A harvest asked from the project's page, by someone who may act for that participant."""
    source = await _source(session, principal, project_id, source_id)
    if source.removed_at is not None:
        raise ConflictError(i18n.gettext("This endpoint was removed: name it again to harvest it."))
    await session.commit()  # nothing held while the harvest runs in its own sessions
    outcome = await harvest(factory, settings, source_id, today=today, budget=budget)
    if outcome.status == "busy":
        raise ConflictError(i18n.gettext("A harvest of this endpoint is already running."))
    return outcome


SIDE_BY_SIDE = 4  # harvests of the daily job at once (each holds a database connection while it writes)
_running: set[asyncio.Task[Any]] = set()  # the daily harvests under way (a reference, so none is collected midway)


async def harvest_all(factory: async_sessionmaker[AsyncSession], settings: Settings, today: date) -> int:
    """The daily job: every source of every live project, least recently read first, several at a time, in the
    background (the scheduler's start, which runs a missed day's jobs, is not held by a slow partner). Each harvest
    keeps to its own time budget, answers being read included, and runs beside the others: a slow partner holds one
    of the places for its budget at most, never the others' harvests. Returns how many sources it will read."""
    async with factory() as session:
        ids = list(
            await session.scalars(
                select(HS.id)
                .join(table(DigitizationProject), DP.id == HS.project_id)
                .where(DP.archived_at.is_(None), HS.removed_at.is_(None))
                .order_by(HS.last_run_at.is_not(None), HS.last_run_at)
            )
        )

    places = asyncio.Semaphore(SIDE_BY_SIDE)

    async def one(source_id: uuid.UUID) -> None:
        async with places:
            try:
                await harvest(factory, settings, source_id, today=today)
            except Exception:  # one source's trouble (its row gone, the database away) does not stop the others
                log.exception("harvest failed", source=str(source_id))

    async def run() -> None:
        await asyncio.gather(*(one(source_id) for source_id in ids))

    if ids:
        task = asyncio.create_task(run())
        _running.add(task)
        task.add_done_callback(_running.discard)
    return len(ids)
