"""Links come from COOP_BASE_URL, never from the Host header a client sends: a request for another host is a 400
before anything reads it, and the portal's kept feed cannot be poisoned for the next reader."""

import dataclasses
import re
from datetime import date, timedelta

from cooperation.app import create_app
from tests.conftest import Client, http_client


async def test_a_request_for_another_host_is_refused_before_anything_reads_it(settings, world):
    app = create_app(dataclasses.replace(settings, base_url="https://libcoop.nlv.example", portal=True))
    try:
        async with http_client(app) as raw:
            raw.base_url = "https://libcoop.nlv.example"
            visitor = Client(raw)
            assert (await visitor.get("/portal/feed.atom")).status_code == 200
            for host in ("evil.example", "libcoop.nlv.example.evil.example", ""):
                refused = await raw.get("/portal/feed.atom", headers={"host": host})
                assert refused.status_code == 400, host
                assert refused.headers["content-type"] == "application/problem+json"
            forgot = await raw.post("/password/forgot", headers={"host": "evil.example"}, data={"email": world.users["coordinator"]})
            assert forgot.status_code == 400  # no reset link is ever made for that host
            assert (await raw.get("/health/live", headers={"host": "10.0.0.7:8000"})).status_code == 200  # probes by address
            feed = (await visitor.get("/portal/feed.atom")).text
            assert "evil.example" not in feed and re.search(r'href="https://libcoop\.nlv\.example/portal', feed)
    finally:
        app.state.reports.close()
        await app.state.engine.dispose()


async def test_without_an_address_configured_one_hosts_feed_is_not_served_to_another(settings, world):
    """In development every host is answered; what the portal keeps is kept per address, so a request naming
    evil.example cannot hand its links to the next reader."""
    app = create_app(dataclasses.replace(settings, portal=True))
    try:
        async with http_client(app) as raw:
            poisoned = await raw.get("/portal/feed.atom", headers={"host": "evil.example"})
            assert poisoned.status_code == 200 and "http://evil.example/portal" in poisoned.text
            honest = await raw.get("/portal/feed.atom")
            assert "evil.example" not in honest.text and "http://testserver/portal" in honest.text
    finally:
        app.state.reports.close()
        await app.state.engine.dispose()


async def test_head_is_answered_and_polled_feeds_answer_304_when_unchanged(app, client_for, world, people, anonymous):
    """HEAD was 405 on every page and feed; readers that poll the feeds fetched them whole every time."""
    import dataclasses as dc

    from tests.exchanges.helpers import seed_visit_payload

    app.state.settings = dc.replace(app.state.settings, portal=True)
    coordinator = await client_for("coordinator")
    await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))
    page = await coordinator.form("/account/calendar", {})
    calendar = re.search(r'<code id="feed-url">([^<]+)</code>', page.text).group(1).split("testserver", 1)[1]
    for client, path in [
        (coordinator, "/"),
        (coordinator, "/agreements"),
        (anonymous, calendar),
        (anonymous, "/portal/feed.atom"),
        (anonymous, "/.well-known/libcoop"),
    ]:
        got, head = await client.get(path), await client.raw.head(path)
        assert got.status_code == head.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"], path
    for path in (calendar, "/portal/feed.atom", "/.well-known/libcoop"):
        first = await anonymous.get(path)
        tag = first.headers["etag"]
        again = await anonymous.get(path, headers={"if-none-match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag, path
        assert (await anonymous.get(path, headers={"if-none-match": '"another"'})).status_code == 200
    feed = await anonymous.get("/portal/feed.atom")
    since = await anonymous.get("/portal/feed.atom", headers={"if-modified-since": feed.headers["last-modified"]})
    assert since.status_code == 304
    before = (await anonymous.get(calendar)).headers["etag"]
    soon = (date.today() + timedelta(days=10)).isoformat()
    upcoming = seed_visit_payload(world, people, title="Another visit", starts_on=soon, ends_on=soon, agenda=[], confirm_overlaps=True)
    assert (await coordinator.api("POST", "/api/v1/visits", json=upcoming)).status_code == 201
    changed = await anonymous.get(calendar, headers={"if-none-match": before})  # a new event: the whole feed again
    assert changed.status_code == 200 and "Another visit" in changed.text
