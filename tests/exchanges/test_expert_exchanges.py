"""Individual expert exchanges: partners propose and confirm their own experts; coordinators approve and close."""

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
    from datetime import date

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
    with pytest.raises(TransitionRefused, match="stay runs from"):
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
