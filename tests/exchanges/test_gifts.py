"""The protocol gift register: a visit's gifts are its entries, details added in the register survive the
visit's edits, gifts outside visits, dispositions, reciprocal gifts, filters, the CSV export and the yearly report;
the department's only."""

import csv
import io
import re
import uuid
from datetime import date

from cooperation.auth.access import Principal, Role
from cooperation.reports import builders, periods
from tests.exchanges.helpers import seed_visit_payload


def gift_id_from(response) -> str:
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rsplit("/", 1)[-1]


async def test_a_visits_gifts_are_register_entries_that_keep_their_details(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    given, received = visit["gifts"]
    assert given["id"] and received["id"]
    # In the register: dated the visit's first day, from and to the visit's two sides.
    page = await coordinator.get(f"/gifts/{received['id']}")
    assert page.status_code == 200 and "纪念品" in page.text
    assert re.search(r"Given by</dt><dd>.*National Library of China", page.text)
    assert re.search(r"Received by</dt><dd>.*National Library of Vietnam", page.text)
    assert "26 November 2025" in page.text
    # The coordinator records what it is worth and where it went, then edits the visit (renaming the given gift,
    # dropping the received one and adding a third): the details stay, the dropped entry is archived, not deleted.
    form = await coordinator.get(f"/gifts/{received['id']}/edit")
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    saved = await coordinator.form(
        f"/gifts/{received['id']}",
        {
            "direction": "received",
            "description": "纪念品",
            "visit_id": visit["id"],
            "given_on": "2025-11-28",
            "estimated_value": "1500000",
            "currency": "vnd",
            "valuation": "estimate",
            "disposition": "on_display",
            "custodian": "Phòng Hợp tác quốc tế",
            "location": "Phòng khách tầng 1",
            "disposition_on": "2025-12-01",
            "version": version,
        },
    )
    assert saved.status_code == 303, saved.text[:500]
    update = {
        **seed_visit_payload(world, people),
        "gifts": [
            {"id": received["id"], "direction": "received", "description": "纪念品 (2 volumes)"},
            {"direction": "given", "description": "Sơn mài"},
        ],
        "version": 1,
    }
    assert (await coordinator.api("PUT", f"/api/v1/visits/{visit['id']}", json=update)).status_code == 200
    after = (await coordinator.api("GET", f"/api/v1/visits/{visit['id']}")).json()
    assert [(g["description"], g["direction"]) for g in after["gifts"]] == [("纪念品 (2 volumes)", "received"), ("Sơn mài", "given")]
    assert after["gifts"][0]["id"] == received["id"]
    page = await coordinator.get(f"/gifts/{received['id']}")
    assert "Phòng khách tầng 1" in page.text and "₫1,500,000" in page.text and "28 November 2025" in page.text
    history = page.text[page.text.index('id="history"') :]
    assert "On display" in history and "on_display" not in history  # the history speaks as the form does
    register = await coordinator.get("/gifts?year=2025")
    assert "Quà lưu niệm" not in register.text and "Sơn mài" in register.text  # the dropped one is archived
    assert "This gift is archived: it is kept" in (await coordinator.get(f"/gifts/{given['id']}")).text
    # A gift id that is not the visit's is refused by field.
    foreign = {**update, "gifts": [{"id": str(uuid.uuid4()), "direction": "given", "description": "x"}], "version": 2}
    answer = await coordinator.api("PUT", f"/api/v1/visits/{visit['id']}", json=foreign)
    assert answer.status_code == 422 and "gifts.0.id" in answer.json()["errors"]


async def test_a_gift_outside_a_visit_is_checked_field_by_field(client_for, world):
    coordinator = await client_for("coordinator")
    bad = await coordinator.form(
        "/gifts", {"direction": "received", "description": "Facsimile", "estimated_value": "100", "currency": "XYZ"}
    )
    assert bad.status_code == 422
    for field, message in [
        ("partner_institution_id", "choose the partner institution, or the visit the gift was made at"),
        ("given_on", "give the date of the gift"),
        ("currency", "XYZ is not an ISO 4217 currency code"),
        ("valuation", "say how the value was set"),
    ]:
        assert message in bad.text, field
    early = await coordinator.form(
        "/gifts",
        {
            "direction": "received",
            "description": "Facsimile",
            "partner_institution_id": str(world.bnf),
            "given_on": "2026-03-02",
            "disposition_on": "2026-03-01",
        },
    )
    assert early.status_code == 422 and "cannot be before the gift was made" in early.text
    given = gift_id_from(
        await coordinator.form(
            "/gifts",
            {"direction": "given", "description": "Atlas of Hanoi", "partner_institution_id": str(world.bnf), "given_on": "2026-03-02"},
        )
    )
    # The reply, linked to what it answers: the link shows on both gifts.
    reply = gift_id_from(
        await coordinator.form(
            "/gifts",
            {
                "direction": "received",
                "description": "Les Très Riches Heures, fac-similé",
                "partner_institution_id": str(world.bnf),
                "given_on": "2026-04-10",
                "reciprocal_gift_id": given,
                "minimal_value": "1",
            },
        )
    )
    assert "Les Très Riches Heures, fac-similé</a>" in (await coordinator.get(f"/gifts/{given}")).text
    reply_page = (await coordinator.get(f"/gifts/{reply}")).text
    assert "Atlas of Hanoi</a>" in reply_page and "National Library of France" in reply_page
    same_direction = await coordinator.form(
        "/gifts",
        {
            "direction": "given",
            "description": "x",
            "partner_institution_id": str(world.bnf),
            "given_on": "2026-04-10",
            "reciprocal_gift_id": given,
        },
    )
    assert "a gift given is answered by one received" in same_direction.text


async def test_the_register_is_filtered_exported_and_the_departments_only(client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    formula = gift_id_from(
        await coordinator.form(
            "/gifts",
            {
                "direction": "received",
                "description": '=HYPERLINK("http://x")',
                "partner_institution_id": str(world.bnf),
                "given_on": "2026-02-01",
                "estimated_value": "80",
                "currency": "EUR",
                "valuation": "published_price",
            },
        )
    )
    assert len(re.findall(r'href="/gifts/[0-9a-f-]{36}"', (await coordinator.get("/gifts?year=2026")).text)) == 1
    by_partner = (await coordinator.get(f"/gifts?partner={world.nlc}")).text
    assert "纪念品" in by_partner and "HYPERLINK" not in by_partner
    undecided = (await coordinator.get("/gifts?disposition=none&direction=received")).text
    assert "纪念品" in undecided and "HYPERLINK" in undecided and "Quà lưu niệm" not in undecided
    export = await coordinator.get("/gifts/export.csv?year=2026")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert 'filename="gift-register-2026.csv"' in export.headers["content-disposition"]
    assert export.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["date", "direction", "description"]
    assert rows[1][:3] == ["2026-02-01", "received", '\'=HYPERLINK("http://x")']  # never run as a formula
    assert rows[1][5:7] == ["80.00", "EUR"] and len(rows) == 2
    # A partner is told none of it exists, not even a gift of a visit it took part in.
    partner = await client_for("partner_a")
    for path in ("/gifts", "/gifts/export.csv", f"/gifts/{formula}", f"/gifts/{visit['gifts'][0]['id']}", "/gifts/new"):
        assert (await partner.get(path)).status_code == 404, path
    director = await client_for("director")
    assert (await director.get("/gifts")).status_code == 200
    assert (await director.form("/gifts", {"direction": "given"})).status_code == 403


async def test_the_yearly_register_report_in_french(db, app, client_for, world, people):
    coordinator = await client_for("coordinator")
    visit = (await coordinator.api("POST", "/api/v1/visits", json=seed_visit_payload(world, people))).json()
    gift = visit["gifts"][1]["id"]
    form = await coordinator.get(f"/gifts/{gift}")
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    only = {
        "only": "disposition",
        "disposition": "in_archives",
        "location": "Kho lưu trữ B2",
        "disposition_on": "2025-12-15",
        "version": version,
    }
    assert (await coordinator.form(f"/gifts/{gift}", only)).status_code == 303
    principal = world.principals["director"]
    built = await builders.build(db, principal, app.state.settings, "gifts", None, periods.parse("2025"), "fr", today=date(2026, 1, 5))
    assert built.title == "Registre des cadeaux protocolaires — 2025"
    assert "纪念品" in built.html and "Quà lưu niệm" in built.html and "conservé aux archives" in built.html
    assert "Cadeaux reçus en attente d’une décision sur leur destination : 0" in built.html
    partner = Principal(user_id=uuid.uuid4(), name="p", email="", role=Role.PARTNER, institution_id=world.nlc)
    try:
        await builders.build(db, partner, app.state.settings, "gifts", None, periods.parse("2025"), "en")
    except Exception as exc:
        assert type(exc).__name__ == "NotFoundError"
    else:
        raise AssertionError("a partner built the gift register")
