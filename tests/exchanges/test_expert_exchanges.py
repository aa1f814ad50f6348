"""Individual expert exchanges: partners propose and confirm their own experts; coordinators approve and close."""

from datetime import date

import pytest


@pytest.fixture
async def experts(client_for, world):
    coordinator = await client_for("coordinator")
    made = {}
    for key, name, institution in (
        ("nlc", "Luo Chong", world.nlc),
        ("nlv", "Trần Thu Hà", world.home),
        ("bnf", "Claire Martin", world.bnf),
    ):
        made[key] = (await coordinator.api("POST", "/api/v1/people", json={"name": name, "institution_id": str(institution)})).json()["id"]
    return made


def proposal(world, expert, **overrides):
    body = {
        "expert_person_id": expert,
        "host_institution_id": str(world.home),
        "starts_on": "2026-03-02",
        "ends_on": "2026-03-13",
        "field_of_work": "Digitization of ancient books",
        "purpose": "Hands-on training · 古籍数字化培训",
    }
    body.update(overrides)
    return body


async def test_partner_proposes_and_coordinator_runs_the_exchange(client_for, world, experts):
    partner = await client_for("partner_a")
    created = await partner.api("POST", "/api/v1/exchanges", json=proposal(world, experts["nlc"]))
    assert created.status_code == 201, created.text
    exchange = created.json()
    assert (exchange["home_code"], exchange["host_code"], exchange["status"], exchange["expert_confirmed"]) == (
        "NLC",
        "NLV",
        "proposed",
        True,
    )
    assert exchange["purpose"] == "Hands-on training · 古籍数字化培训"
    other = await partner.api("POST", "/api/v1/exchanges", json=proposal(world, experts["nlv"], host_institution_id=str(world.nlc)))
    assert other.status_code == 422 and "your own institution" in other.json()["errors"]["expert_person_id"]
    coordinator = await client_for("coordinator")
    approved = await coordinator.api("POST", f"/api/v1/exchanges/{exchange['id']}/transition", json={"to": "approved", "version": 1})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    refused = await partner.api(
        "POST", f"/api/v1/exchanges/{exchange['id']}/transition", json={"to": "cancelled", "version": 2, "note": "x"}
    )
    assert refused.status_code == 403
    outsider = await client_for("partner_b")
    assert (await outsider.api("GET", f"/api/v1/exchanges/{exchange['id']}")).status_code == 404
    assert (await outsider.api("GET", "/api/v1/exchanges")).json()["total"] == 0


async def test_approval_needs_the_expert_confirmed_and_closing_needs_an_outcome(db, client_for, world, experts):

    from cooperation.errors import TransitionRefused
    from exchanges import expert_services
    from exchanges.expert_schemas import ExchangeTransitionIn

    coordinator = await client_for("coordinator")
    outgoing = (
        await coordinator.api("POST", "/api/v1/exchanges", json=proposal(world, experts["nlv"], host_institution_id=str(world.nlc)))
    ).json()
    assert outgoing["expert_confirmed"] is False
    early = await coordinator.api("POST", f"/api/v1/exchanges/{outgoing['id']}/transition", json={"to": "approved", "version": 1})
    assert early.status_code == 409 and "not confirmed the expert" in early.json()["detail"]
    confirmed = await coordinator.api("POST", f"/api/v1/exchanges/{outgoing['id']}/confirm-expert", json={"confirmed": True, "version": 1})
    assert confirmed.json()["expert_confirmed"] is True
    principal = world.principals["coordinator"]
    import uuid

    exchange_id = uuid.UUID(outgoing["id"])
    await expert_services.transition(db, principal, exchange_id, ExchangeTransitionIn(to="approved", version=2))
    with pytest.raises(TransitionRefused, match="The stay runs"):
        await expert_services.transition(db, principal, exchange_id, ExchangeTransitionIn(to="under_way", version=3), on=date(2026, 1, 5))
    await expert_services.transition(db, principal, exchange_id, ExchangeTransitionIn(to="under_way", version=3), on=date(2026, 3, 5))
    with pytest.raises(TransitionRefused, match="outcome"):
        await expert_services.transition(db, principal, exchange_id, ExchangeTransitionIn(to="completed", version=4))
    dates = proposal(world, experts["nlv"], host_institution_id=str(world.nlc), outcome="Learned the NLC's workflow for rare-book imaging.")
    assert (await coordinator.api("PUT", f"/api/v1/exchanges/{outgoing['id']}", json={**dates, "version": 4})).status_code == 200
    await expert_services.transition(db, principal, exchange_id, ExchangeTransitionIn(to="completed", version=5))
    assert (await coordinator.api("GET", f"/api/v1/exchanges/{outgoing['id']}")).json()["status"] == "completed"


async def test_exchange_must_involve_the_home_institution(client_for, world, experts):
    coordinator = await client_for("coordinator")
    response = await coordinator.api("POST", "/api/v1/exchanges", json=proposal(world, experts["bnf"], host_institution_id=str(world.nlc)))
    assert response.status_code == 422 and "home institution" in response.json()["errors"]["host_institution_id"]
    backwards = await coordinator.api(
        "POST", "/api/v1/exchanges", json=proposal(world, experts["nlc"], starts_on="2026-03-13", ends_on="2026-03-02")
    )
    assert backwards.status_code == 422 and "ends_on" in backwards.json()["errors"]


