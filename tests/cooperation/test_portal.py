"""The public cooperation portal: off by default; on, it shows only records marked public — a crawl of
every portal page, signed out, finds no reference, title or name of any other record — in the reader's language,
with a world map drawn offline and an Atom feed."""

import dataclasses
import re
import uuid
from xml.etree import ElementTree

import pytest
from sqlalchemy import update

from agreements.models import Agreement
from cooperation.settings import Settings, SettingsError
from exchanges.models import Visit
from programs.models import DigitizationProject
from tests.agreements.helpers import agreement_payload
from tests.conftest import QueryCounter
from tests.exchanges.helpers import seed_visit_payload
from tests.test_crawler import read_page


def test_the_portal_is_off_unless_turned_on(monkeypatch):
    monkeypatch.setenv("COOP_SECRET_KEY", "k" * 48)
    assert Settings.from_env().portal is False
    monkeypatch.setenv("COOP_PORTAL", "on")
    assert Settings.from_env().portal is True
    monkeypatch.setenv("COOP_PORTAL", "maybe")
    with pytest.raises(SettingsError, match="COOP_PORTAL"):
        Settings.from_env()


async def test_off_by_default_every_portal_address_is_not_found(app, anonymous):
    for path in ("/portal", "/portal/visits", "/portal/partners", "/portal/map.svg", "/portal/feed.atom", f"/portal/visits/{uuid.uuid4()}"):
        assert (await anonymous.get(path)).status_code == 404, path


async def _world(db, client_for, world, people) -> dict[str, dict[str, str]]:
    """Public and non-public records side by side: what the portal may show, and what it must never name."""
    coordinator = await client_for("coordinator")
    made: dict[str, dict[str, str]] = {"public": {}, "hidden": {}}

    async def agreement(reference, parties, confidentiality, status="in_force"):
        payload = agreement_payload(parties, reference=reference, title=f"Title of {reference}", confidentiality=confidentiality)
        answer = await coordinator.api("POST", "/api/v1/agreements", json=payload)
        assert answer.status_code == 201, answer.text
        created = answer.json()
        await db.execute(update(Agreement).where(Agreement.id == uuid.UUID(created["id"])).values(status=status))
        await db.commit()  # (SQLite: one writer at a time, and the app writes next)
        return created["id"]

    made["public"]["PUB-NLC"] = await agreement("PUB-NLC", [world.home, world.nlc], "public")
    made["hidden"]["PARTIES-BNF"] = await agreement("PARTIES-BNF", [world.home, world.bnf], "parties")
    made["hidden"]["INTERNAL-NDL"] = await agreement("INTERNAL-NDL", [world.home, world.ndl], "internal")
    made["hidden"]["PUB-DRAFT"] = await agreement("PUB-DRAFT", [world.home, world.bnf], "public", status="draft")

    async def visit(title, public, status, **overrides):
        payload = seed_visit_payload(world, people, title=title, public=public, confirm_overlaps=True, **overrides)
        created = await coordinator.api("POST", "/api/v1/visits", json=payload)
        assert created.status_code == 201, created.text
        visit_id = created.json()["id"]
        await db.execute(update(Visit).where(Visit.id == uuid.UUID(visit_id)).values(status=status))
        await db.commit()
        return visit_id

    made["public"]["Chuyến thăm công khai"] = await visit(
        "Chuyến thăm công khai", True, "completed", agreement_id=made["public"]["PUB-NLC"]
    )
    made["hidden"]["Secret visit of the BnF"] = await visit(
        "Secret visit of the BnF",
        False,
        "completed",
        visiting_institution_id=str(world.bnf),
        participants=[{"new_person": {"name": "Émilie Cachée", "institution_id": str(world.bnf)}, "side": "delegation", "role": "member"}],
        agenda=[],
        starts_on="2026-01-05",
        ends_on="2026-01-06",
    )
    made["hidden"]["Planned public visit"] = await visit(
        "Planned public visit", True, "confirmed", starts_on="2026-12-20", ends_on="2026-12-21", agenda=[]
    )
    project = await coordinator.api(
        "POST",
        "/api/v1/projects",
        json={"name": "Sách cổ số hoá", "lead_institution_id": str(world.nlc), "starts_on": "2025-01-01", "target_volumes": 1000},
    )
    made["public"]["Sách cổ số hoá"] = project.json()["id"]
    await db.execute(update(DigitizationProject).where(DigitizationProject.id == uuid.UUID(project.json()["id"])).values(public=True))
    await db.commit()
    hidden = await coordinator.api(
        "POST",
        "/api/v1/projects",
        json={"name": "Hidden digitization of maps", "lead_institution_id": str(world.bnf), "starts_on": "2025-01-01"},
    )
    made["hidden"]["Hidden digitization of maps"] = hidden.json()["id"]
    # Marked public and completed, but nobody published its summary: not on the portal.
    made["hidden"]["Unreviewed public visit"] = await visit(
        "Unreviewed public visit", True, "completed", starts_on="2026-02-02", ends_on="2026-02-03", agenda=[]
    )
    await db.commit()
    # Nothing is public until a coordinator publishes it, from the list of what waits.
    waiting = await coordinator.get("/publication")
    assert "Unreviewed public visit" in waiting.text and "Sách cổ số hoá" in waiting.text
    published = await coordinator.form("/publication/summary", {"summary": made["public"]["Chuyến thăm công khai"], "decision": "publish"})
    assert published.status_code == 303
    assert (
        await coordinator.form("/publication/progress", {"progress": made["public"]["Sách cổ số hoá"], "decision": "publish"})
    ).status_code == 303
    return made


