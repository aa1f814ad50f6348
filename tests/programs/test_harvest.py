"""The Bibliothèque nationale de France publishes its digitized manifests as an IIIF Change Discovery stream (served
here on loopback from fixtures): its librarian names the stream on the project's page; harvests read it page by page
newest first, back from the last page (as the specification tells consumers to), within their budget, resume where
they stopped, follow a deletion, count canvases as images, and record BnF's
progress with source "harvest" — a falling count with its note, as any report. Private addresses are refused unless
allowed; an oversized answer stops a harvest without a trace of half a page."""

import dataclasses
import re
import uuid
from datetime import date

import pytest
from sqlalchemy import select, update

from programs import harvest_services
from programs.harvest_services import Budget
from programs.models import HarvestSource, ProgressReport
from tests.programs.iiif_fixtures import serving_stream

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
async def project(client_for, world):
    coordinator = await client_for("coordinator")
    created = await coordinator.api(
        "POST",
        "/api/v1/projects",
        json={
            "name": "Smart Service Platform for Chinese Ancient Books",
            "lead_institution_id": str(world.nlc),
            "starts_on": "2025-01-01",
            "target_volumes": 20000,
            "participants": [
                {"institution_id": str(world.home), "role": "contributor"},
                {"institution_id": str(world.bnf), "role": "contributor"},
            ],
            "shared": True,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def _reports(db, institution):
    db.expire_all()
    rows = await db.execute(
        select(ProgressReport.as_of, ProgressReport.volumes, ProgressReport.images, ProgressReport.source, ProgressReport.correction_note)
        .where(ProgressReport.institution_id == institution)
        .order_by(ProgressReport.as_of)
    )
    return [tuple(r) for r in rows]


async def test_a_partners_stream_harvested_page_by_page(app, client_for, world, project, db, settings):
    with serving_stream() as stream:
        for name, canvases, version in (("m1", 2, 3), ("m2", 5, 3), ("m3", 4, 3), ("m4", 1, 2), ("m5", 3, 3)):
            stream.manifest(name, canvases, version=version)
        a = stream.activity
        stream.pages(
            [
                a("Create", "m1", "2026-11-01T08:00:00Z"),
                a("Create", "m2", "2026-11-01T08:01:00Z"),
                a("Create", "m3", "2026-11-01T08:02:00Z"),
            ],
            [
                a("Update", "m2", "2026-11-02T09:00:00Z"),
                a("Create", "m4", "2026-11-02T09:05:00Z"),
                a("Delete", "m1", "2026-11-02T09:10:00Z"),
                a("Create", "c1", "2026-11-02T09:11:00Z", of="Collection"),  # not a manifest: not counted
            ],
            [a("Create", "m5", "2026-11-03T10:00:00Z")],
        )
        # BnF's librarian names the stream for BnF — and only for BnF.
        bnf = await client_for("partner_b")
        page = (await bnf.get(f"/projects/{project}")).text
        assert 'id="harvest"' in page and "IIIF Change Discovery endpoint" in page
        endpoint = stream.url("/activity/all-changes")
        for_nlv = await bnf.form(
            f"/projects/{project}/harvest", {"institution_id": str(world.home), "endpoint": endpoint, "manifests_as": "volumes"}
        )
        assert for_nlv.status_code == 403
        wrong = await bnf.form(
            f"/projects/{project}/harvest", {"institution_id": str(world.bnf), "endpoint": "ftp://x", "manifests_as": "volumes"}
        )
        assert wrong.status_code == 422 and "IIIF Change Discovery collection" in wrong.text
        named = await bnf.form(
            f"/projects/{project}/harvest",
            {"institution_id": str(world.bnf), "endpoint": endpoint, "manifests_as": "volumes", "count_canvases": "1"},
        )
        assert named.status_code == 303, named.text[:500]
        source_id = await db.scalar(select(HarvestSource.id).where(HarvestSource.project_id == uuid.UUID(project)))
        factory = app.state.session_factory

        # Not on loopback unless the administrator allows it: refused before anything is read.
        before = len(stream.hits)
        refused = await harvest_services.harvest(
            factory, dataclasses.replace(settings, outbound_allowed=()), source_id, today=date(2026, 11, 19)
        )
        assert refused.status == "failed" and "private or local address" in refused.error and len(stream.hits) == before
        # An answer larger than the budget allows stops the harvest; nothing of that page is kept.
        small = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 19), budget=Budget(answer_bytes=300))
        assert small.status == "failed" and "more than 300 bytes" in small.error and small.manifests == 0

        # Two pages a run, from the newest back: the first harvest reads pages 3 and 2 and records nothing yet…
        first = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 20), budget=Budget(pages=2))
        assert (first.status, first.pages, first.manifests, first.canvases) == ("partial", 2, 3, 9)  # m5 3 + m4 1 + m2 5
        assert await _reports(db, world.bnf) == []
        # …the next goes on from page 1 (not from the last page again), where the older Create of m1 (deleted since)
        # and of m2 (updated since) change nothing, finishes the walk and records BnF's progress.
        hits = len(stream.hits)
        second = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 20), budget=Budget(pages=2))
        assert (second.status, second.manifests, second.canvases, second.reported) == ("complete", 4, 13, True)
        assert stream.hits[hits:] == ["/activity/page-1", "/iiif/m3/manifest.json"]
        assert await _reports(db, world.bnf) == [(date(2026, 11, 20), 4, 13, "harvest", None)]
        # Nothing new: the last page's newest activity is already known, and nothing more is recorded.
        quiet = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 20))
        assert (quiet.status, quiet.activities, quiet.reported) == ("complete", 0, False)

        # The stream grows: a new page withdraws two manifests. The next day's harvest follows it; the count goes down
        # with its note.
        stream.pages(
            stream.documents["/activity/page-1"]["orderedItems"],
            stream.documents["/activity/page-2"]["orderedItems"],
            stream.documents["/activity/page-3"]["orderedItems"],
            [a("Delete", "m5", "2026-11-21T07:00:00Z"), a("Delete", "m4", "2026-11-21T07:01:00Z")],
        )
        fourth = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 21))
        assert (fourth.status, fourth.activities, fourth.manifests, fourth.canvases) == ("complete", 2, 2, 9)
        reports = await _reports(db, world.bnf)
        assert reports[-1][:4] == (date(2026, 11, 21), 2, 9, "harvest")
        assert "withdrawn at the source" in reports[-1][4]

    # The project's page shows what the harvest did, to those who read the project.
    page = (await (await client_for("coordinator")).get(f"/projects/{project}")).text
    harvest_card = page[page.index('id="harvest"') :]
    assert "up to date" in harvest_card and "2 manifests" in harvest_card and "9 images" in harvest_card
    assert re.search(r"IIIF harvest.*harvest", page, re.S)
    # A librarian of another participant cannot harvest or remove BnF's source.
    nlc = await client_for("partner_a")
    assert (await nlc.form(f"/projects/{project}/harvest/{source_id}/run", {})).status_code in (403, 404)
    assert (await nlc.form(f"/projects/{project}/harvest/{source_id}/remove", {})).status_code in (403, 404)