async def test_partner_proposes_from_the_pages_and_coordinator_approves(client_for, world, experts):
    partner = await client_for("partner_a")
    form = await partner.get("/exchanges/new")
    assert form.status_code == 200
    assert "Luo Chong" in form.text and "Trần Thu Hà" not in form.text  # a partner proposes its own experts only
    fields = {
        "expert_person_id": experts["nlc"],
        "host_institution_id": str(world.home),
        "starts_on": "2026-03-13",
        "ends_on": "2026-03-02",
        "field_of_work": "Số hóa sách cổ · 古籍数字化",
    }
    refused = await partner.form("/exchanges", fields)
    assert refused.status_code == 422 and "the stay cannot end before it starts" in refused.text
    assert 'value="Số hóa sách cổ · 古籍数字化"' in refused.text  # what was typed is kept
    created = await partner.form("/exchanges", {**fields, "ends_on": "2026-03-20"})
    assert created.status_code == 303
    url = created.headers["location"]
    page = await partner.get(url)
    assert "Số hóa sách cổ · 古籍数字化" in page.text and "13–20 Mar 2026" in page.text
    assert 'href="' + url + '/edit"' in page.text and "Withdraw the expert" in page.text
    assert "Change status to" not in page.text  # approving is the department's

    coordinator = await client_for("coordinator")
    listed = await coordinator.get("/exchanges?status=proposed")
    assert url in listed.text
    closing = await coordinator.form(url + "/transition", {"to": "completed", "version": "1"})
    assert closing.status_code == 409 and "cannot become completed" in closing.text
    approved = await coordinator.form(url + "/transition", {"to": "approved", "version": "1"})
    assert approved.status_code == 303
    after = await partner.get(url)
    assert "Approved" in after.text and 'href="' + url + '/edit"' not in after.text  # no longer the partner's to edit
    assert (await partner.get(url + "/edit")).status_code == 403
    assert (await (await client_for("partner_b")).get(url)).status_code == 404


async def test_edit_page_keeps_every_field_and_the_report_is_a_document(client_for, world, experts):
    coordinator = await client_for("coordinator")
    body = proposal(
        world,
        experts["nlv"],
        host_institution_id=str(world.nlc),
        funding="NLC covers the stay",
        funding_amount="1200.00",
        funding_currency="CNY",
        outcome="Học quy trình chụp ảnh sách hiếm",
    )
    exchange = (await coordinator.api("POST", "/api/v1/exchanges", json=body)).json()
    url = f"/exchanges/{exchange['id']}"
    edit = await coordinator.get(url + "/edit")
    for shown in ("NLC covers the stay", "1200.00", "CNY", "Học quy trình chụp ảnh sách hiếm", "Hands-on training · 古籍数字化培训"):
        assert shown in edit.text
    import re

    fields = dict(re.findall(r'<input id="f-(\w+)" name="\w+" type="\w+" value="([^"]*)"', edit.text))
    fields |= {name: value for name, value in re.findall(r'<textarea id="f-(\w+)" name="\w+">([^<]*)</textarea>', edit.text)}
    fields |= {"expert_person_id": experts["nlv"], "host_institution_id": str(world.nlc), "version": "1"}
    assert (await coordinator.form(url, {**fields, "field_of_work": "Rare-book imaging"})).status_code == 303
    after = (await coordinator.api("GET", f"/api/v1/exchanges/{exchange['id']}")).json()
    for key in ("funding", "funding_amount", "funding_currency", "outcome", "purpose", "starts_on", "ends_on"):
        assert after[key] == exchange[key], key
    assert after["field_of_work"] == "Rare-book imaging"
    stale = await coordinator.form(url, {**fields, "field_of_work": "Overwritten"})
    assert stale.status_code == 409

    report = await coordinator.raw.post(
        f"/attachments/exchange/{exchange['id']}",
        files={"file": ("report.pdf", b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n", "application/pdf")},
        data={"title": "Expert's report", "language": "vi", "_csrf_token": await coordinator.csrf()},
    )
    assert report.status_code == 303 and report.headers["location"] == url + "#documents"
    page = await coordinator.get(url)
    assert "Expert&#39;s report" in page.text and "has not been uploaded" not in page.text


async def test_exchanges_are_in_the_calendar_feed(app, client_for, world, experts):
    import re

    import icalendar

    from tests.conftest import http_client

    partner = await client_for("partner_a")
    await partner.api("POST", "/api/v1/exchanges", json=proposal(world, experts["nlc"]))
    page = await partner.form("/account/calendar", {})
    path = re.search(r'<code id="feed-url">([^<]+)</code>', page.text).group(1).split("testserver", 1)[1]
    async with http_client(app) as calendar_program:
        parsed = icalendar.Calendar.from_ical((await calendar_program.get(path)).content)
    stay = next(e for e in parsed.walk("VEVENT") if str(e["summary"]).startswith("Expert exchange"))
    assert str(stay["summary"]) == "Expert exchange: Luo Chong (NLC → NLV)"
    assert (stay.decoded("dtstart"), stay.decoded("dtend")) == (date(2026, 3, 2), date(2026, 3, 14))
    assert "Digitization of ancient books" in str(stay["description"])
    month = await partner.get("/calendar?month=2026-03")
    assert "Luo Chong" in month.text
