"""Expert-exchange programmes: quotas per year and direction (and field), counted from the exchanges in them."""

from datetime import date

import pytest

from cooperation.web import field_label
from programs.schemas import Direction, QuotaIn
from programs.services import quota_use


@pytest.fixture
async def setup(client_for, world):
    coordinator = await client_for("coordinator")
    experts = {}
    for key, name, institution in (
        ("nlc", "Luo Chong", world.nlc),
        ("nlv", "Trần Thu Hà", world.home),
        ("bnf", "Claire Martin", world.bnf),
    ):
        experts[key] = (await coordinator.api("POST", "/api/v1/people", json={"name": name, "institution_id": str(institution)})).json()[
            "id"
        ]
    programme = await coordinator.api(
        "POST",
        "/api/v1/programmes",
        json={
            "name": "NLV–NLC professional exchanges 2025–2027",
            "starts_on": "2025-01-01",
            "ends_on": "2027-12-31",
            "institution_ids": [str(world.home), str(world.nlc)],
            "quotas": [
                {"direction": "incoming", "max_per_year": 1},
                {"direction": "outgoing", "max_per_year": 2},
                {"direction": "outgoing", "max_per_year": 1, "field_of_work": "Conservation"},
            ],
            "shared": True,
        },
    )
    assert programme.status_code == 201, programme.text
    return experts, programme.json()


def stay(programme, expert, host, starts_on, ends_on, field="Digitization", **extra):
    return {
        "expert_person_id": expert,
        "host_institution_id": str(host),
        "starts_on": starts_on,
        "ends_on": ends_on,
        "field_of_work": field,
        "programme_id": programme["id"],
        **extra,
    }


def use_of(programme_out, year, direction, field=None):
    return next(u for u in programme_out["use"] if (u["year"], u["direction"], u["field_of_work"]) == (year, direction, field))


async def test_quotas_count_by_start_year_and_direction(client_for, world, setup):
    experts, programme = setup
    coordinator = await client_for("coordinator")
    url = "/api/v1/exchanges"
    # Starts in December 2025, ends in January 2026: it is 2025's incoming exchange.
    december = await coordinator.api("POST", url, json=stay(programme, experts["nlc"], world.home, "2025-12-28", "2026-01-09"))
    assert december.status_code == 201, december.text
    january = await coordinator.api("POST", url, json=stay(programme, experts["nlc"], world.home, "2026-01-05", "2026-01-16"))
    assert january.status_code == 201, january.text
    third = await coordinator.api("POST", url, json=stay(programme, experts["nlc"], world.home, "2026-06-01", "2026-06-05"))
    assert third.status_code == 409
    assert "2026 incoming: 1 allowed, this would be number 2" in third.json()["detail"]
    for month in ("03", "04"):  # outgoing has its own quota: two a year
        sent = await coordinator.api(
            "POST", url, json=stay(programme, experts["nlv"], world.nlc, f"2026-{month}-02", f"2026-{month}-06", confirm_over_quota=False)
        )
        assert sent.status_code == 201, sent.text
    over = await coordinator.api("POST", url, json=stay(programme, experts["nlv"], world.nlc, "2026-10-05", "2026-10-09"))
    assert over.status_code == 409 and "2026 outgoing: 2 allowed" in over.json()["detail"]
    conservation = await coordinator.api(
        "POST", url, json=stay(programme, experts["nlv"], world.nlc, "2027-02-01", "2027-02-05", "conservation")
    )
    assert conservation.status_code == 201
    second_conservation = await coordinator.api(
        "POST", url, json=stay(programme, experts["nlv"], world.nlc, "2027-05-03", "2027-05-07", "Conservation")
    )
    assert second_conservation.status_code == 409 and "in Conservation: 1 allowed" in second_conservation.json()["detail"]

    read = (await coordinator.api("GET", f"/api/v1/programmes/{programme['id']}")).json()
    assert use_of(read, 2025, "incoming")["used"] == 1 and use_of(read, 2026, "incoming")["used"] == 1
    assert use_of(read, 2026, "outgoing")["used"] == 2 and use_of(read, 2026, "outgoing")["left"] == 0
    assert use_of(read, 2027, "outgoing", "Conservation")["used"] == 1 and use_of(read, 2027, "outgoing")["used"] == 1

    confirmed = await coordinator.api(
        "POST", url, json=stay(programme, experts["nlc"], world.home, "2026-06-01", "2026-06-05", confirm_over_quota=True)
    )
    assert confirmed.status_code == 201  # a coordinator may knowingly go past it
    read = (await coordinator.api("GET", f"/api/v1/programmes/{programme['id']}")).json()
    assert use_of(read, 2026, "incoming") | {"left": -1} == use_of(read, 2026, "incoming")
    history = (await coordinator.get(f"/programmes/{programme['id']}")).text
    assert "Quota knowingly exceeded" in history and "over" in history

    partner = await client_for("partner_a")
    refused = await partner.api(
        "POST", url, json=stay(programme, experts["nlc"], world.home, "2026-09-01", "2026-09-04", confirm_over_quota=True)
    )
    assert refused.status_code == 409 and "A coordinator may confirm" in refused.json()["detail"]


