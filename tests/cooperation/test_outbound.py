"""One guarded outbound client (cooperation/outbound.py) for webhooks, harvests and paired instances: an address that
is not public is refused before anything is sent to it (at a webhook's registration, and again at each delivery), the
request goes to the address that was checked (a second answer of the resolver changes nothing), no redirect is
followed, and a whole exchange — a harvest's whole run too — keeps to its deadline however slowly the other side
answers. These tests never let the app connect anywhere but loopback: the addresses refused are refused before any
connection, and the names are resolved by a resolver the test controls."""

import asyncio
import dataclasses
import json
import uuid
from datetime import date

import pytest
from sqlalchemy import select

from cooperation import outbound, webhooks
from programs import harvest_services
from programs.harvest_services import Budget
from programs.models import HarvestSource
from tests.cooperation.test_webhooks import Receiver, _webhook
from tests.exchanges.helpers import seed_visit_payload
from tests.programs.iiif_fixtures import serving_stream

# Each refused before any connection: literals are checked as they are; 2130706433 is 127.0.0.1 to the resolver.
NOT_PUBLIC = [
    "http://127.0.0.1:9/events",
    "http://2130706433/events",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/events",
    "http://192.168.1.20/events",
    "http://[::1]:9/events",
    "http://[fe80::1]/events",
    "http://100.64.0.1/events",
]


@pytest.fixture
def receiver():
    listening = Receiver()
    yield listening
    listening.server.shutdown()
    listening.server.server_close()


@pytest.fixture
def names(monkeypatch):
    """A resolver the test controls: name → addresses, and every question it was asked."""

    class Names(dict[str, list[str]]):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[str] = []

    table = Names()

    async def resolve(host: str, port: int) -> list[str]:
        table.asked.append(host)
        if host.replace(".", "").isdigit():  # a number the C library reads as an address itself (no DNS is asked)
            return await outbound.system_resolve(host, port)
        if host not in table:
            raise OSError(f"{host} is not in the test's resolver")
        return table[host]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return table


async def test_a_webhook_to_a_private_or_local_address_is_refused_when_it_is_registered(app, db, client_for, world, names):
    app.state.settings = dataclasses.replace(app.state.settings, outbound_allowed=())  # as in production
    names["intranet.nlv.example"] = ["10.1.2.3"]
    admin = await client_for("admin")
    for url in [*NOT_PUBLIC, "http://intranet.nlv.example/hooks"]:
        page = await admin.form("/admin/webhooks", {"url": url, "owner_id": str(world.principals["admin"].user_id), "kinds": ["visit"]})
        assert page.status_code == 422, url
        assert "private or local address" in page.text, url
    assert (await db.execute(select(webhooks.WebhookEndpoint.id))).all() == []
    # The check itself, as every delivery, harvest and pairing makes it.
    for url in NOT_PUBLIC:
        with pytest.raises(outbound.Refused):
            await outbound.target(url, ())
    for url in ("ftp://example.org/", "http://user:secret@example.org/", "http://example.org:99999/", "javascript:alert(1)"):
        with pytest.raises(outbound.Refused, match="not an http"):
            await outbound.target(url, ())


async def test_a_delivery_goes_to_the_address_checked_and_a_rebound_name_is_refused(app, db, client_for, world, people, names, receiver):
    """The webhook's name resolves to the receiver's loopback address (allowed here, as COOP_OUTBOUND_ALLOW would): the
    delivery reaches that address, the name in its Host header, resolved once. Then the name is made to answer a
    private address (DNS rebinding): the next delivery is refused before any connection, its reason on the page."""
    port = receiver.url.split(":")[2].split("/")[0]
    names["hooks.nlv.example"] = ["127.0.0.1"]
    admin = await client_for("admin")
    await _webhook(admin, f"http://hooks.nlv.example:{port}/libcoop-events", world.principals["admin"].user_id, ["visit"])
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    settings, factory = app.state.settings, app.state.session_factory
    names.asked.clear()
    assert await webhooks.fan_out(db, settings, "https://libcoop.nlv.example") == 1
    assert await webhooks.deliver_due(factory, settings) == 1
    ((headers, body),) = receiver.received
    assert headers["host"] == f"hooks.nlv.example:{port}" and json.loads(body)["data"]["id"] == visit["id"]
    assert names.asked == ["hooks.nlv.example"]  # once: the connection went to the address that was checked

    names["hooks.nlv.example"] = ["10.9.8.7"]
    changed = {**seed_visit_payload(world, people, city="Huế"), "version": visit["version"]}
    assert (await coordinator.api("PUT", f"/api/v1/visits/{visit['id']}", json=changed)).status_code == 200
    await webhooks.fan_out(db, settings, "https://libcoop.nlv.example")
    assert await webhooks.deliver_due(factory, settings) == 0
    assert len(receiver.received) == 1
    assert "10.9.8.7" in (await admin.get("/admin/webhooks")).text