async def test_the_daily_job_reads_every_source_in_the_background(app, client_for, world, project, db, settings):
    with serving_stream() as stream:
        stream.manifest("m1", 2)
        stream.pages([stream.activity("Create", "m1", "2026-11-01T08:00:00Z")])
        coordinator = await client_for("coordinator")
        named = await coordinator.form(
            f"/projects/{project}/harvest",
            {"institution_id": str(world.bnf), "endpoint": stream.url("/activity/all-changes"), "manifests_as": "titles"},
        )
        assert named.status_code == 303
        # A manifest announced but gone since: still counted present, its images not, and the page says so.
        stream.pages([stream.activity("Create", "m1", "2026-11-01T08:00:00Z"), stream.activity("Create", "gone", "2026-11-01T09:00:00Z")])
        source_id = await db.scalar(select(HarvestSource.id).where(HarvestSource.project_id == uuid.UUID(project)))
        await db.execute(update(HarvestSource).where(HarvestSource.id == source_id).values(count_canvases=True))
        await db.commit()
        assert await harvest_services.harvest_all(app.state.session_factory, settings, date(2026, 11, 20)) == 1
        for task in list(harvest_services._running):
            await task
        db.expire_all()
        reports = await _reports(db, world.bnf)
        assert [(r[0], r[3]) for r in reports] == [(date(2026, 11, 20), "harvest")]
        figures = (
            await db.execute(select(ProgressReport.titles, ProgressReport.images).where(ProgressReport.institution_id == world.bnf))
        ).one()
        assert tuple(figures) == (2, 2)  # two manifests; the images of the one that could be read
        error = await db.scalar(select(HarvestSource.last_error).where(HarvestSource.id == source_id))
        assert error == "1 manifest could not be read: its images are not counted"


async def test_a_stream_with_only_its_last_page_is_read_whole_and_an_unreadable_one_records_nothing(
    app, client_for, world, project, db, settings
):
    """Change Discovery 1.0 requires `last` and `prev`; `first` and `next` are optional. A stream that gives only those
    is read back to its beginning: a deleted manifest is not counted, a new one is. A stream whose page cannot be read
    records no progress figure (not a figure of 0)."""
    with serving_stream() as stream:
        for name, canvases in (("m1", 2), ("m2", 5), ("m3", 4)):
            stream.manifest(name, canvases)
        a = stream.activity
        stream.pages(
            [a("Create", "m1", "2026-11-01T08:00:00Z"), a("Create", "m2", "2026-11-01T08:01:00Z")],
            [a("Delete", "m1", "2026-11-02T09:00:00Z"), a("Create", "m3", "2026-11-02T09:05:00Z")],
            first=False,
            next=False,
        )
        db.add(
            HarvestSource(
                project_id=uuid.UUID(project),
                institution_id=world.bnf,
                endpoint=stream.url("/activity/all-changes"),
                manifests_as="volumes",
                count_canvases=True,
                created_by="test",
            )
        )
        await db.commit()
        source_id = await db.scalar(select(HarvestSource.id).where(HarvestSource.project_id == uuid.UUID(project)))
        factory = app.state.session_factory
        read = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 20))
        assert (read.status, read.pages, read.manifests, read.canvases, read.reported) == ("complete", 2, 2, 9, True)
        assert await _reports(db, world.bnf) == [(date(2026, 11, 20), 2, 9, "harvest", None)]

        # The publisher's newest page goes missing: the harvest fails, and no figure is recorded for that day.
        stream.pages(
            stream.documents["/activity/page-1"]["orderedItems"],
            stream.documents["/activity/page-2"]["orderedItems"],
            [a("Create", "m4", "2026-11-21T07:00:00Z")],
            first=False,
            next=False,
        )
        del stream.documents["/activity/page-3"]
        broken = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 21))
        assert broken.status == "failed" and "404" in broken.error and not broken.reported
        assert await _reports(db, world.bnf) == [(date(2026, 11, 20), 2, 9, "harvest", None)]
        # A collection without its last page cannot be read either.
        del stream.documents["/activity/all-changes"]["last"]
        unreadable = await harvest_services.harvest(factory, settings, source_id, today=date(2026, 11, 22))
        assert unreadable.status == "failed" and "no last page" in unreadable.error
        assert len(await _reports(db, world.bnf)) == 1