async def test_cancelled_exchanges_free_their_place(db, client_for, world, setup):
    experts, programme = setup
    coordinator = await client_for("coordinator")
    first = (
        await coordinator.api("POST", "/api/v1/exchanges", json=stay(programme, experts["nlc"], world.home, "2026-02-02", "2026-02-06"))
    ).json()
    cancel = await coordinator.api(
        "POST", f"/api/v1/exchanges/{first['id']}/transition", json={"to": "cancelled", "version": first["version"], "note": "visa"}
    )
    assert cancel.status_code == 200
    second = await coordinator.api(
        "POST", "/api/v1/exchanges", json=stay(programme, experts["nlc"], world.home, "2026-05-04", "2026-05-08")
    )
    assert second.status_code == 201
    reopen = await coordinator.api(
        "POST", f"/api/v1/exchanges/{first['id']}/transition", json={"to": "proposed", "version": cancel.json()["version"]}
    )
    assert reopen.status_code == 409 and "quota" in reopen.json()["detail"]


async def test_an_exchange_must_fit_the_programme(client_for, world, setup):
    experts, programme = setup
    coordinator = await client_for("coordinator")
    late = await coordinator.api("POST", "/api/v1/exchanges", json=stay(programme, experts["nlc"], world.home, "2028-02-02", "2028-02-06"))
    assert late.status_code == 422 and "the programme runs 1 Jan 2025\u2009–\u200931 Dec 2027" in late.json()["errors"]["starts_on"]
    outsider = await coordinator.api(
        "POST", "/api/v1/exchanges", json=stay(programme, experts["bnf"], world.home, "2026-02-02", "2026-02-06")
    )
    assert outsider.status_code == 422 and "BNF does not take part" in outsider.json()["errors"]["programme_id"]
    partner_b = await client_for("partner_b")
    assert (await partner_b.api("GET", f"/api/v1/programmes/{programme['id']}")).status_code == 404
    partner_a = await client_for("partner_a")
    assert (await partner_a.api("GET", f"/api/v1/programmes/{programme['id']}")).status_code == 200


async def test_programme_page_shows_use_per_year(client_for, world, setup):
    experts, programme = setup
    coordinator = await client_for("coordinator")
    await coordinator.api("POST", "/api/v1/exchanges", json=stay(programme, experts["nlc"], world.home, "2026-02-02", "2026-02-06"))
    page = await coordinator.get(f"/programmes/{programme['id']}")
    assert page.status_code == 200
    assert "Incoming, at most 1 a year" in page.text and "1 / 1" in page.text and "Luo Chong" in page.text
    form = await coordinator.get(f"/exchanges/{(await coordinator.api('GET', '/api/v1/exchanges')).json()['items'][0]['id']}")
    assert "NLV–NLC professional exchanges 2025–2027" in form.text


def test_quota_use_on_known_numbers():
    quotas = [QuotaIn(Direction.INCOMING, 2), QuotaIn(Direction.OUTGOING, 1, "Conservation")]
    exchanges = [(2025, "incoming", "x"), (2025, "incoming", "y"), (2026, "outgoing", "conservation"), (2026, "outgoing", "RFID")]
    use = {
        (u.year, u.direction, u.field_of_work): (u.used, u.left) for u in quota_use(date(2025, 3, 1), date(2026, 2, 1), quotas, exchanges)
    }
    assert use == {
        (2025, "incoming", None): (2, 0),
        (2025, "outgoing", "Conservation"): (0, 1),
        (2026, "incoming", None): (0, 2),
        (2026, "outgoing", "Conservation"): (1, 0),
    }


async def test_stale_edits_keep_what_was_typed_on_every_edit_form(client_for, world, setup):
    """A second tab's edit came back empty-handed (or as an error page) once someone else had saved: on the programme,
    institution and person forms too, what was typed comes back with what changed meanwhile, and saving it again works."""
    import re

    from tests.html_forms import form_fields

    coordinator = await client_for("coordinator")
    _experts, programme = setup
    person = (await coordinator.api("GET", "/api/v1/people?q=Luo")).json()["items"][0]
    for url, first_change, second_change in (
        (f"/programmes/{programme['id']}", {"description": "Changed in the first tab"}, {"name": "Renamed in the second tab"}),
        (f"/institutions/{world.nlc}", {"city": "Bắc Kinh"}, {"website": "https://www.nlc.cn/web/index.shtml"}),
        (f"/people/{person['id']}", {"position": "Deputy Director"}, {"department": "Cooperation · 合作处"}),
    ):
        opened = form_fields((await coordinator.get(url + "/edit")).text, url)
        first = await coordinator.form(url, {**opened, **first_change})
        assert first.status_code == 303, (url, first.text[:500])
        stale = await coordinator.form(url, {**opened, **second_change})
        assert stale.status_code == 409 and "Someone saved this record while you were editing it" in stale.text, url
        kept = form_fields(stale.text, url)
        assert all(kept[k] == v for k, v in second_change.items()), url  # nothing typed is lost
        rows = re.findall(r"<tr><td>([^<]+)</td><td[^>]*>([^<]*)</td>", stale.text)
        field, value = next(iter(first_change.items()))
        assert (field_label(field), value) in rows, (url, rows)  # what the other tab saved
        assert (await coordinator.form(url, kept)).status_code == 303, url