async def test_no_redirect_is_followed(app, settings, receiver):
    """A receiver that answers 302 elsewhere: the answer is the 302, nothing goes to where it points."""
    receiver.status = 302
    async with outbound.Client(settings) as client:
        answer = await client.request("POST", receiver.url, content=b"{}")
    assert answer.status == 302 and len(receiver.received) == 1


async def test_a_harvest_keeps_to_its_budget_while_an_answer_trickles_in(app, client_for, world, db, settings):
    """A page that arrives one byte every 0.2 s (a minute in all): a harvest given two seconds stops within them —
    the deadline is the run's, not a read's — reading a small part of it, and records no progress."""
    coordinator = await client_for("coordinator")
    project = (
        await coordinator.api(
            "POST",
            "/api/v1/projects",
            json={
                "name": "Trickle",
                "lead_institution_id": str(world.nlc),
                "starts_on": "2025-01-01",
                "participants": [{"institution_id": str(world.bnf), "role": "contributor"}],
                "shared": True,
            },
        )
    ).json()
    with serving_stream() as stream:
        stream.pages([stream.activity("Create", "m1", "2026-01-01T00:00:00Z")])
        stream.manifest("m1", 3)
        stream.documents["/activity/page-1"]["padding"] = "x" * 300
        stream.slow["/activity/page-1"] = 0.2
        source = HarvestSource(
            project_id=uuid.UUID(project["id"]),
            institution_id=world.bnf,
            endpoint=stream.url("/activity/all-changes"),
            created_by="test",
        )
        db.add(source)
        await db.commit()
        outcome = await harvest_services.harvest(
            app.state.session_factory, settings, source.id, today=date(2026, 11, 20), budget=Budget(seconds=2.0, timeout=60.0)
        )
        assert outcome.status == "failed" and "did not answer within" in outcome.error, outcome
        assert 0 < stream.sent["/activity/page-1"] < 100  # cut off early: a minute's answer, two seconds' worth read
        assert not outcome.reported


async def test_the_daily_job_runs_a_slow_partner_beside_the_others(app, client_for, world, db, settings):
    """The BnF's stream trickles; the NDL's answers at once. The daily job reads both side by side: the NDL's progress is
    recorded while the BnF's harvest is still reading."""
    coordinator = await client_for("coordinator")
    project = (
        await coordinator.api(
            "POST",
            "/api/v1/projects",
            json={
                "name": "Side by side",
                "lead_institution_id": str(world.nlc),
                "starts_on": "2025-01-01",
                "participants": [{"institution_id": str(world.bnf)}, {"institution_id": str(world.ndl)}],
                "shared": True,
            },
        )
    ).json()
    with serving_stream() as slow, serving_stream() as quick:
        for stream in (slow, quick):
            stream.pages([stream.activity("Create", "m1", "2026-01-01T00:00:00Z")])
            stream.manifest("m1", 3)
        slow.documents["/activity/all-changes"]["padding"] = "x" * 3000  # five minutes of it: still reading at the end
        slow.slow["/activity/all-changes"] = 0.1
        # The slow one first: the least recently read is read first.
        for institution, stream, when in ((world.bnf, slow, None), (world.ndl, quick, harvest_services.utcnow())):
            db.add(
                HarvestSource(
                    project_id=uuid.UUID(project["id"]),
                    institution_id=institution,
                    endpoint=stream.url("/activity/all-changes"),
                    created_by="test",
                    last_run_at=when,
                )
            )
        await db.commit()
        assert await harvest_services.harvest_all(app.state.session_factory, settings, date(2026, 11, 20)) == 2
        HS = HarvestSource
        for _ in range(1200):  # however loaded the machine: the quick one is done long before the slow one could be
            db.expire_all()
            status = dict((await db.execute(select(HS.institution_id, HS.last_status))).all())
            if status[world.ndl] is not None:
                break
            await asyncio.sleep(0.05)
        assert status == {world.ndl: "complete", world.bnf: None}  # the NDL's done, the BnF's still reading
        for task in list(harvest_services._running):
            task.cancel()
        await asyncio.gather(*harvest_services._running, return_exceptions=True)