async def test_a_signed_out_crawl_finds_only_what_is_public(app, db, anonymous, client_for, world, people):
    made = await _world(db, client_for, world, people)
    app.state.settings = dataclasses.replace(app.state.settings, portal=True)
    seen: dict[str, str] = {}
    queue, records = ["/portal"], set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        response = await anonymous.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"].startswith("public")
        seen[path] = response.text
        if response.headers["content-type"].startswith("text/html"):
            records |= set(re.findall(r'data-record="(\w+):([0-9a-f-]{36})"', response.text))
            _, links = read_page(response.text)
            queue += [link.split("#")[0] for link in links if link.startswith("/portal") and link.split("#")[0] not in seen]
    assert {"/portal", "/portal/visits", "/portal/agreements", "/portal/projects", "/portal/partners", "/portal/feed.atom"} <= set(seen)
    # Every record a page names is one the rule allows…
    allowed = {
        ("agreement", made["public"]["PUB-NLC"]),
        ("visit", made["public"]["Chuyến thăm công khai"]),
        ("project", made["public"]["Sách cổ số hoá"]),
    }
    allowed |= {("institution", str(i)) for i in (world.nlc,)}
    assert {(kind, record_id) for kind, record_id in records if kind != "institution"} <= allowed
    assert allowed - {("institution", str(world.nlc))} <= records  # …and every public one is there
    # …and nothing of any other record appears anywhere: not its reference, title, people or partner.
    everything = "\n".join(seen.values())
    for words in [*made["hidden"], "Émilie Cachée", "National Library of France", "National Diet Library", "Title of PARTIES-BNF"]:
        assert words not in everything, words
    for record_id in made["hidden"].values():
        assert record_id not in everything
    assert "Rong Jie" in seen[f"/portal/visits/{made['public']['Chuyến thăm công khai']}"]  # a public visit names its people
    # A hidden record's address is not found, like any unknown one.
    assert (await anonymous.get(f"/portal/visits/{made['hidden']['Secret visit of the BnF']}")).status_code == 404
    assert (await anonymous.get(f"/portal/visits/{made['hidden']['Planned public visit']}")).status_code == 404
    assert (await anonymous.get("/portal/nothing")).status_code == 404


async def test_the_portal_speaks_the_readers_language_and_feeds_atom(app, db, anonymous, client_for, world, people):
    made = await _world(db, client_for, world, people)
    app.state.settings = dataclasses.replace(app.state.settings, portal=True)
    french = await anonymous.get("/portal", headers={"Accept-Language": "fr"})
    assert '<html lang="fr"' in french.text and "Coopération internationale" in french.text
    chinese = await anonymous.get("/portal/visits", headers={"Accept-Language": "zh-CN"})
    assert "来访与出访" in chinese.text and "Chuyến thăm công khai" in chinese.text
    feed = await anonymous.get("/portal/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    atom = ElementTree.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = atom.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == ["Chuyến thăm công khai"]
    assert entries[0].findtext("a:id", namespaces=ns) == f"urn:uuid:{made['public']['Chuyến thăm công khai']}"
    assert entries[0].find("a:link", ns).get("href").endswith(f"/portal/visits/{made['public']['Chuyến thăm công khai']}")
    # The map is drawn here, shapes and all; nothing on the page comes from another site.
    picture = await anonymous.get("/portal/map.svg", headers={"Accept-Encoding": "gzip"})
    assert picture.headers["content-type"] == "image/svg+xml" and b"<svg" in picture.content
    page = (await anonymous.get("/portal")).text
    assert not re.search(r'(src|href)="https?://', page.replace('href="https://www.nlc.cn', ""))


async def test_portal_pages_cost_a_few_queries_and_are_kept_a_minute(app, db, anonymous, client_for, world, people):
    made = await _world(db, client_for, world, people)
    app.state.settings = dataclasses.replace(app.state.settings, portal=True)
    with QueryCounter(app) as first:
        assert (await anonymous.get("/portal")).status_code == 200
    assert first.count <= 15
    with QueryCounter(app) as again:
        assert (await anonymous.get("/portal")).status_code == 200
    assert again.count == 1  # kept: the second reader costs one indexed read (has anything changed since?)
    coordinator = await client_for("coordinator")
    visit_id = made["public"]["Chuyến thăm công khai"]
    assert (await coordinator.form("/publication/summary", {"summary": visit_id, "decision": "keep"})).status_code == 303
    gone = await anonymous.get("/portal")  # taken back: gone at the next request, not a minute later
    assert "Chuyến thăm công khai" not in gone.text
